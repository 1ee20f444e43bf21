package rollout

import (
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// Outcome is the result of an analysis check.
type Outcome int

// Outcomes.
const (
	Pass Outcome = iota + 1
	Fail
	Inconclusive
)

// String names the outcome, for logs.
func (o Outcome) String() string {
	switch o {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Inconclusive:
		return "inconclusive"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Verdict is an analysis check's result.
type Verdict struct {
	Outcome Outcome
	// Reason says what was measured against what, for people.
	Reason string
	// Value is what the query measured; nil when it measured nothing
	// (no data, an error, too few requests).
	Value *float64
}

// Input is everything a decision depends on.
type Input struct {
	// Now is the decision time.
	Now time.Time
	// Service is the live Service.
	Service *servingv1.Service
	// Policy is its delivery policy; PolicyErr is set when it does not parse.
	Policy    policy.Policy
	PolicyErr error
	// State is the live rollout state.
	State policy.State
	// Revision is the readiness of the revision the phase waits on: the
	// candidate, or the stable revision while adopting.
	Revision kservice.Revision
	// Stable is the stable revision as the cluster has it, read only for a
	// rollback (nil: not read; a rollback asks for it with ReadStable): a
	// rollback to a revision that no longer exists (garbage-collected)
	// cannot put traffic anywhere.
	Stable *kservice.Revision
	// Check is the analysis verdict, when the caller ran it (after a RunCheck plan).
	Check *Verdict
	// Committed is the manifest.committed event being handled, if any.
	Committed *eventing.ManifestCommitted
}

// Plan is what to do.
type Plan struct {
	// RunCheck asks the caller to run the analysis and decide again.
	RunCheck bool
	// ReadStable asks the caller to read the stable revision into
	// Input.Stable and decide again: a rollback is decided.
	ReadStable bool
	// Traffic and State are the traffic (nil: unchanged) and rollout state
	// decided. Who writes them depends on the traffic writer: Change, or
	// promote on receiving Reply.
	Traffic []eventing.TrafficTarget
	State   *policy.State
	// Patch asks the caller to patch the live Service with Change.
	Patch  bool
	Change kservice.Change
	// Reply is the follow-up event, if any.
	Reply eventing.Data
	// WaitUntil is when the next decision is due, when one is.
	WaitUntil *time.Time
	// Reason says why, for the log.
	Reason string
}

func wait(reason string, until *time.Time) Plan { return Plan{Reason: reason, WaitUntil: until} }

// patchState writes a state (and traffic) to the live Service. Only the
// cluster writer keeps the state there; see write for the git writer.
func patchState(traffic []eventing.TrafficTarget, st *policy.State, reason string) Plan {
	return Plan{Patch: true, Traffic: traffic, State: st, Change: kservice.Change{Traffic: traffic, State: st}, Reason: reason}
}

// gitOwnsState reports whether the rollout state annotation is Git's: with
// the git traffic writer a GitOps tool puts back whatever the cluster holds
// differently, so rollout changes it only through promote.
func gitOwnsState(in Input) bool { return in.PolicyErr != nil || in.Policy.Writer == policy.WriterGit }

func at(t time.Time) *time.Time { return &t }

// active reports whether a phase still needs decisions.
func active(p policy.Phase) bool {
	switch p {
	case policy.Adopting, policy.Pending, policy.Progressing, policy.Paused:
		return true
	}
	return false
}

// Decide is the whole of rollout's judgement. It does no I/O and reads no
// clock. Each state it writes is stamped with when its phase began
// (policy.Stamp).
func Decide(in Input) Plan {
	p := decide(in)
	for _, st := range []*policy.State{p.State, p.Change.State, p.Change.Rollback} {
		policy.Stamp(in.State, st, in.Now)
	}
	return p
}

func decide(in Input) Plan {
	s, live := in.State, in.Service
	if c := in.Committed; c != nil && in.PolicyErr == nil && in.Policy.Writer == policy.WriterCluster &&
		c.CandidateRevision != "" && c.CandidateRevision != s.Candidate && c.CandidateRevision != s.Stable {
		// With the cluster writer the GitOps tool leaves the state annotation
		// to the cluster (ignoreDifferences), so a new candidate arrives here.
		st := policy.State{Phase: policy.Pending, Stable: c.StableRevision, Candidate: c.CandidateRevision, CandidateImage: c.Image,
			StartedAt: at(in.Now), Reason: "candidate committed in " + c.Commit[:7]}
		if s.Stable == c.StableRevision {
			st.StableImage = s.StableImage
		}
		// A new candidate mid-rollout starts over: all traffic back on
		// stable at once, the old candidate's share and counters gone.
		var traffic []eventing.TrafficTarget
		if c.StableRevision != "" {
			traffic = []eventing.TrafficTarget{{RevisionName: c.StableRevision, Percent: 100, Tag: "stable"}, {RevisionName: c.CandidateRevision, Percent: 0, Tag: "candidate"}}
		}
		return clearControls(in, patchState(traffic, &st, st.Reason))
	}
	if c := in.Committed; c != nil && startsCandidate(c) && len(manualControls(in)) > 0 {
		// A new candidate starts a new rollout: controls meant for the one
		// before must not act on it (git writer; the cluster writer above).
		p := wait("a new candidate was committed; clearing "+strings.Join(manualControls(in), ", ")+": they acted on the rollout before", nil)
		return clearControls(in, p)
	}
	if p, ok := guard(in); ok {
		return p
	}
	if in.PolicyErr == nil {
		if l := templateCandidate(live, s); l != "" && fresh(live, s, in.Revision) {
			return templateChanged(in, l)
		}
	}
	if !active(s.Phase) {
		p := wait(fmt.Sprintf("no active rollout (phase %q)", s.Phase), nil)
		if controls := manualControls(in); len(controls) > 0 {
			// A control acts on one rollout: with none running, it is stale
			// and would otherwise act on the next candidate.
			p.Reason += "; clearing " + strings.Join(controls, ", ") + ": it acts on a rollout in progress only"
			p = clearControls(in, p)
		}
		return p
	}
	if in.PolicyErr != nil {
		reason := "stopped: " + in.PolicyErr.Error()
		if s.Reason == reason || gitOwnsState(in) {
			return wait(reason, nil)
		}
		st := s
		st.Reason = reason
		return patchState(nil, &st, reason)
	}
	if live.Generation != live.Status.ObservedGeneration {
		return wait(fmt.Sprintf("Knative has not reconciled generation %d yet (observed %d)", live.Generation, live.Status.ObservedGeneration), nil)
	}
	if s.Phase == policy.Adopting {
		return adopting(in)
	}
	if live.Status.LatestCreatedRevisionName != s.Candidate {
		reason := fmt.Sprintf("the cluster's latest revision is %q, not candidate %s yet", live.Status.LatestCreatedRevisionName, s.Candidate)
		return notCreated(in, reason)
	}
	ann := live.Annotations
	if reason := ann[policy.AnnotationAbort]; reason != "" {
		return rollBack(in, "aborted by "+policy.AnnotationAbort+": "+reason)
	}
	paused := ann[policy.AnnotationPaused] == "true"
	if ann[policy.AnnotationPromote] == "now" && !paused {
		if !in.Revision.Ready {
			return wait("promotion requested; candidate not Ready yet", nil)
		}
		return promote(in, "promoted by "+policy.AnnotationPromote)
	}
	switch {
	case paused && s.Phase != policy.Paused:
		st := s
		st.Phase, st.Reason = policy.Paused, "paused by "+policy.AnnotationPaused
		return write(in, nil, &st, "paused")
	case paused:
		return wait("paused by "+policy.AnnotationPaused, nil)
	case s.Phase == policy.Paused && s.HeldByAnalysis && ann[policy.AnnotationPaused] != "false":
		return wait(s.Reason, nil)
	case s.Phase == policy.Paused && stepsChanged(in):
		return restartSteps(in)
	case s.Phase == policy.Paused:
		st := s
		st.Phase, st.Reason, st.HeldByAnalysis, st.Inconclusive = policy.Pending, "resumed", false, 0
		if st.Step > 0 {
			st.Phase = policy.Progressing
			st.StepStartedAt = at(in.Now) // the pause of the step starts again
		}
		p := write(in, nil, &st, "resumed")
		if _, ok := ann[policy.AnnotationPaused]; ok {
			// paused: "false" resumed a hold; it has done its work, and a
			// later hold of this rollout must wait for a person again.
			p.Patch = true
			p.Change.Remove = append(p.Change.Remove, policy.AnnotationPaused)
		}
		return p
	}
	if s.Phase == policy.Pending {
		return pending(in)
	}
	return progressing(in)
}

// adopting waits for the pinned stable revision, then reports it promoted so
// promote puts the waiting image in.
func adopting(in Input) Plan {
	s := in.State
	if in.Service.Status.LatestCreatedRevisionName != s.Stable || !in.Revision.Ready {
		return wait(fmt.Sprintf("adoption: waiting for %s to be Ready", s.Stable), nil)
	}
	return Plan{Reply: eventing.RolloutPromoted{Namespace: in.Service.Namespace, Service: in.Service.Name, Revision: s.Stable, Image: s.StableImage},
		Reason: "adoption: " + s.Stable + " is Ready and stable"}
}

func pending(in Input) Plan {
	s, rev := in.State, in.Revision
	if rev.Found && !rev.Ready {
		return notReady(in, "candidate not Ready yet")
	}
	if !rev.Ready {
		return notCreated(in, "candidate revision not created yet")
	}
	if s.Stable == "" {
		return promote(in, "first deploy is Ready")
	}
	return shift(in, 1)
}

// notReady holds while the candidate is not Ready — Ready=Unknown or False
// alike: Knative reports False while pods wait for a node or after a first
// crash, then True again — but only up to the progress deadline from when
// it stopped being Ready (or was created); then the rollout rolls back with
// the Revision's reason.
func notReady(in Input, reason string) Plan {
	rev := in.Revision
	since := rev.Since
	if since.Before(rev.Created) {
		since = rev.Created
	}
	deadline := since.Add(in.Policy.ProgressDeadline)
	if !in.Now.Before(deadline) {
		return rollBack(in, fmt.Sprintf("candidate %s not Ready for the progress deadline of %s (%s)", in.State.Candidate, in.Policy.ProgressDeadline, rev.Reason))
	}
	if rev.Reason != "" {
		reason += " (" + rev.Reason + ")"
	}
	return wait(reason, at(deadline))
}

// notCreated waits for the cluster to create the candidate, but not past the
// progress deadline counted from when it was committed: a template Knative
// refuses, or a sync that fails, never creates it, and the rollout must not
// wait for it forever.
func notCreated(in Input, reason string) Plan {
	s := in.State
	if s.StartedAt == nil || s.Phase != policy.Pending {
		return wait(reason, nil)
	}
	deadline := s.StartedAt.Add(in.Policy.ProgressDeadline)
	if !in.Now.Before(deadline) {
		return rollBack(in, fmt.Sprintf("candidate %s not created within the progress deadline of %s (%s)", s.Candidate, in.Policy.ProgressDeadline, reason))
	}
	return wait(reason, at(deadline))
}

func progressing(in Input) Plan {
	s, pol := in.State, in.Policy
	if s.Step < 1 || stepsChanged(in) {
		return restartSteps(in)
	}
	want := stepTraffic(s, pol.Steps[s.Step-1])
	if !shows(in.Service.Status.Traffic, want) {
		if in.Policy.Writer == policy.WriterGit && !shows(in.Service.Spec.Traffic, want) {
			// The step's commit has not reached the cluster: say it again (same id; promote commits once).
			return Plan{Reply: shifted(in, s, want), Reason: fmt.Sprintf("waiting for step %d to reach the cluster", s.Step)}
		}
		return wait(fmt.Sprintf("waiting for the cluster to show step %d", s.Step), nil)
	}
	if !in.Revision.Ready {
		// Before the route's conditions: a candidate that is not Ready makes
		// Knative report the Service not Ready too, and the hold must still
		// end at the progress deadline.
		return notReady(in, "candidate not Ready; holding the step")
	}
	if why := routed(in.Service); why != "" {
		// status.traffic is written before the ingress is programmed; the
		// step is live only once the Route says so, for this generation.
		return wait(fmt.Sprintf("step %d is in the route's status, but %s", s.Step, why), nil)
	}
	if s.StepStartedAt == nil {
		st := s
		st.StepStartedAt = at(in.Now)
		st.Reason = fmt.Sprintf("step %d of %d is live", s.Step, len(pol.Steps))
		return write(in, want, &st, st.Reason)
	}
	end := s.StepStartedAt.Add(pol.Pauses[s.Step-1])
	pausing := in.Now.Before(end)
	pauseWait := wait(fmt.Sprintf("step %d pausing until %s", s.Step, end.Format(time.RFC3339)), at(end))
	if a := pol.Analysis; a != nil {
		// Checks run every interval throughout the step, not only at its
		// end (Flagger does the same), so a spike during the pause fails
		// the rollout early; the step ends on a passing check.
		checkedThisStep := s.CheckedAt != nil && !s.CheckedAt.Before(*s.StepStartedAt)
		due := s.StepStartedAt.Add(a.Interval)
		if checkedThisStep {
			due = s.CheckedAt.Add(a.Interval)
		}
		if pausing && in.Now.Before(due) {
			return wait(fmt.Sprintf("step %d pausing until %s, next analysis check %s", s.Step, end.Format(time.RFC3339), due.Format(time.RFC3339)), at(earliest(end, due)))
		}
		if !pausing && checkedThisStep && in.Now.Before(due) {
			return wait("next analysis check", at(due))
		}
		if in.Check == nil {
			return Plan{RunCheck: true, Reason: "analysis due"}
		}
		st := s
		st.CheckedAt, st.LastCheck, st.LastValue = at(in.Now), in.Check.Outcome.String()+": "+in.Check.Reason, in.Check.Value
		switch in.Check.Outcome {
		case Fail:
			st.FailedChecks++
			st.Inconclusive = 0 // inconclusive checks count in a row
			if st.FailedChecks > a.FailureLimit {
				in.State = st
				return rollBack(in, fmt.Sprintf("analysis failed %d times (limit %d): %s", st.FailedChecks, a.FailureLimit, in.Check.Reason))
			}
			st.Reason = fmt.Sprintf("analysis failed (%d of %d allowed): %s", st.FailedChecks, a.FailureLimit, in.Check.Reason)
			return write(in, want, &st, st.Reason)
		case Inconclusive:
			st.Inconclusive++
			if st.Inconclusive > a.InconclusiveLimit {
				reason := fmt.Sprintf("analysis inconclusive %d times in a row (limit %d): %s", st.Inconclusive, a.InconclusiveLimit, in.Check.Reason)
				if a.InconclusiveAction == policy.InconclusiveRollBack {
					in.State = st
					return rollBack(in, reason)
				}
				// Hold for a person, as Argo Rollouts does: nothing proves the
				// candidate bad, so its digest is not quarantined.
				st.Phase, st.HeldByAnalysis = policy.Paused, true
				st.Reason = reason + `; held for a person: slipstream.dev/paused: "false" resumes, promote: now or abort ends it`
				return write(in, want, &st, st.Reason)
			}
			st.Reason = "analysis inconclusive, waiting: " + in.Check.Reason
			return write(in, want, &st, st.Reason)
		}
		st.Inconclusive = 0
		if pausing {
			// A pass mid-step changes nothing to record: remembered (not a
			// commit with the git writer), and the next check is an interval on.
			st.Reason = fmt.Sprintf("step %d: analysis passed (%s)", s.Step, in.Check.Reason)
			p := wait(st.Reason, at(earliest(end, st.CheckedAt.Add(a.Interval))))
			p.State = &st
			if !gitOwnsState(in) {
				p.Patch, p.Change = true, kservice.Change{State: &st}
			}
			return p
		}
		in.State.Inconclusive = 0
		in.State.CheckedAt, in.State.LastCheck, in.State.LastValue = st.CheckedAt, st.LastCheck, st.LastValue
	} else if pausing {
		return pauseWait
	}
	if s.Step == len(pol.Steps) {
		return promote(in, fmt.Sprintf("all %d steps passed", len(pol.Steps)))
	}
	return shift(in, s.Step+1)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// stepsChanged reports whether the policy's steps are no longer the ones
// the rollout started with (policy.State.StepsChanged).
func stepsChanged(in Input) bool { return in.State.StepsChanged(in.Policy.Steps) }

// restartSteps starts the steps over at step 1 when they changed under the
// rollout, as Argo Rollouts does, rather than guess where the old step falls.
func restartSteps(in Input) Plan {
	p := shift(in, 1)
	p.Reason = fmt.Sprintf("the steps changed (%s, now %s): starting over at step 1", policy.StepsText(in.State.Steps), policy.StepsText(in.Policy.Steps))
	return p
}

// stepTraffic is the traffic of a step: the candidate's percent, the stable
// revision the rest.
func stepTraffic(s policy.State, percent int) []eventing.TrafficTarget {
	return []eventing.TrafficTarget{
		{RevisionName: s.Stable, Percent: 100 - percent, Tag: "stable"},
		{RevisionName: s.Candidate, Percent: percent, Tag: "candidate"},
	}
}

// routed says why the live Service's traffic is not yet served as its
// status says, or "": the Service must be Ready with RoutesReady True, as
// Knative reports once the ingress is programmed for the generation it
// observed (Decide already waits for observedGeneration).
func routed(live *servingv1.Service) string {
	for _, c := range []apis.ConditionType{servingv1.ServiceConditionRoutesReady, servingv1.ServiceConditionReady} {
		cond := live.Status.GetCondition(c)
		if cond == nil || !cond.IsTrue() {
			why := fmt.Sprintf("%s is not True", c)
			if cond != nil && cond.Reason != "" {
				why += " (" + cond.Reason + ")"
			}
			return why
		}
	}
	return ""
}

// shows reports whether a traffic block gives every target of want its percent.
func shows(got []servingv1.TrafficTarget, want []eventing.TrafficTarget) bool {
	for _, w := range want {
		pct := 0
		for _, g := range got {
			if g.RevisionName == w.RevisionName && g.Percent != nil {
				pct += int(*g.Percent)
			}
		}
		if pct != w.Percent {
			return false
		}
	}
	return true
}

// write records a state (and traffic) the way the Service's writer wants:
// a patch of the live Service (cluster), or a traffic.shifted that promote
// commits (git). Before the first step the git writer records nothing: the
// annotations that pause a rollout are read again at every decision.
func write(in Input, traffic []eventing.TrafficTarget, st *policy.State, reason string) Plan {
	if !gitOwnsState(in) {
		return patchState(traffic, st, reason)
	}
	if st.Step == 0 {
		return wait(reason, nil)
	}
	if traffic == nil {
		if st.Step > len(in.Policy.Steps) {
			// The steps changed while paused: hold what the Service has; the
			// steps start over when the rollout resumes.
			return wait(reason+"; the steps changed, they start over when resumed", nil)
		}
		traffic = stepTraffic(*st, in.Policy.Steps[st.Step-1])
	}
	return Plan{Reply: shifted(in, *st, traffic), State: st, Reason: reason}
}

func shifted(in Input, st policy.State, traffic []eventing.TrafficTarget) eventing.TrafficShifted {
	return eventing.TrafficShifted{Namespace: in.Service.Namespace, Service: in.Service.Name, StableRevision: st.Stable,
		CandidateRevision: st.Candidate, Step: st.Step, Steps: len(in.Policy.Steps), Traffic: traffic, State: st.String()}
}

// shift moves to step j.
func shift(in Input, j int) Plan {
	st := in.State
	st.Phase, st.Step, st.StepStartedAt, st.Reason = policy.Progressing, j, nil, fmt.Sprintf("step %d of %d", j, len(in.Policy.Steps))
	st.Steps = in.Policy.Steps
	traffic := stepTraffic(st, in.Policy.Steps[j-1])
	p := Plan{Traffic: traffic, State: &st, Reply: shifted(in, st, traffic), Reason: st.Reason}
	if !gitOwnsState(in) {
		p.Patch, p.Change = true, kservice.Change{Traffic: traffic, State: &st}
	}
	return p
}

// promote makes the candidate stable at 100%.
func promote(in Input, reason string) Plan {
	s := in.State
	st := policy.State{Phase: policy.Promoted, Stable: s.Candidate, StableImage: s.CandidateImage, PreviousStable: s.Stable,
		PreviousStableImage: s.StableImage, StartedAt: s.StartedAt, PromotedAt: at(in.Now), FailedChecks: s.FailedChecks, Reason: reason}
	traffic := []eventing.TrafficTarget{{RevisionName: s.Candidate, Percent: 100, Tag: "stable"}}
	p := Plan{Traffic: traffic, State: &st, Reason: reason,
		Reply: eventing.RolloutPromoted{Namespace: in.Service.Namespace, Service: in.Service.Name, Revision: s.Candidate, PreviousRevision: s.Stable, Image: s.CandidateImage}}
	if !gitOwnsState(in) {
		p.Patch, p.Change = true, kservice.Change{Traffic: traffic, State: &st}
	}
	return clearControls(in, p)
}

// templateCandidate names the revision that may have been made from a
// template slipstream did not write — a person changed the template in Git
// — or "": the latest created revision of the reconciled Service, when the
// state names it neither as the stable revision nor as the candidate and no
// rollback record has rolled it back. It is a first look, from the Service
// alone; fresh decides, with the revision read.
func templateCandidate(live *servingv1.Service, s policy.State) string {
	if live == nil || live.Generation != live.Status.ObservedGeneration {
		return ""
	}
	switch s.Phase {
	case policy.Pending, policy.Progressing, policy.Paused, policy.Promoted, policy.RolledBack:
	default:
		return ""
	}
	l := live.Status.LatestCreatedRevisionName
	if l == "" || l == s.Candidate || l == s.Stable {
		return ""
	}
	if rb, err := policy.ParseState(live.Annotations[policy.AnnotationRollback]); err == nil && rb.Phase == policy.RolledBack && rb.Candidate == l {
		return ""
	}
	return l
}

// fresh reports whether rev, the latest created revision, was made from the
// live template and after the rollout in progress started — a new template,
// not a stale status: Knative reports the previous latest revision while
// its Configuration catches up or cannot create the new one (the Service's
// observedGeneration moves anyway), and with the cluster writer the commit
// event can put a candidate in the state before the sync that creates it.
func fresh(live *servingv1.Service, s policy.State, rev kservice.Revision) bool {
	if !rev.Found || rev.Name != live.Status.LatestCreatedRevisionName {
		return false
	}
	tmpl := live.Spec.Template.Spec.DeepCopy()
	if tmpl.EnableServiceLinks == nil {
		// Knative defaults it when a Revision is created, but on a Service
		// only when the Service is: a template can lack what its revision has.
		tmpl.EnableServiceLinks = rev.Spec.EnableServiceLinks
	}
	if !equality.Semantic.DeepEqual(rev.Spec, *tmpl) {
		return false
	}
	if s.Phase == policy.Pending && s.StartedAt != nil && rev.Created.Before(s.StartedAt.Truncate(time.Second)) {
		return false
	}
	return true
}

// templateChanged starts a rollout of revision l, made from a template a
// person changed, as a push starts one: a Pending candidate beside the
// stable revision at 0% (a rollout in progress starts over: its candidate's
// share goes), the manual controls of the rollout before cleared. With the
// cluster writer the state and traffic are patched; with the git writer
// promote commits them (traffic.shifted at step 0), and pins the name when
// the person deleted it. A revision that runs a quarantined digest is not
// rolled out.
func templateChanged(in Input, l string) Plan {
	s, rev := in.State, in.Revision
	image := ""
	if len(rev.Spec.Containers) > 0 {
		image = rev.Spec.Containers[0].Image
	}
	digest := rev.Digest // as Knative resolved the image, when it names a tag only
	if _, d, ok := strings.Cut(image, "@"); ok {
		digest = d
	}
	if digest != "" && in.Policy.Quarantined(digest) {
		return wait(fmt.Sprintf("revision %s (a template changed outside slipstream) runs %s, which is in %s: not rolled out", l, digest, policy.AnnotationQuarantine), nil)
	}
	started := rev.Created
	st := policy.State{Phase: policy.Pending, Stable: s.Stable, StableImage: s.StableImage, Candidate: l, CandidateImage: image, StartedAt: &started,
		Reason: fmt.Sprintf("the template changed outside slipstream (revision %s): rolling it out as a candidate", l)}
	if st.Stable == "" {
		// Nothing serves yet (a first deploy that failed): nothing to
		// protect, and no traffic block to commit before it is Ready.
		if !gitOwnsState(in) {
			return clearControls(in, patchState(nil, &st, st.Reason))
		}
		next := in
		next.State, next.Committed = st, nil
		return clearControls(in, decide(next))
	}
	traffic := []eventing.TrafficTarget{{RevisionName: st.Stable, Percent: 100, Tag: policy.TagStable}, {RevisionName: l, Percent: 0, Tag: policy.TagCandidate}}
	if !gitOwnsState(in) {
		return clearControls(in, patchState(traffic, &st, st.Reason))
	}
	return clearControls(in, Plan{Traffic: traffic, State: &st, Reply: shifted(in, st, traffic), Reason: st.Reason})
}

// startsCandidate reports whether a commit put a new candidate in: an image
// push, or the end of an adoption that puts the waiting image in.
func startsCandidate(c *eventing.ManifestCommitted) bool {
	return c.CandidateRevision != "" && (c.CauseType == eventing.TypeImagePushed || c.CauseType == eventing.TypeRolloutPromoted)
}

// manualControls lists the manual controls set on the live Service.
func manualControls(in Input) []string {
	var out []string
	for _, a := range []string{policy.AnnotationPaused, policy.AnnotationPromote, policy.AnnotationAbort} {
		if _, ok := in.Service.Annotations[a]; ok {
			out = append(out, a)
		}
	}
	return out
}

// clearControls removes the manual controls with the plan's patch: each
// acts on one rollout, so the end of that rollout (promoted or rolled back,
// by hand or not) clears them, and the next candidate starts without.
func clearControls(in Input, p Plan) Plan {
	if controls := manualControls(in); len(controls) > 0 {
		p.Patch = true
		p.Change.Remove = append(p.Change.Remove, controls...)
	}
	return p
}

// rollBack puts all traffic on the stable revision, in the cluster first
// whatever the writer (it must be fast), and tells promote to revert Git.
// The rollback is recorded in slipstream.dev/rollback, which Git never
// holds, so no sync of the Git that still shows the step can undo it
// (LiveState); with the cluster writer the rollout state records it too.
func rollBack(in Input, reason string) Plan {
	s := in.State
	if s.Stable == "" {
		st := s
		st.Phase, st.Reason = policy.RolledBack, "first deploy failed, nothing to roll back to: "+reason
		if gitOwnsState(in) {
			return wait(st.Reason, nil)
		}
		return patchState(nil, &st, st.Reason)
	}
	if in.Stable == nil {
		return Plan{ReadStable: true, Reason: "rolling back (" + reason + "): reading stable revision " + s.Stable}
	}
	if !in.Stable.Found {
		// Knative would not route to a revision it no longer has: the patch
		// would leave traffic where it is and claim a rollback. Say so.
		return wait(fmt.Sprintf("cannot roll back (%s): stable revision %s no longer exists in the cluster (garbage-collected?); traffic stays as it is until a person acts", reason, s.Stable), nil)
	}
	// StartedAt binds the record to this rollout (policy.State.RollsBack).
	st := policy.State{Phase: policy.RolledBack, Stable: s.Stable, StableImage: s.StableImage, Candidate: s.Candidate, CandidateImage: s.CandidateImage,
		StartedAt: s.StartedAt, FailedChecks: s.FailedChecks, Reason: reason}
	traffic := []eventing.TrafficTarget{{RevisionName: s.Stable, Percent: 100, Tag: "stable"}}
	change := kservice.Change{Traffic: traffic, Rollback: &st}
	if !gitOwnsState(in) {
		change.State = &st
	}
	return clearControls(in, Plan{Patch: true, Traffic: traffic, State: &st, Change: change, Reason: reason,
		Reply: eventing.RolloutRolledBack{Namespace: in.Service.Namespace, Service: in.Service.Name, StableRevision: s.Stable,
			CandidateRevision: s.Candidate, Image: s.CandidateImage, Reason: reason}})
}

// guard keeps a rollback in place: when the live Service is rolled back
// (LiveState) but its traffic gives the rolled-back candidate a share again
// — a sync applied the Git that still shows the step, before promote's
// revert reached it — the traffic goes back to 100% stable at once.
func guard(in Input) (Plan, bool) {
	s := in.State
	if s.Phase != policy.RolledBack || s.Candidate == "" || s.Stable == "" || in.Service == nil {
		return Plan{}, false
	}
	share := 0
	for _, t := range in.Service.Spec.Traffic {
		if t.RevisionName == s.Candidate && t.Percent != nil {
			share += int(*t.Percent)
		}
	}
	if share == 0 {
		return Plan{}, false
	}
	traffic := []eventing.TrafficTarget{{RevisionName: s.Stable, Percent: 100, Tag: "stable"}}
	return Plan{Patch: true, Traffic: traffic, Change: kservice.Change{Traffic: traffic},
		Reason: fmt.Sprintf("%s was rolled back, but the traffic gives it %d%% again: back to 100%% on %s", s.Candidate, share, s.Stable)}, true
}
