package steer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

var started = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func progressing(phase policy.Phase) policy.State {
	return policy.State{Phase: phase, Stable: "hello-00001", StableImage: "r.example/hello:1.0.0@sha256:" + strings.Repeat("a", 64),
		Candidate: "hello-00002", CandidateImage: "r.example/hello:1.1.0@sha256:" + strings.Repeat("b", 64),
		Steps: []int{10, 25, 50, 100}, Step: 2, StartedAt: &started, Reason: "step 2 of 4 is live"}
}

func TestDecide(t *testing.T) {
	held := progressing(policy.Paused)
	held.HeldByAnalysis, held.Reason = true, "analysis inconclusive 3 times in a row"
	pending := progressing(policy.Pending)
	pending.Step = 0
	tests := []struct {
		name    string
		cmd     Command
		st      *policy.State
		ann     map[string]string
		reason  string
		set     map[string]string
		remove  []string
		next    []string
		refused string
	}{
		{name: "pause a step", cmd: Pause, st: ptr(progressing(policy.Progressing)), set: map[string]string{policy.AnnotationPaused: "true"}, next: []string{"holds hello-00002 at step 2/4 (25%)", "slipstream resume hello"}},
		{name: "pause before the first step", cmd: Pause, st: &pending, set: map[string]string{policy.AnnotationPaused: "true"}, next: []string{"hello-00002 before its first step"}},
		{name: "pause twice", cmd: Pause, st: ptr(progressing(policy.Paused)), ann: map[string]string{policy.AnnotationPaused: "true"}, next: []string{"already paused"}},
		{name: "pause a hold", cmd: Pause, st: &held, refused: "already held hello-00002 at step 2/4 (25%) by its inconclusive analysis"},
		{name: "pause a promoted Service", cmd: Pause, st: &policy.State{Phase: policy.Promoted, Stable: "hello-00002", Reason: "all steps passed"}, refused: "no rollout in progress to pause (phase Promoted: all steps passed)"},
		{name: "pause while adopting", cmd: Pause, st: &policy.State{Phase: policy.Adopting, PendingImage: "r.example/hello:1.2.0"}, refused: "promote is adopting the running revision as stable (r.example/hello:1.2.0 waits)"},
		{name: "resume a person's pause", cmd: Resume, st: ptr(progressing(policy.Paused)), ann: map[string]string{policy.AnnotationPaused: "true"}, remove: []string{policy.AnnotationPaused}, next: []string{"resumes hello-00002 at step 2/4"}},
		{name: "resume a pause rollout has not seen", cmd: Resume, st: ptr(progressing(policy.Progressing)), ann: map[string]string{policy.AnnotationPaused: "true"}, remove: []string{policy.AnnotationPaused}},
		{name: "resume a hold", cmd: Resume, st: &held, set: map[string]string{policy.AnnotationPaused: "false"}, next: []string{"inconclusive count at zero"}},
		{name: "resume a hold a person also paused", cmd: Resume, st: &held, ann: map[string]string{policy.AnnotationPaused: "true"}, set: map[string]string{policy.AnnotationPaused: "false"}},
		{name: "resume a hold twice", cmd: Resume, st: &held, ann: map[string]string{policy.AnnotationPaused: "false"}, next: []string{"already resuming"}},
		{name: "resume what is not paused", cmd: Resume, st: ptr(progressing(policy.Progressing)), refused: "not paused (phase Progressing, hello-00002 at step 2/4 (25%)): nothing to resume"},
		{name: "promote", cmd: Promote, st: ptr(progressing(policy.Progressing)), set: map[string]string{policy.AnnotationPromote: "now"}, next: []string{"hello-00002 gets 100% of the traffic once Ready"}},
		{name: "promote while paused", cmd: Promote, st: ptr(progressing(policy.Paused)), ann: map[string]string{policy.AnnotationPaused: "true"}, set: map[string]string{policy.AnnotationPromote: "now"}, next: []string{"once resumed (slipstream resume hello)"}},
		{name: "promote a hold", cmd: Promote, st: &held, set: map[string]string{policy.AnnotationPromote: "now"}},
		{name: "promote twice", cmd: Promote, st: ptr(progressing(policy.Progressing)), ann: map[string]string{policy.AnnotationPromote: "now"}, next: []string{"already asked"}},
		{name: "promote a rolled-back Service", cmd: Promote, st: &policy.State{Phase: policy.RolledBack, Stable: "hello-00001", Candidate: "hello-00002"}, refused: "no rollout in progress to promote (phase RolledBack)"},
		{name: "abort", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: " latency doubled ", set: map[string]string{policy.AnnotationAbort: "latency doubled"},
			next: []string{"all traffic back to hello-00001 (1.0.0), and promote reverts Git to it and quarantines the digest of hello-00002 (1.1.0, sha256:bbbbbbbbbbbb…)"}},
		{name: "abort twice", cmd: Abort, st: ptr(progressing(policy.Progressing)), ann: map[string]string{policy.AnnotationAbort: "first"}, reason: "second", next: []string{"already aborted (first)"}},
		{name: "abort with no reason", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "  ", refused: "an abort needs a reason"},
		{name: "abort with a long reason", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: strings.Repeat("x", 257), refused: "the reason has 257 bytes, at most 256"},
		{name: "abort with an escape sequence", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "bad\x1b[31m", refused: "control characters"},
		{name: "abort with a C1 control", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "bad\u0085next", refused: "control characters"},
		{name: "abort with a bidi override", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "evil\u202etxt", refused: "bidirectional overrides"},
		{name: "abort with a line separator", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "one\u2028two", refused: "line separators"},
		{name: "abort in another script", cmd: Abort, st: ptr(progressing(policy.Progressing)), reason: "задержка выросла ×2", set: map[string]string{policy.AnnotationAbort: "задержка выросла ×2"}},
		{name: "an unmanaged Service", cmd: Pause, refused: "not managed by slipstream (no slipstream.dev/rollout annotation)"},
		{name: "a state that does not parse", cmd: Pause, ann: map[string]string{policy.AnnotationRollout: "{"}, refused: "is not rollout state JSON"},
		{name: "an unknown command", cmd: "skip", st: ptr(progressing(policy.Progressing)), refused: `unknown command "skip"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []testutil.ServiceOption
			if tt.st != nil {
				opts = append(opts, testutil.WithState(*tt.st))
			}
			for k, v := range tt.ann {
				opts = append(opts, testutil.WithAnnotation(k, v))
			}
			a, err := Decide(tt.cmd, testutil.Service("demo", "hello", opts...), tt.reason)
			if tt.refused != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.refused) || !strings.Contains(err.Error(), "demo/hello") {
					t.Fatalf("err = %v, want a refusal of demo/hello saying %q", err, tt.refused)
				}
				if a.Changes() {
					t.Errorf("a refusal sets %v, removes %v", a.Set, a.Remove)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(a.Set) != len(tt.set) || strings.Join(a.Remove, ",") != strings.Join(tt.remove, ",") {
				t.Errorf("set %v remove %v, want set %v remove %v", a.Set, a.Remove, tt.set, tt.remove)
			}
			for k, v := range tt.set {
				if a.Set[k] != v {
					t.Errorf("set %s = %q, want %q", k, a.Set[k], v)
				}
			}
			for _, want := range tt.next {
				if !strings.Contains(a.Next, want) {
					t.Errorf("next %q does not say %q", a.Next, want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// conflictOnce answers the first patch of the Service with a conflict, after
// change (if any) has changed the stored Service as another writer would.
func conflictOnce(cs *fake.Clientset, change func(*servingv1.Service)) *int {
	patches := 0
	cs.PrependReactor("patch", "services", func(a clienttesting.Action) (bool, runtime.Object, error) {
		patches++
		if patches > 1 {
			return false, nil, nil
		}
		if change != nil {
			obj, _ := cs.Tracker().Get(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}, "demo", "hello")
			svc := obj.(*servingv1.Service).DeepCopy()
			change(svc)
			_ = cs.Tracker().Update(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: "services"}, svc, "demo")
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", errors.New("the object has been modified"))
	})
	return &patches
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	next := progressing(policy.Progressing)
	next.Step = 3
	other := progressing(policy.Pending)
	other.Candidate, other.Step = "hello-00003", 0
	tests := []struct {
		name     string
		change   func(*servingv1.Service)
		conflict bool
		want     string // the paused annotation afterwards
		patches  int
		refused  string
	}{
		{name: "no conflict", want: "true", patches: 1},
		{name: "the same rollout moved on: decided again", conflict: true, change: func(s *servingv1.Service) { s.Annotations[policy.AnnotationRollout] = next.String() }, want: "true", patches: 2},
		{name: "another candidate since: refused", conflict: true, change: func(s *servingv1.Service) { s.Annotations[policy.AnnotationRollout] = other.String() },
			patches: 1, refused: "the rollout changed while pause was being set (candidate hello-00002, now hello-00003): nothing set"},
		{name: "the same candidate committed again: refused", conflict: true, change: func(s *servingv1.Service) {
			again := progressing(policy.Pending)
			later := started.Add(time.Hour)
			again.StartedAt, again.Step = &later, 0
			s.Annotations[policy.AnnotationRollout] = again.String()
		}, patches: 1, refused: "the rollout changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := fake.NewSimpleClientset(testutil.Service("demo", "hello", testutil.WithState(progressing(policy.Progressing)), testutil.WithResourceVersion("7")))
			patches := new(int)
			if tt.conflict {
				patches = conflictOnce(cs, tt.change)
			} else {
				cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) { *patches++; return false, nil, nil })
			}
			a, err := Apply(ctx, cs, "demo", "hello", Pause, "")
			if *patches != tt.patches {
				t.Errorf("%d patches, want %d", *patches, tt.patches)
			}
			got, gerr := cs.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
			if gerr != nil {
				t.Fatal(gerr)
			}
			if tt.refused != "" {
				if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tt.refused) {
					t.Fatalf("err = %v, want %q", err, tt.refused)
				}
				if v, ok := got.Annotations[policy.AnnotationPaused]; ok {
					t.Errorf("refused, yet paused = %q", v)
				}
				return
			}
			if err != nil || !a.Changes() {
				t.Fatalf("Apply: %+v, %v", a, err)
			}
			if got.Annotations[policy.AnnotationPaused] != tt.want {
				t.Errorf("paused = %q, want %q", got.Annotations[policy.AnnotationPaused], tt.want)
			}
		})
	}
}

func TestApplyNothingToChange(t *testing.T) {
	cs := fake.NewSimpleClientset(testutil.Service("demo", "hello", testutil.WithState(progressing(policy.Paused)), testutil.WithAnnotation(policy.AnnotationPaused, "true")))
	patched := false
	cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) { patched = true; return false, nil, nil })
	a, err := Apply(context.Background(), cs, "demo", "hello", Pause, "")
	if err != nil || a.Changes() || !strings.Contains(a.Next, "already paused") || patched {
		t.Errorf("Apply = %+v, %v (patched %v), want already paused and no patch", a, err, patched)
	}
	if _, err := Apply(context.Background(), cs, "demo", "nope", Pause, ""); !apierrors.IsNotFound(err) {
		t.Errorf("a missing Service: %v, want NotFound", err)
	}
}

func TestPatchIsBoundToTheResourceVersion(t *testing.T) {
	got := string(Patch(Action{Set: map[string]string{policy.AnnotationAbort: "why"}, Remove: []string{policy.AnnotationPaused}}, "42"))
	want := `{"metadata":{"annotations":{"slipstream.dev/abort":"why","slipstream.dev/paused":null},"resourceVersion":"42"}}`
	if got != want {
		t.Errorf("patch %s, want %s", got, want)
	}
}
