package rollout

import (
	"fmt"
	"strings"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// Events is what a decision tells `kubectl describe ksvc`: one Kubernetes
// Event per transition (a step decided, a step live, a check's outcome, a
// pause, the promotion, a rollback), each keyed so that deciding the same
// again — a redelivery, a tick that finds the same — records nothing new.
func Events(in Input, p Plan) []kservice.Event {
	var out []kservice.Event
	was, cand, started := in.State, in.State.Candidate, in.State.StartedAt
	if p.State != nil && p.State.Candidate != "" {
		cand, started = p.State.Candidate, p.State.StartedAt
	}
	add := func(warning bool, reason, key, format string, a ...any) {
		out = append(out, kservice.Event{Warning: warning, Reason: reason, Key: kservice.EventKey(reason, cand, started, key), Note: fmt.Sprintf(format, a...)})
	}
	if st := p.State; st != nil {
		if st.CheckedAt != nil && st.LastCheck != "" && (was.CheckedAt == nil || !was.CheckedAt.Equal(*st.CheckedAt)) {
			outcome, what, _ := strings.Cut(st.LastCheck, ": ")
			reason := map[string]string{"pass": "AnalysisPassed", "fail": "AnalysisFailed", "inconclusive": "AnalysisInconclusive"}[outcome]
			if reason != "" {
				add(outcome != "pass", reason, st.CheckedAt.UTC().Format("20060102T150405.000"), "step %d of %s: %s", st.Step, cand, what)
			}
		}
		if st.Phase == policy.Progressing && st.StepStartedAt != nil && was.StepStartedAt == nil && st.Step >= 1 {
			add(false, "StepLive", fmt.Sprint(st.Step), "step %d of %d is live: %s", st.Step, len(in.Policy.Steps), liveShares(in))
		}
		if st.Phase == policy.Paused && was.Phase != policy.Paused {
			add(false, "Paused", fmt.Sprint(st.Step), "%s", st.Reason)
		}
	}
	switch r := p.Reply.(type) {
	case eventing.TrafficShifted:
		if r.Step >= 1 && (p.State == nil || p.State.StepStartedAt == nil) {
			add(false, "StepShifted", fmt.Sprint(r.Step), "step %d of %d: %s", r.Step, r.Steps, eventing.TrafficText(r.Traffic))
		}
	case eventing.RolloutPromoted:
		add(false, "Promoted", r.Revision, "%s is stable at 100%% (image %s); %s was", r.Revision, r.Image, orNone(r.PreviousRevision))
	case eventing.RolloutRolledBack:
		add(true, "RolledBack", r.StableRevision, "%s rolled back, 100%% on %s: %s", r.CandidateRevision, r.StableRevision, r.Reason)
	}
	return out
}

// liveShares is the split Knative routes, as the Service's status says.
func liveShares(in Input) string {
	if in.Service == nil {
		return ""
	}
	parts := make([]string, 0, len(in.Service.Status.Traffic))
	for _, t := range in.Service.Status.Traffic {
		if t.Percent != nil {
			parts = append(parts, fmt.Sprintf("%s %d%%", t.RevisionName, *t.Percent))
		}
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
