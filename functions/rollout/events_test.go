package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/policy"
)

// TestEvents: each transition a decision makes is one Event, keyed by the
// rollout's candidate and what makes it that transition; a decision that
// changes nothing records none.
func TestEvents(t *testing.T) {
	pol := gitPolicy(t, policy.AnnotationTrafficWriter, "cluster", policy.AnnotationAnalysisQuery, "errors", policy.AnnotationAnalysisMax, "0.01",
		policy.AnnotationAnalysisFailures, "2")
	plain := gitPolicy(t, policy.AnnotationTrafficWriter, "cluster")
	mid := func(ago time.Duration) Input {
		return Input{Now: t0, Service: live(showing(tt(75))), Policy: plain, State: state(policy.Progressing, 2, at(t0.Add(-ago))), Revision: ready, Stable: &ready}
	}
	tests := []struct {
		name   string
		in     Input
		reason string // "" for no event
		key    string
		warn   bool
		says   string
	}{
		{name: "pausing: nothing", in: mid(10 * time.Second)},
		{name: "the pause is over: the next step", in: mid(2 * time.Minute), reason: "StepShifted", key: "StepShifted/" + cand + "@/3", says: "step 3 of 4"},
		{name: "the step is live", in: func() Input { in := mid(0); in.State.StepStartedAt = nil; return in }(), reason: "StepLive", key: "StepLive/" + cand + "@/2", says: "step 2 of 4 is live"},
		{name: "a failed check", in: func() Input {
			in := mid(2 * time.Minute)
			in.Policy, in.Check = pol, &Verdict{Outcome: Fail, Reason: "errors = 0.05, above the maximum 0.01"}
			return in
		}(), reason: "AnalysisFailed", warn: true, says: "errors = 0.05"},
		{name: "aborted: rolled back", in: func() Input {
			in := mid(0)
			in.Service = live(showing(tt(75)), ann(policy.AnnotationAbort, "bad smell"))
			return in
		}(), reason: "RolledBack", key: "RolledBack/" + cand + "@/" + stable, warn: true, says: "bad smell"},
		{name: "a rollout of the same candidate started later: its own key", in: func() Input {
			in := mid(2 * time.Minute)
			in.State.StartedAt = at(t0.Add(-time.Hour))
			return in
		}(), reason: "StepShifted", key: "StepShifted/" + cand + "@" + t0.Add(-time.Hour).UTC().Format("20060102T150405.000000000") + "/3", says: "step 3 of 4"},
		{name: "the last step passed: promoted", in: func() Input {
			in := Input{Now: t0, Service: live(showing(tt(0))), Policy: plain, State: state(policy.Progressing, 4, at(t0.Add(-2*time.Minute))), Revision: ready, Stable: &ready}
			return in
		}(), reason: "Promoted", key: "Promoted/" + cand + "@/" + cand, says: "stable at 100%"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.in)
			evs := Events(tc.in, p)
			if tc.reason == "" {
				if len(evs) != 0 {
					t.Errorf("events %+v for %q, want none", evs, p.Reason)
				}
				return
			}
			if len(evs) != 1 || evs[0].Reason != tc.reason || evs[0].Warning != tc.warn || (tc.key != "" && evs[0].Key != tc.key) || !strings.Contains(evs[0].Note, tc.says) {
				t.Errorf("events %+v for %q; want one %s (warning %v, key %q) saying %q", evs, p.Reason, tc.reason, tc.warn, tc.key, tc.says)
			}
			if again := Events(tc.in, p); again[0].Key != evs[0].Key {
				t.Errorf("the same decision made another key: %q, %q", evs[0].Key, again[0].Key)
			}
		})
	}
}
