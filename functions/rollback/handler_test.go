package rollback

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

const (
	token   = "am-t0ken"
	digestA = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	digestB = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
)

var now = time.Date(2026, 8, 20, 10, 1, 0, 0, time.UTC)

// midRollout is a live Service at step 2 of 4 of a rollout.
func midRollout(ns, name string, extra ...testutil.ServiceOption) *servingv1.Service {
	st := policy.State{Phase: policy.Progressing, Stable: name + "-aa11bb22cc", StableImage: "registry.example.com/" + name + ":1.0.0@" + digestA,
		Candidate: name + "-00007", CandidateImage: "registry.example.com/" + name + ":1.4.0@" + digestB, Step: 2, StartedAt: &started}
	return testutil.Service(ns, name, append([]testutil.ServiceOption{
		testutil.WithAnnotation(policy.AnnotationTrack, "any"),
		testutil.WithState(st),
		testutil.WithResourceVersion("7"),
		testutil.WithImage(st.CandidateImage),
		testutil.WithSpecTraffic(eventing.TrafficTarget{RevisionName: st.Stable, Percent: 75, Tag: "stable"}, eventing.TrafficTarget{RevisionName: st.Candidate, Percent: 25, Tag: "candidate"}),
	}, extra...)...)
}

// started is when midRollout's rollout started.
var started = now.Add(-time.Hour)

// promoted is a live Service promoted `ago` before now.
func promoted(ns, name string, ago time.Duration) *servingv1.Service {
	at := now.Add(-ago)
	st := policy.State{Phase: policy.Promoted, Stable: name + "-00007", StableImage: "registry.example.com/" + name + ":1.4.0@" + digestB,
		PreviousStable: name + "-aa11bb22cc", PreviousStableImage: "registry.example.com/" + name + ":1.0.0@" + digestA, PromotedAt: &at}
	return midRollout(ns, name, testutil.WithState(st), testutil.WithSpecTraffic(eventing.TrafficTarget{RevisionName: st.Stable, Percent: 100, Tag: "stable"}))
}

type env struct {
	t       testing.TB
	wrap    func(Cluster) Cluster // wraps the cluster adapter; nil: none
	cfg     config.Rollback
	cs      *fake.Clientset
	sink    *testutil.Sink
	url     string
	patches atomic.Int64
}

// newEnv runs rollback over a cluster holding objects and the revisions
// their rollout states name as stable.
func newEnv(t *testing.T, objects ...runtime.Object) *env {
	return newEnvTB(t, withRevisions(objects)...)
}

// newEnvB is newEnv for benchmarks, with the Service mid-rollout.
func newEnvB(b *testing.B) *env {
	return newEnvTB(b, withRevisions([]runtime.Object{midRollout("shop", "checkout")})...)
}

// withRevisions adds the Revisions the Services' states name as stable.
func withRevisions(objects []runtime.Object) []runtime.Object {
	out := append([]runtime.Object(nil), objects...)
	for _, o := range objects {
		svc, ok := o.(*servingv1.Service)
		if !ok {
			continue
		}
		st, _ := policy.LiveState(svc.Annotations)
		for _, name := range []string{st.Stable, st.PreviousStable} {
			if name != "" {
				out = append(out, &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: name,
					Labels: map[string]string{"serving.knative.dev/service": svc.Name}}})
			}
		}
	}
	return out
}

func newEnvTB(t testing.TB, objects ...runtime.Object) *env {
	e := &env{t: t, cs: fake.NewSimpleClientset(objects...), sink: testutil.NewSink(t)}
	e.cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
		e.patches.Add(1)
		return false, nil, nil
	})
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	pw := filepath.Join(dir, "password")
	os.WriteFile(tok, []byte(token+"\n"), 0o600)
	os.WriteFile(pw, []byte("am-pass"), 0o600)
	t.Setenv("SLIPSTREAM_ROLLBACK_TOKEN_FILE", tok)
	t.Setenv("SLIPSTREAM_ROLLBACK_USERNAME", "alertmanager")
	t.Setenv("SLIPSTREAM_ROLLBACK_PASSWORD_FILE", pw)
	var cfg config.Rollback
	if err := config.Load(config.Prefix+"_ROLLBACK", &cfg); err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.restart()
	return e
}

// restart serves a new rollback over the env's cluster (wrapped by e.wrap).
func (e *env) restart() {
	t := e.t
	h, err := host.New(Name, testutil.Shared(e.sink.URL), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sender, _ := h.Sender()
	var c Cluster = kservice.New(e.cs, time.Second)
	if e.wrap != nil {
		c = e.wrap(c)
	}
	r, err := New(e.cfg, c, sender, WithClock(func() time.Time { return now }), WithRollbacks(h.Rollbacks()))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler(r.Function()))
	t.Cleanup(srv.Close)
	e.url = srv.URL
}

func (e *env) post(body []byte, auth string) (int, string) {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if auth != "" {
		h.Set("Authorization", auth)
	}
	resp, b := testutil.Post(e.t, e.url+Route, h, bytes.NewReader(body))
	var answer struct{ Message string }
	if json.Unmarshal([]byte(b), &answer) == nil && answer.Message != "" {
		return resp.StatusCode, answer.Message
	}
	return resp.StatusCode, b
}

func (e *env) svc(ns, name string) (*servingv1.Service, policy.State) {
	s, err := e.cs.ServingV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	st, _ := policy.LiveState(s.Annotations)
	return s, st
}

func traffic(s *servingv1.Service) string {
	var parts []string
	for _, t := range s.Spec.Traffic {
		parts = append(parts, fmt.Sprintf("%s=%d", t.RevisionName, *t.Percent))
	}
	return strings.Join(parts, ",")
}

func sample(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// notification builds a version 4 payload.
func notification(alerts ...string) []byte {
	return []byte(`{"version":"4","groupKey":"{}:{alertname=\"X\"}","status":"firing","receiver":"slipstream","alerts":[` + strings.Join(alerts, ",") + `]}`)
}

func alert(status string, labels map[string]string) string {
	var kv []string
	for k, v := range labels {
		kv = append(kv, fmt.Sprintf("%q:%q", k, v))
	}
	return fmt.Sprintf(`{"status":%q,"labels":{%s},"annotations":{},"startsAt":"2026-08-20T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f%d"}`,
		status, strings.Join(kv, ","), len(kv))
}

func bearer() string { return "Bearer " + token }

func TestRealSampleRollsBackOnce(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"))
	for i := 0; i < 3; i++ { // Alertmanager re-sends and may duplicate
		body := sample(t, "alertmanager-firing.json")
		if i == 2 {
			body = sample(t, "alertmanager-firing.wire.json")
		}
		code, msg := e.post(body, bearer())
		if code != 200 {
			t.Fatalf("delivery %d: %d %s", i+1, code, msg)
		}
	}
	s, st := e.svc("shop", "checkout")
	if traffic(s) != "checkout-aa11bb22cc=100" || st.Phase != policy.RolledBack || !st.Announced {
		t.Errorf("after the alert: traffic %s, state %+v", traffic(s), st)
	}
	d := e.checkoutRolledBack(t)
	if d.Alert == nil || d.Alert.Name != "KnativeRevisionHighErrorRate" || !strings.Contains(d.Reason, `severity="critical"`) {
		t.Errorf("event alert %+v, reason %q", d.Alert, d.Reason)
	}
	if n := e.patches.Load(); n != 2 {
		t.Errorf("%d patches for 3 deliveries, want 2 (traffic, then the announced flag)", n)
	}
	// Alerts naming Services that do not exist add no series: the label
	// set is the managed Services, not what senders write.
	for _, name := range []string{"nope-1", "nope-2"} {
		e.post(notification(alert("firing", map[string]string{"namespace": "shop", "service_name": name, "severity": "critical"})), bearer())
	}
	resp, body := testutil.Get(t, e.url+"/metrics")
	if want := `slipstream_rollbacks_total{function="rollback",namespace="shop",service="checkout"} 1`; resp.StatusCode != 200 || !strings.Contains(body, want) {
		t.Errorf("/metrics (%d) lacks %s: three deliveries of one alert are one rollback", resp.StatusCode, want)
	}
	if strings.Contains(body, "nope-") {
		t.Errorf("/metrics has series for Services that do not exist:\n%s", body)
	}
}

func TestResolvedChangesNothing(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"))
	code, msg := e.post(sample(t, "alertmanager-resolved.json"), bearer())
	if code != 200 || !strings.Contains(msg, "resolved: nothing changes") {
		t.Errorf("%d %s", code, msg)
	}
	if e.patches.Load() != 0 || len(e.sink.Events()) != 0 {
		t.Error("a resolved alert changed something")
	}
	// Resolved first, then firing again: the firing one rolls back.
	if code, _ := e.post(sample(t, "alertmanager-firing.json"), bearer()); code != 200 {
		t.Fatal(code)
	}
	if s, _ := e.svc("shop", "checkout"); traffic(s) != "checkout-aa11bb22cc=100" {
		t.Errorf("traffic %s", traffic(s))
	}
}

func TestGroupedNotification(t *testing.T) {
	// One at a time, the second checkout alert reads a Service the first has
	// rolled back; at once, it may meet the first's claim: the same answer.
	for _, concurrency := range []string{"1", "16"} {
		t.Run("concurrency "+concurrency, func(t *testing.T) {
			t.Setenv("SLIPSTREAM_ROLLBACK_CONCURRENCY", concurrency)
			groupedNotification(t)
		})
	}
}

func groupedNotification(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"), midRollout("shop", "cart"), midRollout("web", "home"))
	body := notification(
		alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "service_name": "checkout", "severity": "critical"}),
		alert("firing", map[string]string{"alertname": "HighLatency", "namespace": "shop", "knative_service": "checkout", "severity": "critical"}),
		alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace_name": "shop", "service": "cart", "severity": "critical"}),
		alert("resolved", map[string]string{"alertname": "HighErrorRate", "namespace": "web", "service_name": "home", "severity": "critical"}),
	)
	code, msg := e.post(body, bearer())
	if code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	for _, key := range [][2]string{{"shop", "checkout"}, {"shop", "cart"}} {
		if s, st := e.svc(key[0], key[1]); st.Phase != policy.RolledBack || !strings.HasSuffix(traffic(s), "aa11bb22cc=100") {
			t.Errorf("%s/%s: %s %s", key[0], key[1], traffic(s), st.Phase)
		}
	}
	if _, st := e.svc("web", "home"); st.Phase != policy.Progressing {
		t.Errorf("a resolved alert rolled web/home back")
	}
	if n := len(e.sink.Events()); n != 2 {
		t.Errorf("%d events, want 2 (one per Service)", n)
	}
	if !strings.Contains(msg, "rolled back for another alert of this notification") {
		t.Errorf("answer does not report the second checkout alert: %s", msg)
	}
}

// TestAStormIsRolledBackConcurrently: the Services of one grouped
// notification are handled at once (SLIPSTREAM_ROLLBACK_CONCURRENCY), each
// rolled back and announced once; with a concurrency of 1, one by one. The
// fake API holds the first Service read until another is in flight or a
// second passes, so whether reads overlap is what the handler allowed.
func TestAStormIsRolledBackConcurrently(t *testing.T) {
	for _, tc := range []struct {
		concurrency string
		overlap     bool
	}{{"16", true}, {"1", false}} {
		t.Run("concurrency "+tc.concurrency, func(t *testing.T) {
			t.Setenv("SLIPSTREAM_ROLLBACK_CONCURRENCY", tc.concurrency)
			var objects []runtime.Object
			var alerts []string
			for i := range 20 {
				name := fmt.Sprintf("svc-%02d", i)
				objects = append(objects, midRollout("shop", name))
				alerts = append(alerts, alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "service_name": name, "severity": "critical"}))
			}
			e := newEnv(t, objects...)
			b := &barrier{Cluster: kservice.New(e.cs, time.Second)}
			e.wrap = func(c Cluster) Cluster { b.Cluster = c; return b }
			e.restart()
			code, msg := e.post(notification(alerts...), bearer())
			if code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			for i := range 20 {
				if s, st := e.svc("shop", fmt.Sprintf("svc-%02d", i)); st.Phase != policy.RolledBack || !strings.HasSuffix(traffic(s), "aa11bb22cc=100") {
					t.Errorf("svc-%02d: %s %s", i, traffic(s), st.Phase)
				}
			}
			if n := len(e.sink.Events()); n != 20 {
				t.Errorf("%d events, want 20", n)
			}
			if got := b.Widest() > 1; got != tc.overlap {
				t.Errorf("at most %d Services read at once; want overlap %v", b.Widest(), tc.overlap)
			}
		})
	}
}

// barrier records how many Service reads are in flight at once
// (testutil.Overlap).
type barrier struct {
	Cluster
	testutil.Overlap
}

func (b *barrier) Get(ctx context.Context, namespace, name string) (*servingv1.Service, error) {
	defer b.Enter()()
	return b.Cluster.Get(ctx, namespace, name)
}

func TestRevisionLabelledAlert(t *testing.T) {
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-00007", Labels: map[string]string{"serving.knative.dev/service": "checkout"}}}
	e := newEnv(t, midRollout("shop", "checkout"), rev)
	code, msg := e.post(notification(alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "revision_name": "checkout-00007", "severity": "critical"})), bearer())
	if code != 200 || !strings.Contains(msg, "rolled back") {
		t.Errorf("%d %s", code, msg)
	}
}

func TestMatchers(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"), midRollout("shop", "cart", testutil.WithAnnotation(policy.AnnotationRollbackOn, `team="shop"`)))
	for _, tc := range []struct {
		labels map[string]string
		says   string
	}{
		{
			labels: map[string]string{"alertname": "Slow", "namespace": "shop", "service_name": "checkout", "severity": "warning"},
			says:   `does not match rollback-on {severity="critical"}`,
		},
		{
			labels: map[string]string{"alertname": "Down", "namespace": "shop", "service_name": "cart", "severity": "critical", "team": "web"},
			says:   `does not match rollback-on {team="shop"}`,
		},
		{
			labels: map[string]string{"alertname": "Down", "namespace": "shop"},
			says:   "no Service label",
		},
		{
			labels: map[string]string{"alertname": "Down", "service_name": "cart"},
			says:   "no namespace label",
		},
	} {
		code, msg := e.post(notification(alert("firing", tc.labels)), bearer())
		if code != 200 || !strings.Contains(msg, tc.says) {
			t.Errorf("%v: %d %s, want %q", tc.labels, code, msg, tc.says)
		}
	}
	if e.patches.Load() != 0 {
		t.Error("a non-matching alert patched a Service")
	}
	code, _ := e.post(notification(alert("firing", map[string]string{"alertname": "Down", "namespace": "shop", "service_name": "cart", "team": "shop"})), bearer())
	if _, st := e.svc("shop", "cart"); code != 200 || st.Phase != policy.RolledBack {
		t.Errorf("the Service's own matcher did not roll back: %d %s", code, st.Phase)
	}
}

func TestBakeWindow(t *testing.T) {
	e := newEnv(t, promoted("shop", "checkout", 10*time.Minute), promoted("shop", "cart", 40*time.Minute))
	body := notification(
		alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "service_name": "checkout", "severity": "critical"}),
		alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop", "service_name": "cart", "severity": "critical"}))
	code, msg := e.post(body, bearer())
	if code != 200 {
		t.Fatal(code, msg)
	}
	if s, st := e.svc("shop", "checkout"); traffic(s) != "checkout-aa11bb22cc=100" || st.Phase != policy.RolledBack {
		t.Errorf("within the bake window: %s %s", traffic(s), st.Phase)
	} else if want := now.Add(-10 * time.Minute); st.PromotedAt == nil || !st.PromotedAt.Equal(want) {
		t.Errorf("bake rollback bound to promotion %v, want %v", st.PromotedAt, want)
	}
	if s, _ := e.svc("shop", "cart"); traffic(s) != "cart-00007=100" || !strings.Contains(msg, "outside the bake window") {
		t.Errorf("after the bake window: %s (%s)", traffic(s), msg)
	}
	e.checkoutRolledBack(t)
}

// checkoutRolledBack checks that exactly one rollout.rolledback was sent,
// for shop/checkout back to its stable revision, and returns it.
func (e *env) checkoutRolledBack(t *testing.T) eventing.RolloutRolledBack {
	t.Helper()
	events := e.sink.Events()
	if len(events) != 1 {
		t.Fatalf("%d rollout.rolledback events, want exactly 1", len(events))
	}
	d, err := eventing.Decode[eventing.RolloutRolledBack](events[0])
	if err != nil {
		t.Fatal(err)
	}
	want := eventing.RolloutRolledBack{
		Namespace:         "shop",
		Service:           "checkout",
		StableRevision:    "checkout-aa11bb22cc",
		CandidateRevision: "checkout-00007",
		Image:             "registry.example.com/checkout:1.4.0@" + digestB,
	}
	if diff := cmp.Diff(want, d, cmpopts.IgnoreFields(eventing.RolloutRolledBack{}, "Reason", "Alert")); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}
	return d
}

func TestConflictIsRetried(t *testing.T) {
	tests := []struct {
		name      string
		conflicts int64 // patches answered 409 before the API accepts one
		wantCode  int
		wantPhase policy.Phase
	}{
		{
			name:      "one conflict: read again, decided again, rolled back",
			conflicts: 1,
			wantCode:  http.StatusOK,
			wantPhase: policy.RolledBack,
		},
		{
			name:      "conflicts on every attempt: 503 so Alertmanager retries, nothing changed",
			conflicts: 100,
			wantCode:  http.StatusServiceUnavailable,
			wantPhase: policy.Progressing,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, midRollout("shop", "checkout"))
			conflicts := tc.conflicts
			e.cs.PrependReactor("patch", "services", func(clienttesting.Action) (bool, runtime.Object, error) {
				if atomic.AddInt64(&conflicts, -1) >= 0 {
					return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "checkout", fmt.Errorf("modified"))
				}
				return false, nil, nil
			})
			code, msg := e.post(sample(t, "alertmanager-firing.json"), bearer())
			if code != tc.wantCode {
				t.Errorf("%d %s, want %d", code, msg, tc.wantCode)
			}
			if _, st := e.svc("shop", "checkout"); st.Phase != tc.wantPhase {
				t.Errorf("phase %s, want %s", st.Phase, tc.wantPhase)
			}
			if n := len(e.sink.Events()); (tc.wantPhase == policy.RolledBack) != (n == 1) {
				t.Errorf("%d events sent to promote", n)
			}
			reads := 0
			for _, a := range e.cs.Actions() {
				if a.GetVerb() == "get" && a.GetResource().Resource == "revisions" {
					reads++
				}
			}
			if reads != 1 {
				t.Errorf("the stable revision read %d times over the retries, want once", reads)
			}
		})
	}
}

func TestOneFailureDoesNotHideTheOthers(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"), midRollout("shop", "cart"))
	e.cs.PrependReactor("patch", "services", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if a.(clienttesting.PatchAction).GetName() == "cart" {
			return true, nil, apierrors.NewServiceUnavailable("etcd")
		}
		return false, nil, nil
	})
	code, msg := e.post(notification(
		alert("firing", map[string]string{"alertname": "A", "namespace": "shop", "service_name": "cart", "severity": "critical"}),
		alert("firing", map[string]string{"alertname": "B", "namespace": "shop", "service_name": "checkout", "severity": "critical"})), bearer())
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "failed") || !strings.Contains(msg, "rolled back") {
		t.Errorf("%d %s, want 503 reporting both", code, msg)
	}
	if _, st := e.svc("shop", "checkout"); st.Phase != policy.RolledBack {
		t.Error("checkout was not rolled back because cart failed")
	}
}

func TestSinkDownThenUp(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"))
	e.sink.Fail(nil, 503, 503)
	code, msg := e.post(sample(t, "alertmanager-firing.json"), bearer())
	if code != 503 || !strings.Contains(msg, "promote was not told") {
		t.Fatalf("%d %s", code, msg)
	}
	if s, st := e.svc("shop", "checkout"); traffic(s) != "checkout-aa11bb22cc=100" || st.Announced {
		t.Errorf("traffic must be safe even when the sink is down: %s %+v", traffic(s), st)
	}
	// Alertmanager retries: the event goes out now, once.
	if code, _ := e.post(sample(t, "alertmanager-firing.json"), bearer()); code != 200 {
		t.Fatal(code)
	}
	e.post(sample(t, "alertmanager-firing.json"), bearer())
	if n := len(e.sink.Events()); n != 1 {
		t.Errorf("%d events after recovery, want 1", n)
	}
}

func TestAuthAndBadInput(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"))
	body := sample(t, "alertmanager-firing.json")
	for _, tc := range []struct {
		auth string
		code int
	}{
		{
			auth: "",
			code: 401,
		},
		{
			auth: "Bearer wrong",
			code: 401,
		},
		{
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alertmanager:nope")),
			code: 401,
		},
		{
			auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("alertmanager:am-pass")),
			code: 200,
		},
	} {
		if code, msg := e.post(body, tc.auth); code != tc.code {
			t.Errorf("auth %q: %d %s, want %d", tc.auth, code, msg, tc.code)
		}
	}
	e2 := newEnv(t, midRollout("shop", "checkout"))
	for _, tc := range []struct {
		body string
		says string
	}{
		{
			body: `{"version":"4","alerts":[{"status":"firing"`,
			says: "not an Alertmanager notification",
		},
		{
			body: `{"version":"3","alerts":[]}`,
			says: `version: "3"`,
		},
		{
			body: `{"version":"4","alerts":[{"status":"burning","labels":{}}]}`,
			says: "alerts[0].status",
		},
	} {
		if code, msg := e2.post([]byte(tc.body), bearer()); code != 400 || !strings.Contains(msg, tc.says) {
			t.Errorf("%s: %d %s, want 400 with %q", tc.body, code, msg, tc.says)
		}
	}
	if e2.patches.Load() != 0 || len(e2.sink.Events()) != 0 {
		t.Error("bad input changed something")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Ignore: "ignore", RollBack: "roll back", Resend: "resend", Kind(7): "Kind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestRollbackIsRecordedWhereNoSyncUndoesIt: with the git writer the
// rollout state annotation is Git's (a GitOps tool would put the step back),
// so the rollback is recorded in slipstream.dev/rollback only, and Git
// catches up through promote; with the cluster writer the state annotation
// is the cluster's and records it too.
func TestRollbackIsRecordedWhereNoSyncUndoesIt(t *testing.T) {
	tests := []struct {
		name          string
		writer        string
		wantRollout   policy.Phase // the phase in slipstream.dev/rollout afterwards
		wantAnnounced bool
	}{
		{
			name:          "git writer: the rollout state stays Git's",
			writer:        "git",
			wantRollout:   policy.Progressing,
			wantAnnounced: true,
		},
		{
			name:          "cluster writer: the rollout state records the rollback too",
			writer:        "cluster",
			wantRollout:   policy.RolledBack,
			wantAnnounced: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, midRollout("shop", "checkout", testutil.WithAnnotation(policy.AnnotationTrafficWriter, tc.writer),
				testutil.WithAnnotation(policy.AnnotationPaused, "true")))
			if code, msg := e.post(sample(t, "alertmanager-firing.json"), bearer()); code != http.StatusOK {
				t.Fatalf("%d %s", code, msg)
			}
			s, live := e.svc("shop", "checkout")
			rollout, _ := policy.ParseState(s.Annotations[policy.AnnotationRollout])
			record, err := policy.ParseState(s.Annotations[policy.AnnotationRollback])
			if err != nil {
				t.Fatal(err)
			}
			if rollout.Phase != tc.wantRollout {
				t.Errorf("%s phase %s, want %s", policy.AnnotationRollout, rollout.Phase, tc.wantRollout)
			}
			if record.Phase != policy.RolledBack || record.Candidate != "checkout-00007" || record.Announced != tc.wantAnnounced {
				t.Errorf("%s = %+v, want the rollback of checkout-00007, announced", policy.AnnotationRollback, record)
			}
			if record.StartedAt == nil || !record.StartedAt.Equal(started) {
				t.Errorf("%s started %v, want bound to the rollout started %v", policy.AnnotationRollback, record.StartedAt, started)
			}
			if _, ok := s.Annotations[policy.AnnotationPaused]; ok {
				t.Errorf("%s outlived the rollout it paused", policy.AnnotationPaused)
			}
			if live.Phase != policy.RolledBack || traffic(s) != "checkout-aa11bb22cc=100" {
				t.Errorf("live state %s, traffic %s; want RolledBack on stable", live.Phase, traffic(s))
			}
			// Repeats of the alert change nothing and send nothing more.
			patches := e.patches.Load()
			e.post(sample(t, "alertmanager-firing.json"), bearer())
			if e.patches.Load() != patches || len(e.sink.Events()) != 1 {
				t.Errorf("a repeated alert patched the Service (%d patches) or sent again (%d events)", e.patches.Load()-patches, len(e.sink.Events()))
			}
		})
	}
}

// TestAnAlertAboutOneRevisionActsOnThatRevisionOnly: a per-revision rule
// (docs/alerts.md) firing for the stable revision must not roll back and
// quarantine an innocent candidate.
func TestAnAlertAboutOneRevisionActsOnThatRevisionOnly(t *testing.T) {
	tests := []struct {
		name       string
		svc        *servingv1.Service
		revision   string
		rolledBack bool
	}{
		{
			name:       "mid-rollout, the candidate is unwell: rolled back",
			svc:        midRollout("shop", "checkout"),
			revision:   "checkout-00007",
			rolledBack: true,
		},
		{
			name:     "mid-rollout, the stable revision is unwell: not the candidate's fault",
			svc:      midRollout("shop", "checkout"),
			revision: "checkout-aa11bb22cc",
		},
		{
			name:       "in the bake window, the revision just promoted is unwell: rolled back",
			svc:        promoted("shop", "checkout", time.Minute),
			revision:   "checkout-00007",
			rolledBack: true,
		},
		{
			name:     "in the bake window, the previous stable revision is unwell: nothing to undo",
			svc:      promoted("shop", "checkout", time.Minute),
			revision: "checkout-aa11bb22cc",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.svc)
			code, msg := e.post(notification(alert("firing", map[string]string{"alertname": "HighErrorRate", "namespace": "shop",
				"service_name": "checkout", "revision_name": tc.revision, "severity": "critical"})), bearer())
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, msg)
			}
			_, st := e.svc("shop", "checkout")
			if got := st.Phase == policy.RolledBack; got != tc.rolledBack {
				t.Errorf("rolled back %v, want %v (%s)", got, tc.rolledBack, msg)
			}
			if n := len(e.sink.Events()); (n == 1) != tc.rolledBack {
				t.Errorf("%d rollout.rolledback events", n)
			}
			if !tc.rolledBack && !strings.Contains(msg, "the alert is about revision "+tc.revision) {
				t.Errorf("answer %q does not say why", msg)
			}
		})
	}
}

// TestRollbackToARevisionThatIsGone: the stable revision was
// garbage-collected; Knative would not route to it, so the rollback is
// reported as failed (503) and nothing is patched or announced.
func TestRollbackToARevisionThatIsGone(t *testing.T) {
	e := newEnvTB(t, midRollout("shop", "checkout")) // no Revision objects
	code, msg := e.post(sample(t, "alertmanager-firing.json"), bearer())
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "stable revision checkout-aa11bb22cc no longer exists") {
		t.Errorf("%d %s; want 503 naming the missing revision", code, msg)
	}
	if n := e.patches.Load(); n != 0 {
		t.Errorf("%d patches: a rollback that cannot route must not claim one", n)
	}
	if n := len(e.sink.Events()); n != 0 {
		t.Errorf("%d events sent", n)
	}
}

// TestTheAnswerSaysWhetherItRolledBack: Alertmanager gets 200 either way;
// the answer's status is rolled_back when an alert of the notification
// rolled its Service back, and ignored when nothing was to do (a
// resolved alert, a repeat of one already acted on).
func TestTheAnswerSaysWhetherItRolledBack(t *testing.T) {
	e := newEnv(t, midRollout("shop", "checkout"))
	status := func(body []byte) string {
		t.Helper()
		resp, b := testutil.Post(t, e.url+Route, http.Header{"Content-Type": {"application/json"}, "Authorization": {bearer()}}, bytes.NewReader(body))
		var answer struct{ Status, Message string }
		if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(b), &answer) != nil {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return answer.Status + ": " + answer.Message
	}
	for _, tc := range []struct {
		sample, want string
	}{
		{"alertmanager-resolved.json", "ignored: "},
		{"alertmanager-firing.json", "rolled_back: "},
		{"alertmanager-firing.json", "ignored: "}, // a repeat: already rolled back
	} {
		if got := status(sample(t, tc.sample)); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: answer %q, want status %q", tc.sample, got, tc.want)
		}
	}
}
