package rollout

import (
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/google/go-cmp/cmp"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

const (
	stable = "hello-aa11bb22cc"
	cand   = "hello-3f2a9c01b2"
)

func tt(stablePct int) []eventing.TrafficTarget {
	return []eventing.TrafficTarget{{RevisionName: stable, Percent: stablePct, Tag: "stable"}, {RevisionName: cand, Percent: 100 - stablePct, Tag: "candidate"}}
}

// The live Service's variations the decision table uses.
var (
	lag = testutil.WithGeneration(5, 4) // Knative has not reconciled the last change
	ann = testutil.WithAnnotation
)

func created(name string) testutil.ServiceOption { return testutil.WithLatest(name, "") }

// stableImage is the stable revision's image; personImage puts it in the
// live template: a person changed the configuration, not the image.
const stableImage = "r.example.com/hello:1.0.0@sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"

var personImage = testutil.WithImage(stableImage)

// person is the revision hello-greeting Knative made of that template a
// second ago.
func person(ready bool) kservice.Revision {
	return kservice.Revision{Found: true, Ready: ready, Created: t0.Add(-time.Second), Name: "hello-greeting",
		Spec: live(personImage).Spec.Template.Spec}
}

func showing(ts []eventing.TrafficTarget) testutil.ServiceOption {
	return testutil.WithStatusTraffic(ts...)
}
func spec(ts []eventing.TrafficTarget) testutil.ServiceOption { return testutil.WithSpecTraffic(ts...) }

// live is the live Service with the candidate created and all traffic on stable.
func live(opts ...testutil.ServiceOption) *servingv1.Service {
	return testutil.Service("demo", "hello", append([]testutil.ServiceOption{
		testutil.WithGeneration(4, 4),
		testutil.WithLatest(cand, ""),
		testutil.WithTraffic(tt(100)...),
		testutil.WithRouted(),
	}, opts...)...)
}

func gitPolicy(t *testing.T, kv ...string) policy.Policy {
	t.Helper()
	a := map[string]string{policy.AnnotationTrack: "any", policy.AnnotationPause: "1m"}
	for i := 0; i+1 < len(kv); i += 2 {
		a[kv[i]] = kv[i+1]
	}
	p, err := policy.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func state(phase policy.Phase, step int, started *time.Time) policy.State {
	return policy.State{Phase: phase, Stable: stable, StableImage: "r.example.com/hello:1.0.0@sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66", Candidate: cand,
		CandidateImage: "r.example.com/hello:1.4.0@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d", Step: step, StepStartedAt: started}
}

var (
	ready    = kservice.Revision{Found: true, Ready: true, Created: t0.Add(-time.Minute)}
	starting = kservice.Revision{Found: true, Created: t0.Add(-time.Minute), Reason: "Deploying"}
	failed   = kservice.Revision{Found: true, Failed: true, Created: t0.Add(-time.Minute), Reason: "ImagePullBackOff: not found"}
)

func TestDecide(t *testing.T) {
	cluster := func(t *testing.T, kv ...string) policy.Policy {
		return gitPolicy(t, append([]string{policy.AnnotationTrafficWriter, "cluster"}, kv...)...)
	}
	analysis := []string{policy.AnnotationAnalysisQuery, `errors{rev="{{.Revision}}"}`, policy.AnnotationAnalysisMax, "0.01",
		policy.AnnotationAnalysisFailures, "1", policy.AnnotationAnalysisWaits, "2", policy.AnnotationAnalysisInterval, "30s"}
	started := func(ago time.Duration) *time.Time { return at(t0.Add(-ago)) }
	checked := func(s policy.State, ago time.Duration, failed, inconclusive int) policy.State {
		s.CheckedAt, s.FailedChecks, s.Inconclusive = at(t0.Add(-ago)), failed, inconclusive
		return s
	}
	type want struct {
		patch    bool
		runCheck bool
		traffic  []eventing.TrafficTarget
		phase    policy.Phase
		step     int
		reply    string // event type
		waitFor  time.Duration
		reason   string
		removed  []string // annotations the patch removes
	}
	tests := []struct {
		name       string
		in         Input
		want       want
		check      func(t *testing.T, p Plan) // more, where a row needs it
		stableGone bool                       // the stable revision is no longer in the cluster
	}{
		{
			name: "a rollback to a stable revision that no longer exists: reported, nothing patched",
			in: Input{Now: t0, Service: live(showing(tt(75)), ann(policy.AnnotationAbort, "bad smell")), Policy: cluster(t),
				State: state(policy.Progressing, 2, started(time.Second)), Revision: ready},
			stableGone: true,
			want:       want{reason: "cannot roll back (aborted by slipstream.dev/abort: bad smell): stable revision hello-aa11bb22cc no longer exists"},
		},
		{
			name: "promoted: nothing to do",
			in:   Input{Service: live(), Policy: cluster(t), State: policy.State{Phase: policy.Promoted, Stable: cand}},
			want: want{reason: "no active rollout"},
		},
		{
			name: "invalid policy stops with a reason, writing nothing (the writer is unknown: Git may own the state)",
			in:   Input{Service: live(), PolicyErr: errors.New("invalid delivery policy: x"), State: state(policy.Progressing, 1, nil)},
			want: want{reason: "stopped: invalid delivery policy"},
		},
		{
			name: "reconciler lag",
			in:   Input{Service: live(lag), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: ready},
			want: want{reason: "not reconciled generation 5"},
		},
		{
			name: "template not applied yet",
			in:   Input{Service: live(created("hello-00001")), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: ready},
			want: want{reason: "not candidate"},
		},
		{
			name: "a new candidate mid-rollout (cluster writer): all traffic back on stable, start over",
			in: Input{Service: live(spec(tt(75)), showing(tt(75))), Policy: cluster(t), State: state(policy.Progressing, 2, started(time.Second)),
				Committed: &eventing.ManifestCommitted{Namespace: "demo", Service: "hello", Commit: strings.Repeat("c", 40), Path: "apps/hello.yaml",
					Image: "r.example.com/hello:1.5.0@sha256:" + strings.Repeat("c", 64), StableRevision: stable, CandidateRevision: "hello-cccccccccc"}},
			want: want{patch: true, phase: policy.Pending, reason: "candidate committed",
				traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}, {RevisionName: "hello-cccccccccc", Percent: 0, Tag: "candidate"}}},
		},
		{
			name: "the candidate is not created yet, within the progress deadline: wait for it",
			in: Input{Service: live(created("hello-00001")), Policy: cluster(t),
				State: func() policy.State {
					st := state(policy.Pending, 0, nil)
					st.StartedAt = started(time.Minute)
					return st
				}()},
			want: want{waitFor: 9 * time.Minute, reason: "not candidate"},
		},
		{
			name: "the candidate was never created (a template Knative refused): rolled back at the progress deadline",
			in: Input{Service: live(created("hello-00001")), Policy: cluster(t),
				State: func() policy.State {
					st := state(policy.Pending, 0, nil)
					st.StartedAt = started(11 * time.Minute)
					return st
				}()},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "not created within the progress deadline"},
		},
		{
			name: "pending: not ready, within the deadline",
			in:   Input{Service: live(), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: starting},
			want: want{waitFor: 9 * time.Minute, reason: "not Ready yet"},
		},
		{
			name: "pending: past the progress deadline",
			in:   Input{Service: live(), Policy: cluster(t, policy.AnnotationProgressDeadline, "30s"), State: state(policy.Pending, 0, nil), Revision: starting},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "progress deadline"},
		},
		{
			name: "pending: Ready=False (pods waiting for a node, a first crash) is retried until the progress deadline",
			in:   Input{Service: live(), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: failed},
			want: want{waitFor: 9 * time.Minute, reason: "ImagePullBackOff"},
		},
		{
			name: "pending: Ready=False past the progress deadline: rolled back with the reason",
			in: Input{Service: live(), Policy: cluster(t), State: state(policy.Pending, 0, nil),
				Revision: kservice.Revision{Found: true, Failed: true, Created: t0.Add(-20 * time.Minute), Since: t0.Add(-11 * time.Minute), Reason: "ImagePullBackOff: not found"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "ImagePullBackOff"},
		},
		{
			name: "pending: ready, cluster writer patches step 1",
			in:   Input{Service: live(), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: ready},
			want: want{patch: true, traffic: tt(90), phase: policy.Progressing, step: 1, reply: eventing.TypeTrafficShifted},
		},
		{
			name: "pending: ready, git writer asks promote",
			in:   Input{Service: live(), Policy: gitPolicy(t), State: state(policy.Pending, 0, nil), Revision: ready},
			want: want{traffic: tt(90), phase: policy.Progressing, step: 1, reply: eventing.TypeTrafficShifted},
		},
		{
			name: "first deploy ready: promoted",
			in:   Input{Service: live(), Policy: cluster(t), State: policy.State{Phase: policy.Pending, Candidate: cand, CandidateImage: "r.example.com/x@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"}, Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted, reply: eventing.TypeRolloutPromoted},
		},
		{
			name: "step not shown yet (cluster)",
			in:   Input{Service: live(spec(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, nil), Revision: ready},
			want: want{reason: "waiting for the cluster to show step 1"},
		},
		{
			name: "step not in Git's manifest yet (git): said again",
			in:   Input{Service: live(), Policy: gitPolicy(t), State: state(policy.Progressing, 1, nil), Revision: ready},
			want: want{reply: eventing.TypeTrafficShifted, reason: "reach the cluster"},
		},
		{
			name: "the route's status shows the step, but the ingress is not programmed yet: not live",
			in: Input{Now: t0, Service: live(spec(tt(90)), showing(tt(90)), testutil.WithConditions(corev1.ConditionUnknown, "IngressNotConfigured")),
				Policy: cluster(t), State: state(policy.Progressing, 1, nil), Revision: ready},
			want: want{reason: "RoutesReady is not True (IngressNotConfigured)"},
		},
		{
			name: "step shown: the pause starts (cluster)",
			in:   Input{Now: t0, Service: live(spec(tt(90)), showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, nil), Revision: ready},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "step 1 of 4 is live"},
		},
		{
			name: "step shown: the pause starts (git)",
			in:   Input{Now: t0, Service: live(spec(tt(90)), showing(tt(90))), Policy: gitPolicy(t), State: state(policy.Progressing, 1, nil), Revision: ready},
			want: want{phase: policy.Progressing, step: 1, reply: eventing.TypeTrafficShifted, reason: "is live"},
		},
		{
			name: "pausing",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, started(20*time.Second)), Revision: ready},
			want: want{waitFor: 40 * time.Second, reason: "pausing"},
		},
		{
			name: "pause over: step 2",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready},
			want: want{patch: true, traffic: tt(75), phase: policy.Progressing, step: 2, reply: eventing.TypeTrafficShifted},
		},
		{
			name: "candidate not ready mid-rollout: hold the step, until the progress deadline",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Minute)), Revision: starting},
			want: want{reason: "holding", waitFor: 9 * time.Minute},
		},
		{
			name: "candidate Ready=False mid-rollout for a moment: hold the step",
			in: Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Minute)),
				Revision: kservice.Revision{Found: true, Failed: true, Created: t0.Add(-time.Hour), Since: t0.Add(-10 * time.Second), Reason: "ContainerCrashing"}},
			want: want{reason: "holding", waitFor: 10*time.Minute - 10*time.Second},
		},
		{
			name: "candidate not Ready mid-rollout past the progress deadline: rolled back",
			in: Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Minute)),
				Revision: kservice.Revision{Found: true, Created: t0.Add(-time.Hour), Since: t0.Add(-10 * time.Minute), Reason: "ContainerCrashing"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "not Ready for the progress deadline"},
		},
		{
			name: "last step over: promoted",
			in:   Input{Now: t0, Service: live(showing(tt(0))), Policy: cluster(t), State: state(policy.Progressing, 4, started(time.Minute)), Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted, reply: eventing.TypeRolloutPromoted},
		},
		{
			name: "analysis due",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready},
			want: want{runCheck: true},
		},
		{
			name: "analysis passes: next step",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready, Check: &Verdict{Outcome: Pass, Reason: "ok"}},
			want: want{patch: true, traffic: tt(75), phase: policy.Progressing, step: 2, reply: eventing.TypeTrafficShifted},
		},
		{
			name: "analysis fails within the limit",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready, Check: &Verdict{Outcome: Fail, Reason: "errors = 0.2"}},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "analysis failed (1 of 1 allowed)"},
		},
		{
			name: "analysis checked recently: wait for the interval",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(time.Minute)), 10*time.Second, 1, 0), Revision: ready},
			want: want{waitFor: 20 * time.Second, reason: "next analysis check"},
		},
		{
			name: "analysis fails beyond the limit: rolled back",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(time.Minute)), 40*time.Second, 1, 0), Revision: ready, Check: &Verdict{Outcome: Fail, Reason: "errors = 0.2, above the maximum 0.01"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "above the maximum 0.01"},
		},
		{
			name: "analysis inconclusive: wait",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready, Check: &Verdict{Outcome: Inconclusive, Reason: "no data"}},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "inconclusive, waiting"},
		},
		{
			name: "analysis inconclusive too long: held for a person (the default), the digest not quarantined",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(2*time.Minute)), time.Minute, 0, 2), Revision: ready, Check: &Verdict{Outcome: Inconclusive, Reason: "no data"}},
			want: want{patch: true, phase: policy.Paused, step: 1, reason: "held for a person"},
		},
		{
			name: "analysis inconclusive too long with analysis-inconclusive-action rollback: rolled back",
			in: Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, append(analysis, policy.AnnotationAnalysisGiveUp, "rollback")...),
				State: checked(state(policy.Progressing, 1, started(2*time.Minute)), time.Minute, 0, 2), Revision: ready, Check: &Verdict{Outcome: Inconclusive, Reason: "no data"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "inconclusive 3 times"},
		},
		{
			name: "held by analysis: stays paused until a person decides",
			in: Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...),
				State: func() policy.State {
					st := state(policy.Paused, 1, started(time.Hour))
					st.HeldByAnalysis, st.Reason = true, "held"
					return st
				}(), Revision: ready},
			want: want{reason: "held"},
		},
		{
			name: `held by analysis: slipstream.dev/paused: "false" resumes, the count starts again`,
			in: Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPaused, "false")), Policy: cluster(t, analysis...),
				State: func() policy.State {
					st := state(policy.Paused, 1, started(time.Hour))
					st.HeldByAnalysis, st.Inconclusive = true, 3
					return st
				}(), Revision: ready},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "resumed", removed: []string{policy.AnnotationPaused}},
			check: func(t *testing.T, p Plan) {
				if p.State.HeldByAnalysis || p.State.Inconclusive != 0 {
					t.Errorf("resumed state still held or counting: %s", p.State)
				}
			},
		},
		{
			name: "held by analysis: promote: now ends the hold",
			in: Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPromote, "now")), Policy: cluster(t, analysis...),
				State: func() policy.State {
					st := state(policy.Paused, 1, started(time.Hour))
					st.HeldByAnalysis = true
					return st
				}(), Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted,
				reply: eventing.TypeRolloutPromoted, removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "mid-rollout the candidate turns Ready=False and Knative marks the Service not Ready: held only until the deadline",
			in: Input{Now: t0, Service: live(showing(tt(90)), testutil.WithConditions(corev1.ConditionFalse, "RevisionFailed")), Policy: cluster(t),
				State:    state(policy.Progressing, 1, started(time.Hour)),
				Revision: kservice.Revision{Found: true, Failed: true, Created: t0.Add(-2 * time.Hour), Since: t0.Add(-11 * time.Minute), Reason: "ContainerCrashing"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "not Ready for the progress deadline"},
		},
		{
			name: "a new candidate committed (git writer): a promote: now left for the rollout before is cleared",
			in: Input{Now: t0, Service: live(ann(policy.AnnotationPromote, "now")), Policy: gitPolicy(t), State: state(policy.Progressing, 2, started(time.Second)),
				Committed: &eventing.ManifestCommitted{Namespace: "demo", Service: "hello", Commit: strings.Repeat("c", 40), Path: "apps/hello.yaml",
					Image: "r.example.com/hello:1.5.0@sha256:" + strings.Repeat("c", 64), StableRevision: stable, CandidateRevision: "hello-cccccccccc", CauseType: eventing.TypeImagePushed}},
			want: want{patch: true, reason: "a new candidate was committed", removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "analysis due during the pause: checks run every interval, not only at the end",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(40*time.Second)), Revision: ready},
			want: want{runCheck: true},
		},
		{
			name: "not due yet during the pause: wait for the check or the end of the pause",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(40*time.Second)), 25*time.Second, 0, 0), Revision: ready},
			want: want{waitFor: 5 * time.Second, reason: "next analysis check"},
		},
		{
			name: "a failed check during the pause, beyond the limit: rolled back early",
			in: Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(40*time.Second)), 35*time.Second, 1, 0),
				Revision: ready, Check: &Verdict{Outcome: Fail, Reason: "errors = 0.3, above the maximum 0.01"}},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "analysis failed 2 times"},
		},
		{
			name: "a passing check during the pause: recorded, the step goes on",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: state(policy.Progressing, 1, started(40*time.Second)), Revision: ready, Check: &Verdict{Outcome: Pass, Reason: "ok"}},
			want: want{patch: true, phase: policy.Progressing, step: 1, waitFor: 20 * time.Second, reason: "analysis passed"},
		},
		{
			name: "a passing check during the pause (git writer): remembered, no commit",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: gitPolicy(t, analysis...), State: state(policy.Progressing, 1, started(40*time.Second)), Revision: ready, Check: &Verdict{Outcome: Pass, Reason: "ok"}},
			want: want{phase: policy.Progressing, step: 1, waitFor: 20 * time.Second, reason: "analysis passed"},
		},
		{
			name: "a failed check ends a run of inconclusive ones: the run starts again",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t, analysis...), State: checked(state(policy.Progressing, 1, started(time.Minute)), 40*time.Second, 0, 2), Revision: ready, Check: &Verdict{Outcome: Fail, Reason: "errors = 0.2"}},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "analysis failed (1 of 1 allowed)"},
			check: func(t *testing.T, p Plan) {
				if p.State.Inconclusive != 0 {
					t.Errorf("inconclusive %d after a conclusive check, want 0", p.State.Inconclusive)
				}
			},
		},

		{
			name: "the steps shrank while paused (git writer): still paused, no index past the end",
			in: Input{Now: t0, Service: live(showing(tt(50)), ann(policy.AnnotationPaused, "true")), Policy: gitPolicy(t, policy.AnnotationSteps, "50,100"),
				State: state(policy.Progressing, 3, started(time.Minute))},
			want: want{reason: "the steps changed, they start over when resumed"},
		},
		{
			name: "the steps shrank while paused, then resumed: the steps start over",
			in: Input{Now: t0, Service: live(showing(tt(50))), Policy: gitPolicy(t, policy.AnnotationSteps, "50,100"),
				State: state(policy.Paused, 3, started(time.Minute)), Revision: ready},
			want: want{traffic: tt(50), phase: policy.Progressing, step: 1, reply: eventing.TypeTrafficShifted, reason: "the steps changed"},
		},
		{
			name: "the steps changed mid-rollout: start over at step 1 of the new steps",
			in: Input{Now: t0, Service: live(showing(tt(75))), Policy: cluster(t, policy.AnnotationSteps, "5,50,100"),
				State: func() policy.State {
					st := state(policy.Progressing, 2, started(time.Minute))
					st.Steps = []int{10, 25, 50, 100}
					return st
				}(), Revision: ready},
			want: want{patch: true, traffic: tt(95), phase: policy.Progressing, step: 1, reply: eventing.TypeTrafficShifted, reason: "the steps changed (10,25,50,100, now 5,50,100)"},
		},
		{
			name: "manual pause",
			in:   Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPaused, "true")), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Minute)), Revision: ready},
			want: want{patch: true, phase: policy.Paused, step: 1, reason: "paused"},
		},
		{
			name: "still paused",
			in:   Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPaused, "true")), Policy: cluster(t), State: state(policy.Paused, 1, started(time.Hour)), Revision: ready},
			want: want{reason: "paused by"},
		},
		{
			name: "resumed: the pause starts again",
			in:   Input{Now: t0, Service: live(showing(tt(90))), Policy: cluster(t), State: state(policy.Paused, 1, started(time.Hour)), Revision: ready},
			want: want{patch: true, phase: policy.Progressing, step: 1, reason: "resumed"},
		},
		{
			name: "abort",
			in: Input{Now: t0, Service: live(showing(tt(75)), ann(policy.AnnotationAbort, "bad smell")), Policy: gitPolicy(t),
				State: func() policy.State {
					st := state(policy.Progressing, 2, started(time.Second))
					st.StartedAt = started(time.Hour)
					return st
				}(), Revision: ready},
			want: want{patch: true, traffic: tt(100)[:1], phase: policy.RolledBack, reply: eventing.TypeRolloutRolledBack, reason: "bad smell",
				removed: []string{policy.AnnotationAbort}},
			check: func(t *testing.T, p Plan) {
				if rb := p.Change.Rollback; rb == nil || rb.StartedAt == nil || !rb.StartedAt.Equal(*started(time.Hour)) {
					t.Errorf("rollback record %v is not bound to the rollout that started %v", rb, started(time.Hour))
				}
			},
		},
		{
			name: "rolled back (git writer, Git not reverted yet): a sync gave the candidate its share back, it goes back to stable",
			in: Input{Now: t0, Service: live(spec(tt(90)), showing(tt(90))), Policy: gitPolicy(t),
				State: policy.State{Phase: policy.RolledBack, Stable: stable, Candidate: cand, Reason: "alert"}, Revision: ready},
			want: want{patch: true, traffic: tt(100)[:1], reason: "back to 100% on " + stable},
		},
		{
			name: "rolled back, traffic on stable: nothing to do",
			in: Input{Now: t0, Service: live(), Policy: gitPolicy(t),
				State: policy.State{Phase: policy.RolledBack, Stable: stable, Candidate: cand, Reason: "alert"}, Revision: ready},
			want: want{reason: "no active rollout"},
		},
		{
			name: "promote now",
			in:   Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPromote, "now")), Policy: cluster(t), State: state(policy.Progressing, 1, started(time.Second)), Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted, reply: eventing.TypeRolloutPromoted,
				removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "promote now (git writer): promote records it in Git; the control is cleared in the cluster",
			in:   Input{Now: t0, Service: live(showing(tt(90)), ann(policy.AnnotationPromote, "now")), Policy: gitPolicy(t), State: state(policy.Progressing, 1, started(time.Second)), Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted, reply: eventing.TypeRolloutPromoted,
				removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "a pause left on a rollout that ended is cleared with its end",
			in:   Input{Now: t0, Service: live(showing(tt(0)), ann(policy.AnnotationPaused, "false")), Policy: cluster(t), State: state(policy.Progressing, 4, started(time.Minute)), Revision: ready},
			want: want{patch: true, traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, phase: policy.Promoted, reply: eventing.TypeRolloutPromoted,
				removed: []string{policy.AnnotationPaused}},
		},
		{
			name: "abort set with no rollout in progress: cleared, so it cannot roll back the next push",
			in:   Input{Now: t0, Service: live(ann(policy.AnnotationAbort, "oops")), Policy: gitPolicy(t), State: policy.State{Phase: policy.Promoted, Stable: cand}},
			want: want{patch: true, reason: "clearing " + policy.AnnotationAbort, removed: []string{policy.AnnotationAbort}},
		},
		{
			name: "promote now set with no rollout in progress: cleared, so it cannot skip the next push's steps",
			in:   Input{Now: t0, Service: live(ann(policy.AnnotationPromote, "now")), Policy: cluster(t), State: policy.State{Phase: policy.RolledBack, Stable: stable, Candidate: cand}},
			want: want{patch: true, reason: "clearing " + policy.AnnotationPromote, removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "promote now, candidate not ready",
			in:   Input{Now: t0, Service: live(ann(policy.AnnotationPromote, "now")), Policy: cluster(t), State: state(policy.Pending, 0, nil), Revision: starting},
			want: want{reason: "not Ready yet"},
		},
		{
			name: "a template a person changed (cluster writer): its revision becomes the candidate, at 0% beside stable",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage), Policy: cluster(t), State: policy.State{Phase: policy.Promoted, Stable: stable},
				Revision: person(false)},
			want: want{patch: true, phase: policy.Pending, reason: "the template changed outside slipstream (revision hello-greeting)",
				traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}, {RevisionName: "hello-greeting", Percent: 0, Tag: "candidate"}}},
			check: func(t *testing.T, p Plan) {
				if p.State.Candidate != "hello-greeting" || p.State.Stable != stable || p.State.CandidateImage != stableImage || p.Change.State == nil {
					t.Errorf("state %s (written: %v), want hello-greeting the candidate beside %s, with its revision's image", p.State, p.Change.State != nil, stable)
				}
			},
		},
		{
			name: "a template a person changed (git writer): promote commits it at 0% (step 0), no patch",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage), Policy: gitPolicy(t), State: policy.State{Phase: policy.Promoted, Stable: stable},
				Revision: person(true)},
			want: want{reply: eventing.TypeTrafficShifted, phase: policy.Pending,
				traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}, {RevisionName: "hello-greeting", Percent: 0, Tag: "candidate"}}},
			check: func(t *testing.T, p Plan) {
				if d := p.Reply.(eventing.TrafficShifted); d.CandidateRevision != "hello-greeting" || d.Step != 0 || p.State.StartedAt == nil || !p.State.StartedAt.Equal(t0.Add(-time.Second)) {
					t.Errorf("step %d for %s, started %v; want step 0 of hello-greeting, started when Knative created it", d.Step, d.CandidateRevision, p.State.StartedAt)
				}
			},
		},
		{
			name: "a template a person changed mid-rollout (git writer): the commit puts the old candidate's share back on stable",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage, spec(tt(75)), showing(tt(75))), Policy: gitPolicy(t),
				State: state(policy.Progressing, 2, started(time.Minute)), Revision: person(true)},
			want: want{reply: eventing.TypeTrafficShifted, phase: policy.Pending,
				traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}, {RevisionName: "hello-greeting", Percent: 0, Tag: "candidate"}}},
		},
		{
			name: "a template a person changed (cluster writer) while Pending on another: the newer revision is the candidate",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage), Policy: cluster(t),
				State: policy.State{Phase: policy.Pending, Stable: stable, Candidate: cand, StartedAt: started(time.Minute)}, Revision: person(false)},
			want: want{patch: true, phase: policy.Pending, reason: "revision hello-greeting"},
		},
		{
			name: "cluster writer, Pending on a commit not applied yet: the older latest revision is not a new template",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage), Policy: cluster(t),
				State:    policy.State{Phase: policy.Pending, Stable: stable, Candidate: cand, StartedAt: started(time.Second)},
				Revision: func() kservice.Revision { r := person(false); r.Created = t0.Add(-time.Hour); return r }()},
			want: want{reason: "not candidate " + cand + " yet"},
		},
		{
			name: "a stale latest revision (Knative's Configuration catching up): not made from the live template, nothing started",
			in: Input{Now: t0, Service: live(created("hello-greeting"), testutil.WithImage("r.example.com/hello:1.5.0@sha256:"+strings.Repeat("c", 64))),
				Policy: gitPolicy(t), State: policy.State{Phase: policy.Promoted, Stable: stable}, Revision: person(true)},
			want: want{reason: "no active rollout"},
		},
		{
			name: "a template a person changed runs a quarantined digest: not rolled out",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage),
				Policy: gitPolicy(t, policy.AnnotationQuarantine, "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"),
				State:  policy.State{Phase: policy.Promoted, Stable: stable}, Revision: person(true)},
			want: want{reason: "which is in " + policy.AnnotationQuarantine + ": not rolled out"},
		},
		{
			name: "a template a person changed (git writer) while a promote: now waits: cleared with the step-0 commit",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage, ann(policy.AnnotationPromote, "now")), Policy: gitPolicy(t),
				State: policy.State{Phase: policy.Promoted, Stable: stable}, Revision: person(true)},
			want: want{patch: true, reply: eventing.TypeTrafficShifted, phase: policy.Pending, removed: []string{policy.AnnotationPromote}},
		},
		{
			name: "the revision a rollback record rolled back is not a new template",
			in: Input{Now: t0, Service: live(created("hello-greeting"), personImage, ann(policy.AnnotationRollback,
				policy.State{Phase: policy.RolledBack, Stable: stable, Candidate: "hello-greeting", Reason: "alert"}.String())), Policy: gitPolicy(t),
				State: policy.State{Phase: policy.Promoted, Stable: stable}, Revision: person(true)},
			want: want{reason: "no active rollout"},
		},
		{
			name: "adopting: stable not ready",
			in:   Input{Now: t0, Service: live(created(stable)), Policy: gitPolicy(t), State: policy.State{Phase: policy.Adopting, Stable: stable, StableImage: "r.example.com/x:1"}, Revision: starting},
			want: want{reason: "adoption: waiting"},
		},
		{
			name: "adopting: stable ready",
			in:   Input{Now: t0, Service: live(created(stable)), Policy: gitPolicy(t), State: policy.State{Phase: policy.Adopting, Stable: stable, StableImage: "r.example.com/x:1"}, Revision: ready},
			want: want{reply: eventing.TypeRolloutPromoted, reason: "adoption"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.in.Now.IsZero() {
				tc.in.Now = t0
			}
			if tc.stableGone {
				tc.in.Stable = &kservice.Revision{}
			} else {
				tc.in.Stable = &ready
			}
			p := Decide(tc.in)
			w := tc.want
			if p.Patch != w.patch || p.RunCheck != w.runCheck {
				t.Errorf("patch %v runCheck %v, want %v %v (%s)", p.Patch, p.RunCheck, w.patch, w.runCheck, p.Reason)
			}
			if w.traffic != nil {
				if diff := cmp.Diff(w.traffic, p.Traffic); diff != "" {
					t.Errorf("traffic (-want +got):\n%s", diff)
				}
			}
			if w.phase != "" && (p.State == nil || p.State.Phase != w.phase || p.State.Step != w.step) {
				t.Errorf("state %+v, want phase %s step %d", p.State, w.phase, w.step)
			}
			if got := replyType(p.Reply); got != w.reply {
				t.Errorf("reply %q, want %q", got, w.reply)
			}
			if w.waitFor > 0 && (p.WaitUntil == nil || !p.WaitUntil.Equal(tc.in.Now.Add(w.waitFor))) {
				t.Errorf("wait until %v, want now+%s", p.WaitUntil, w.waitFor)
			}
			if !strings.Contains(p.Reason, w.reason) {
				t.Errorf("reason %q, want %q", p.Reason, w.reason)
			}
			if diff := cmp.Diff(w.removed, p.Change.Remove); diff != "" {
				t.Errorf("annotations removed (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
			checkInvariants(t, tc.in, p)
		})
	}
}

// checkInvariants holds for every decision: percents sum to 100, traffic goes
// only to a Ready candidate, a step never goes backwards except to roll back,
// every reply validates (the steps start over only when they changed).
func checkInvariants(t *testing.T, in Input, p Plan) {
	t.Helper()
	if p.Traffic != nil {
		sum := 0
		candidate := in.State.Candidate // the revision in.Revision describes
		if p.State != nil && p.State.Candidate != "" {
			candidate = p.State.Candidate // a new candidate (a template change): in.Revision is its
		}
		for _, x := range p.Traffic {
			sum += x.Percent
			if x.RevisionName == candidate && x.Percent > 0 && !in.Revision.Ready {
				t.Errorf("invariant: %d%% to candidate %s, which is not Ready", x.Percent, x.RevisionName)
			}
		}
		if sum != 100 {
			t.Errorf("invariant: traffic sums to %d", sum)
		}
	}
	if p.State != nil && p.State.Phase == policy.Progressing && p.State.Step < in.State.Step && !stepsChanged(in) {
		t.Errorf("invariant: step went back from %d to %d", in.State.Step, p.State.Step)
	}
	if p.Reply != nil {
		if err := p.Reply.Validate(); err != nil {
			t.Errorf("invariant: the reply does not validate: %v", err)
		}
	}
	gitWriter := in.PolicyErr != nil || in.Policy.Writer == policy.WriterGit
	if gitWriter && p.Change.State != nil {
		t.Errorf("invariant: with the git writer Git owns %s, but the plan writes it (%s)", policy.AnnotationRollout, p.Change.State)
	}
	if !p.Patch && (p.Change.Traffic != nil || p.Change.State != nil || p.Change.Rollback != nil) {
		t.Error("invariant: a change without a patch")
	}
	if p.Patch && p.State != nil && p.State.Phase == policy.RolledBack && p.State.Stable != "" && p.Change.Rollback == nil {
		t.Errorf("invariant: a rollback in the cluster must be recorded in %s", policy.AnnotationRollback)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[Outcome]string{Pass: "pass", Fail: "fail", Inconclusive: "inconclusive", Outcome(0): "Outcome(0)"} {
		if got := o.String(); got != want {
			t.Errorf("Outcome(%d).String() = %q, want %q", int(o), got, want)
		}
	}
}

// TestARollbackReadsTheStableRevisionFirst: the stable revision is read
// only when a rollback is decided; until it is, the plan asks for it and
// changes nothing.
func TestARollbackReadsTheStableRevisionFirst(t *testing.T) {
	in := Input{Now: t0, Service: live(showing(tt(75)), ann(policy.AnnotationAbort, "bad smell")), Policy: gitPolicy(t, policy.AnnotationTrafficWriter, "cluster"),
		State: state(policy.Progressing, 2, at(t0.Add(-time.Second))), Revision: ready}
	p := Decide(in)
	if !p.ReadStable || p.Patch || p.Reply != nil || p.State != nil {
		t.Fatalf("without the stable revision: %+v; want only a request to read it", p)
	}
	in.Stable = &ready
	p = Decide(in)
	if p.ReadStable || !p.Patch || p.State == nil || p.State.Phase != policy.RolledBack {
		t.Errorf("with the stable revision: %+v; want the rollback", p)
	}
}

// TestAChecksOutcomeIsRecorded: the state keeps the last check's outcome
// and what it measured (slipstream status shows it), through a failed
// check and through the step that a passing one ends.
func TestAChecksOutcomeIsRecorded(t *testing.T) {
	pol := gitPolicy(t, policy.AnnotationTrafficWriter, "cluster", policy.AnnotationAnalysisQuery, "errors", policy.AnnotationAnalysisMax, "0.01",
		policy.AnnotationAnalysisFailures, "2")
	in := Input{Now: t0, Service: live(showing(tt(75))), Policy: pol, State: state(policy.Progressing, 2, at(t0.Add(-2*time.Minute))),
		Revision: ready, Stable: &ready, Check: &Verdict{Outcome: Fail, Reason: "errors = 0.05, above the maximum 0.01"}}
	p := Decide(in)
	if p.State == nil || p.State.LastCheck != "fail: errors = 0.05, above the maximum 0.01" || p.State.CheckedAt == nil || !p.State.CheckedAt.Equal(t0) {
		t.Fatalf("after a failed check: %+v", p.State)
	}
	in.Check = &Verdict{Outcome: Pass, Reason: "errors = 0.001 within bounds"}
	p = Decide(in)
	if p.State == nil || p.State.Step != 3 || p.State.LastCheck != "pass: errors = 0.001 within bounds" {
		t.Errorf("after the passing check that ends the step: %+v", p.State)
	}
}
