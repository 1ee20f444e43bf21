package rollout

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/prom"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

const (
	digestA = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	digestB = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
)

// world is a cluster (serving fake clientset) with one managed Service whose
// candidate was just committed, a clock, and rollout behind the real host.
type world struct {
	t     *testing.T
	cs    *fake.Clientset
	now   time.Time
	url   string
	query *promStub
}

func newWorld(t *testing.T, annotations map[string]string, withProm bool) *world {
	w := &world{t: t, now: t0}
	st := policy.State{Phase: policy.Pending, Stable: stable, StableImage: "registry.example.com/team/hello:1.0.0@" + digestA,
		Candidate: cand, CandidateImage: "registry.example.com/team/hello:1.4.0@" + digestB}
	ann := map[string]string{policy.AnnotationTrack: "semver:^1.0.0", policy.AnnotationTrafficWriter: "cluster", policy.AnnotationPause: "1m",
		policy.AnnotationRollout: st.String()}
	for k, v := range annotations {
		ann[k] = v
	}
	opts := []testutil.ServiceOption{testutil.WithGeneration(2, 2), testutil.WithResourceVersion("1"), testutil.WithTemplateName(cand),
		testutil.WithImage(st.CandidateImage), testutil.WithLatest(cand, ""), testutil.WithTraffic(tt(100)...), testutil.WithRouted()}
	for k, v := range ann {
		opts = append(opts, testutil.WithAnnotation(k, v))
	}
	svc := testutil.Service("demo", "hello", opts...)
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: cand, Namespace: "demo", CreationTimestamp: metav1.NewTime(t0),
		Labels: map[string]string{"serving.knative.dev/service": "hello"}}}
	rev.Status.SetConditions(apis.Conditions{{Type: servingv1.RevisionConditionReady, Status: corev1.ConditionTrue}})
	stableRev := rev.DeepCopy()
	stableRev.Name = stable
	w.cs = fake.NewSimpleClientset(svc, rev, stableRev)

	ropts := []Option{WithMaxWait(0), WithClock(func() time.Time { return w.now }), WithWait(func(ctx context.Context, d time.Duration) error { w.now = w.now.Add(d); return nil })}
	if withProm {
		w.query = &promStub{}
		srv := httptest.NewServer(w.query)
		t.Cleanup(srv.Close)
		q, err := prom.New(srv.URL, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ropts = append(ropts, WithQuerier(q))
	}
	h, err := host.New(Name, testutil.Shared(""), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(kservice.New(w.cs, time.Second), append(ropts, WithRollbacks(h.Rollbacks()))...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler(r.Function()))
	t.Cleanup(srv.Close)
	w.url = srv.URL
	return w
}

// promStub speaks the Prometheus HTTP API with one scripted value.
type promStub struct{ value string }

func (p *promStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if p.value == "" {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
		return
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1764144000,%q]}]}}`, p.value)
}

func (w *world) svc() *servingv1.Service {
	s, err := w.cs.ServingV1().Services("demo").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// reconcile plays Knative's part: the route shows the spec's traffic.
func (w *world) reconcile() {
	s := w.svc()
	s.Status.Traffic = s.Spec.Traffic
	s.Status.ObservedGeneration = s.Generation
	if _, err := w.cs.ServingV1().Services("demo").UpdateStatus(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// live returns the live traffic as "stable%/candidate%" ("cand:100" after promotion).
func (w *world) live() string {
	var parts []string
	for _, t := range w.svc().Status.Traffic {
		parts = append(parts, fmt.Sprintf("%s=%d", t.Tag, *t.Percent))
	}
	return strings.Join(parts, ",")
}

func (w *world) state() policy.State {
	st, err := policy.ParseState(w.svc().Annotations[policy.AnnotationRollout])
	if err != nil {
		w.t.Fatal(err)
	}
	return st
}

func (w *world) send(typ string, data any) (int, *cloudevents.Event) {
	w.t.Helper()
	e := cloudevents.NewEvent()
	e.SetID(fmt.Sprintf("%s-%d", typ, w.now.UnixNano()))
	e.SetType(typ)
	e.SetSource("/test")
	if d, ok := data.(eventing.Data); ok {
		built, err := eventing.New("promote", d, w.now)
		if err != nil {
			w.t.Fatal(err)
		}
		e = built
	} else {
		_ = e.SetData(cloudevents.ApplicationJSON, data)
	}
	client, _ := cloudevents.NewClientHTTP()
	reply, res := client.Request(cloudevents.ContextWithTarget(context.Background(), w.url), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) {
		w.t.Fatalf("result %v", res)
	}
	return hr.StatusCode, reply
}

func (w *world) tick() (int, *cloudevents.Event) {
	return w.send(eventing.TypePing, map[string]string{})
}

func (w *world) serviceUpdated() (int, *cloudevents.Event) {
	return w.send(eventing.TypeAPIServerPrefix+"update", map[string]any{"kind": "Service", "apiVersion": "serving.knative.dev/v1",
		"metadata": map[string]string{"name": "hello", "namespace": "demo"}})
}

var committed = eventing.ManifestCommitted{Namespace: "demo", Service: "hello", Commit: strings.Repeat("a", 40), Path: "apps/hello/service.yaml",
	Image: "registry.example.com/team/hello:1.4.0@" + digestB, StableRevision: stable, CandidateRevision: cand, CauseType: eventing.TypeImagePushed, CauseID: "x"}

// TestPendingToPromoted drives a Service from Pending to Promoted through the
// handler and checks the exact sequence of live traffic states.
func TestPendingToPromoted(t *testing.T) {
	w := newWorld(t, nil, false)
	seen := []string{w.live()}
	var replies []string
	record := func(status int, reply *cloudevents.Event) {
		t.Helper()
		if status != 200 && status != 202 {
			t.Fatalf("status %d", status)
		}
		if reply != nil {
			replies = append(replies, reply.Type())
		}
		w.reconcile()
		if l := w.live(); l != seen[len(seen)-1] {
			seen = append(seen, l)
		}
	}
	record(w.send(eventing.TypeManifestCommitted, committed)) // candidate Ready: step 1
	for i := 0; i < 12 && w.state().Phase != policy.Promoted; i++ {
		record(w.serviceUpdated()) // the cluster shows the step: its pause starts
		w.now = w.now.Add(30 * time.Second)
		record(w.tick()) // pause not over: nothing
		w.now = w.now.Add(31 * time.Second)
		record(w.tick()) // pause over: next step
	}
	want := []string{"stable=100,candidate=0", "stable=90,candidate=10", "stable=75,candidate=25", "stable=50,candidate=50", "stable=0,candidate=100", "stable=100"}
	if strings.Join(seen, " → ") != strings.Join(want, " → ") {
		t.Errorf("live traffic:\n%s\nwant:\n%s", strings.Join(seen, " → "), strings.Join(want, " → "))
	}
	if st := w.state(); st.Phase != policy.Promoted || st.Stable != cand {
		t.Errorf("final state %+v", st)
	}
	if final := w.svc().Status.Traffic; len(final) != 1 || final[0].RevisionName != cand {
		t.Errorf("final traffic %+v, want the candidate alone, tagged stable", final)
	}
	wantReplies := "traffic.shifted ×4, rollout.promoted ×1"
	if got := countTypes(replies); got != wantReplies {
		t.Errorf("replies %s, want %s", got, wantReplies)
	}
	// Ticks after promotion change nothing.
	before := w.svc().ResourceVersion
	w.now = w.now.Add(time.Hour)
	if status, reply := w.tick(); status != 202 || reply != nil || w.svc().ResourceVersion != before {
		t.Errorf("tick after promotion: %d %v, resourceVersion %s → %s", status, reply, before, w.svc().ResourceVersion)
	}
}

func countTypes(types []string) string {
	n := map[string]int{}
	for _, t := range types {
		n[strings.TrimSuffix(strings.TrimPrefix(t, "dev.slipstream."), ".v1")]++
	}
	return fmt.Sprintf("traffic.shifted ×%d, rollout.promoted ×%d", n["traffic.shifted"], n["rollout.promoted"])
}

func TestFailingQueryRollsBack(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationAnalysisQuery: `sum(rate(errors{revision_name="{{.Revision}}"}[1m]))`,
		policy.AnnotationAnalysisMax: "0.01", policy.AnnotationAnalysisFailures: "1", policy.AnnotationAnalysisInterval: "10s"}, true)
	w.query.value = "0.25"
	var seen []string
	step := func(status int, reply *cloudevents.Event) *cloudevents.Event {
		w.reconcile()
		seen = append(seen, w.live())
		return reply
	}
	step(w.send(eventing.TypeManifestCommitted, committed))
	step(w.serviceUpdated())
	w.now = w.now.Add(61 * time.Second)
	if r := step(w.tick()); r != nil {
		t.Fatalf("first failure within the limit replied %s", r.Type())
	}
	w.now = w.now.Add(11 * time.Second)
	reply := step(w.tick())
	if reply == nil || reply.Type() != eventing.TypeRolloutRolledBack {
		t.Fatalf("second failure: reply %v, want rollout.rolledback", reply)
	}
	d, err := eventing.Decode[eventing.RolloutRolledBack](*reply)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`errors{revision_name="hello-3f2a9c01b2"}`, "0.25", "0.01"} {
		if !strings.Contains(d.Reason, want) {
			t.Errorf("reason %q lacks %q (query, value and threshold)", d.Reason, want)
		}
	}
	want := "stable=90,candidate=10 stable=90,candidate=10 stable=90,candidate=10 stable=100"
	if got := strings.Join(seen, " "); got != want {
		t.Errorf("live traffic %s, want %s", got, want)
	}
	if st := w.state(); st.Phase != policy.RolledBack || st.FailedChecks != 2 {
		t.Errorf("state %+v", st)
	}
}

func TestNoDataIsInconclusive(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationAnalysisQuery: `up`, policy.AnnotationAnalysisMin: "1", policy.AnnotationAnalysisInterval: "10s"}, true)
	w.send(eventing.TypeManifestCommitted, committed)
	w.reconcile()
	w.serviceUpdated()
	w.now = w.now.Add(61 * time.Second)
	w.tick()
	if st := w.state(); st.Phase != policy.Progressing || st.Inconclusive != 1 || st.FailedChecks != 0 || !strings.Contains(st.Reason, "inconclusive") {
		t.Errorf("state after an empty result: %+v", st)
	}
	w.query.value = "1"
	w.now = w.now.Add(11 * time.Second)
	w.tick()
	if st := w.state(); st.Step != 2 {
		t.Errorf("state after data arrived: %+v", st)
	}
}

func TestConflictOnPatchIsDecidedAgain(t *testing.T) {
	w := newWorld(t, nil, false)
	conflicts := 1
	w.cs.PrependReactor("patch", "services", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if conflicts > 0 {
			conflicts--
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", fmt.Errorf("the object has been modified"))
		}
		return false, nil, nil
	})
	status, reply := w.send(eventing.TypeManifestCommitted, committed)
	if status != 200 || reply == nil || conflicts != 0 {
		t.Fatalf("status %d reply %v conflicts left %d", status, reply, conflicts)
	}
	w.reconcile()
	if l := w.live(); l != "stable=90,candidate=10" {
		t.Errorf("live %s", l)
	}
}

func TestAPIErrors(t *testing.T) {
	w := newWorld(t, nil, false)
	w.cs.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewServiceUnavailable("etcd is down")
	})
	if status, _ := w.send(eventing.TypeManifestCommitted, committed); status != http.StatusServiceUnavailable {
		t.Errorf("API down: %d, want 503 so the broker retries", status)
	}
	w2 := newWorld(t, nil, false)
	ghost := committed
	ghost.Service = "ghost"
	if status, reply := w2.send(eventing.TypeManifestCommitted, ghost); status != 200 || reply != nil {
		t.Errorf("unknown Service: %d %v, want an acknowledged refusal", status, reply)
	}
	if status, _ := w2.send(eventing.TypeAPIServerPrefix+"update", map[string]any{"kind": "ConfigMap", "metadata": map[string]string{"name": "x", "namespace": "demo"}}); status != 200 {
		t.Errorf("ApiServerSource event for a ConfigMap: %d, want 200 (refused)", status)
	}
	w2.cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", fmt.Errorf("modified"))
	})
	if status, _ := w2.send(eventing.TypeManifestCommitted, committed); status != http.StatusConflict {
		t.Errorf("conflict on every attempt: %d, want 409", status)
	}
}

func TestRevisionEventActsOnItsService(t *testing.T) {
	w := newWorld(t, nil, false)
	status, reply := w.send(eventing.TypeAPIServerPrefix+"update", map[string]any{"kind": "Revision",
		"metadata": map[string]any{"name": cand, "namespace": "demo", "labels": map[string]string{"serving.knative.dev/service": "hello"}}})
	if status != 200 || reply == nil || reply.Type() != eventing.TypeTrafficShifted {
		t.Errorf("Revision ready: %d %v, want step 1", status, reply)
	}
}

func TestGitWriterRepliesWithoutPatching(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationTrafficWriter: "git"}, false)
	status, reply := w.send(eventing.TypeManifestCommitted, committed)
	if status != 200 || reply == nil || reply.Type() != eventing.TypeTrafficShifted {
		t.Fatalf("%d %v", status, reply)
	}
	d, _ := eventing.Decode[eventing.TrafficShifted](*reply)
	if d.Step != 1 || d.Traffic[1].Percent != 10 || d.State == "" {
		t.Errorf("traffic.shifted %+v", d)
	}
	if l := w.live(); l != "stable=100,candidate=0" {
		t.Errorf("the git writer patched the cluster: %s", l)
	}
}

func TestShortPausesAreWaitedInRequest(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationPause: "20s"}, false)
	w.send(eventing.TypeManifestCommitted, committed)
	w.reconcile()
	w.serviceUpdated() // step 1 live at t0
	r, _ := New(kservice.New(w.cs, time.Second), WithMaxWait(50*time.Second),
		WithClock(func() time.Time { return w.now }), WithWait(func(ctx context.Context, d time.Duration) error { w.now = w.now.Add(d); return nil }))
	reply, err := r.onTick(context.Background(), cloudevents.NewEvent())
	if err != nil || reply == nil || w.state().Step != 2 {
		t.Fatalf("a tick 0 s into a 20 s pause: reply %v err %v state %+v; want step 2 after waiting in the request", reply, err, w.state())
	}
	if waited := w.now.Sub(t0); waited != 20*time.Second {
		t.Errorf("waited %s, want exactly the rest of the pause (20s)", waited)
	}
}

// step1Synced sends the candidate's commit (git writer); promote commits
// step 1 and the GitOps tool applies it. It returns the step.
func (w *world) step1Synced() eventing.TrafficShifted {
	w.t.Helper()
	_, reply := w.send(eventing.TypeManifestCommitted, committed)
	d, _ := eventing.Decode[eventing.TrafficShifted](*reply)
	s := w.svc()
	s.Spec.Traffic = kservice.ToKnative(d.Traffic)
	s.Annotations[policy.AnnotationRollout] = d.State
	if _, err := w.cs.ServingV1().Services("demo").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	w.reconcile()
	return d
}

// TestGitWriterRecordsAStepOnce: until the cluster shows the commit that
// records a step's start, later decisions reuse that record instead of
// writing a new start time at every tick.
func TestGitWriterRecordsAStepOnce(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationTrafficWriter: "git"}, false)
	w.step1Synced()
	_, record := w.tick()
	if record == nil {
		t.Fatal("the live step was not recorded")
	}
	rec, _ := eventing.Decode[eventing.TrafficShifted](*record)
	w.now = w.now.Add(10 * time.Second)
	if _, again := w.tick(); again != nil {
		again2, _ := eventing.Decode[eventing.TrafficShifted](*again)
		t.Errorf("recorded again before the cluster showed the first record:\n%s\n%s", rec.State, again2.State)
	}
	w.now = w.now.Add(51 * time.Second)
	if _, next := w.tick(); next == nil {
		t.Error("the pause, counted from the first record, did not end")
	} else if d, _ := eventing.Decode[eventing.TrafficShifted](*next); d.Step != 2 {
		t.Errorf("after the pause: step %d", d.Step)
	}
}

// TestGitWriterMemoryYieldsToARollback: the state remembered for Git must
// not outlive a rollback recorded in the cluster (slipstream.dev/rollback)
// while the rollout annotation, Git's, still shows the step.
func TestGitWriterMemoryYieldsToARollback(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationTrafficWriter: "git"}, false)
	d := w.step1Synced()
	if _, record := w.tick(); record == nil {
		t.Fatal("the live step was not recorded")
	}
	// The rollback function rolls back in the cluster; Git still shows step 1.
	st, _ := policy.ParseState(d.State)
	rb := policy.State{Phase: policy.RolledBack, Stable: st.Stable, Candidate: st.Candidate, StartedAt: st.StartedAt, Reason: "alert", Announced: true}
	s := w.svc()
	s.Annotations[policy.AnnotationRollback] = rb.String()
	s.Spec.Traffic = kservice.ToKnative([]eventing.TrafficTarget{{RevisionName: st.Stable, Percent: 100, Tag: "stable"}})
	if _, err := w.cs.ServingV1().Services("demo").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	w.reconcile()
	w.now = w.now.Add(2 * time.Minute) // past step 1's pause
	if _, next := w.tick(); next != nil {
		t.Errorf("after the rollback the rollout went on from its memory: %s %s", next.Type(), next.Data())
	}
	if l := w.live(); l != "stable=100" {
		t.Errorf("traffic %s, want stable=100", l)
	}
}

// TestClusterWriterLearnsTheCandidateFromTheEvent: with the cluster writer
// the GitOps tool leaves the state annotation alone, so the live Service
// still says Promoted when a new candidate is committed; the event starts it.
func TestClusterWriterLearnsTheCandidateFromTheEvent(t *testing.T) {
	w := newWorld(t, nil, false)
	s := w.svc()
	old := policy.State{Phase: policy.Promoted, Stable: stable, StableImage: "registry.example.com/team/hello:1.0.0@" + digestA}
	s.Annotations[policy.AnnotationRollout] = old.String()
	if _, err := w.cs.ServingV1().Services("demo").Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	status, reply := w.send(eventing.TypeManifestCommitted, committed)
	if status != 200 || reply == nil || reply.Type() != eventing.TypeTrafficShifted {
		t.Fatalf("%d %v, want step 1", status, reply)
	}
	st := w.state()
	if st.Phase != policy.Progressing || st.Candidate != cand || st.StableImage != old.StableImage || st.CandidateImage != committed.Image {
		t.Errorf("state %+v", st)
	}
	w.reconcile()
	if l := w.live(); l != "stable=90,candidate=10" {
		t.Errorf("live %s", l)
	}
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	cluster := kservice.New(fake.NewSimpleClientset(), time.Second)
	tests := []struct {
		name string
		c    Cluster
		opts []Option
		ok   bool
	}{
		{
			name: "defaults",
			c:    cluster,
			ok:   true,
		},
		{
			name: "no cluster",
			c:    nil,
		},
		{
			name: "no clock",
			c:    cluster,
			opts: []Option{WithClock(nil)},
		},
		{
			name: "negative wait",
			c:    cluster,
			opts: []Option{WithMaxWait(-time.Second)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.c, tc.opts...); (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestOneServiceCannotStopTheTick: a decision that panics for one Service
// (here: the API client blows up patching it) is that Service's error; the
// tick still decides for the others.
func TestOneServiceCannotStopTheTick(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationTrafficWriter: "cluster"}, false)
	broken := w.svc().DeepCopy()
	broken.Name, broken.ResourceVersion = "aaa-broken", ""
	if _, err := w.cs.ServingV1().Services("demo").Create(context.Background(), broken, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	panicked := false
	w.cs.PrependReactor("patch", "services", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.PatchAction).GetName() == "aaa-broken" && !panicked {
			panicked = true
			panic("a bug that only this Service's state triggers")
		}
		return false, nil, nil
	})
	status, reply := w.tick()
	if status != http.StatusOK || reply == nil || reply.Type() != eventing.TypeTrafficShifted || reply.Subject() != "demo/hello" {
		t.Fatalf("tick: %d %v; want demo/hello decided (step 1) despite the other Service", status, reply)
	}
	// The failure is recorded in the broken Service's state (cluster writer).
	got, err := w.cs.ServingV1().Services("demo").Get(context.Background(), "aaa-broken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := policy.ParseState(got.Annotations[policy.AnnotationRollout]); !strings.Contains(st.Reason, "decision failed") || !strings.Contains(st.Reason, "a bug that only") {
		t.Errorf("state reason %q, want the failed decision recorded", st.Reason)
	}
}
