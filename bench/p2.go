package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	fakeserving "knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/rollback"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

const (
	p2Namespace = "bench"
	alertToken  = "bench-alert-token"
	stormSize   = 20
)

// p2Service is the i-th Service of P2, mid-rollout: stable v1 75%,
// candidate v2 25%.
func p2Service(i int) *servingv1.Service {
	name := fmt.Sprintf("svc-%02d", i)
	started := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	st := policy.State{Phase: policy.Progressing, Stable: name + "-v1", StableImage: "registry.bench.local/team/" + name + ":1.0.0@" + digest(name+"1"),
		Candidate: name + "-v2", CandidateImage: "registry.bench.local/team/" + name + ":1.1.0@" + digest(name+"2"), Step: 2, StartedAt: &started}
	return testutil.Service(p2Namespace, name, testutil.WithAnnotation(policy.AnnotationTrack, "semver:^1.0.0"), testutil.WithState(st),
		testutil.WithTemplateName(st.Candidate), testutil.WithImage(st.CandidateImage),
		testutil.WithSpecTraffic(eventing.TrafficTarget{RevisionName: st.Stable, Percent: 75, Tag: "stable"}, eventing.TrafficTarget{RevisionName: st.Candidate, Percent: 25, Tag: "candidate"}))
}

// alertsFor is an Alertmanager notification of one firing alert per Service.
func alertsFor(group string, services ...int) string {
	var alerts []string
	for _, i := range services {
		alerts = append(alerts, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"HighErrorRate","namespace":%q,"service_name":"svc-%02d","severity":"critical"},"annotations":{},"startsAt":%q,"endsAt":"0001-01-01T00:00:00Z","fingerprint":"%s%02d"}`,
			p2Namespace, i, time.Now().UTC().Format(time.RFC3339), group, i))
	}
	return fmt.Sprintf(`{"version":"4","groupKey":%q,"status":"firing","receiver":"slipstream","alerts":[%s]}`, group, strings.Join(alerts, ","))
}

// patchTimes wraps rollback's cluster adapter and notes when each Service's
// first patch since reset was answered by the API.
type patchTimes struct {
	rollback.Cluster
	mu sync.Mutex
	at map[string]time.Time
}

func (p *patchTimes) Patch(ctx context.Context, svc *servingv1.Service, ch kservice.Change) (*servingv1.Service, error) {
	s, err := p.Cluster.Patch(ctx, svc, ch)
	if err == nil {
		p.mu.Lock()
		if _, ok := p.at[svc.Name]; !ok {
			p.at[svc.Name] = time.Now()
		}
		p.mu.Unlock()
	}
	return s, err
}

func (p *patchTimes) reset() { p.mu.Lock(); p.at = map[string]time.Time{}; p.mu.Unlock() }

func (p *patchTimes) get(name string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.at[name]
	return t, ok
}

// rollbackUnder serves rollback over serving with concurrency; it returns
// its URL, the patch recorder and a stop.
func rollbackUnder(serving servingclient.Interface, concurrency int) (string, *patchTimes, func(), error) {
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	shared := testutil.Shared(sink.URL)
	shared.LogLevel, shared.MaxInFlight, shared.RequestTimeout = "error", 256, time.Minute
	h, err := host.New(rollback.Name, shared, slog.New(slog.DiscardHandler))
	if err != nil {
		sink.Close()
		return "", nil, nil, err
	}
	send, err := h.Sender()
	if err != nil {
		sink.Close()
		return "", nil, nil, err
	}
	matchers, err := policy.ParseMatchers(`severity="critical"`)
	if err != nil {
		sink.Close()
		return "", nil, nil, err
	}
	cfg := config.Rollback{TokenFile: config.NewSecret([]byte(alertToken)), NamespaceLabels: []string{"namespace"}, ServiceLabels: []string{"service_name"},
		RevisionLabels: []string{"revision_name"}, DefaultRollbackOn: matchers, APITimeout: 10 * time.Second, Concurrency: concurrency}
	pt := &patchTimes{Cluster: kservice.New(serving, 10*time.Second), at: map[string]time.Time{}}
	rb, err := rollback.New(cfg, pt, send)
	if err != nil {
		sink.Close()
		return "", nil, nil, err
	}
	srv := httptest.NewServer(h.Handler(rb.Function()))
	return srv.URL, pt, func() { srv.Close(); sink.Close() }, nil
}

// postAlert sends a notification and returns once rollback answered.
func postAlert(ctx context.Context, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+rollback.Route, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+alertToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("rollback answered %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// p2Cluster is where P2's Services live: the serving client rollback
// uses, with a rate limit, and a reset of Services to mid-rollout.
type p2Cluster struct {
	name   string
	client func(qps float32, burst int) (servingclient.Interface, error)
	reset  func(ctx context.Context, i int) error
}

// p2Fake is the serving fake clientset (no rate limit applies).
func p2Fake() p2Cluster {
	var objects []runtime.Object
	for i := range stormSize {
		s := p2Service(i)
		objects = append(objects, s, &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: p2Namespace, Name: s.Name + "-v1",
			Labels: map[string]string{"serving.knative.dev/service": s.Name}}})
	}
	cs := fakeserving.NewSimpleClientset(objects...)
	return p2Cluster{name: fakeName, client: func(float32, int) (servingclient.Interface, error) { return cs, nil },
		reset: func(ctx context.Context, i int) error { return resetService(ctx, cs, i) }}
}

// resetService puts the i-th Service back mid-rollout.
func resetService(ctx context.Context, cs servingclient.Interface, i int) error {
	want := p2Service(i)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := cs.ServingV1().Services(p2Namespace).Get(ctx, want.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if live.Annotations == nil {
			live.Annotations = map[string]string{}
		}
		for k, v := range want.Annotations { // Knative's own (creator, lastModifier) stay
			live.Annotations[k] = v
		}
		delete(live.Annotations, policy.AnnotationRollback)
		if live.Spec.Template.Name != want.Spec.Template.Name {
			live.Spec.Template = want.Spec.Template // the candidate, once
		} // else the template Knative defaulted stays: a changed one needs a new name
		live.Spec.Traffic = want.Spec.Traffic
		_, err = cs.ServingV1().Services(p2Namespace).Update(ctx, live, metav1.UpdateOptions{})
		return err
	})
}

// p2Real is a real kube-apiserver with Knative Serving's controller and
// webhook (e2e/cluster): each Service's stable revision exists.
func p2Real(ctx context.Context, c *cluster.Cluster) (p2Cluster, error) {
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p2Namespace}}, metav1.CreateOptions{}); err != nil {
		return p2Cluster{}, err
	}
	for i := range stormSize {
		s := p2Service(i)
		first := s.DeepCopy()
		first.Annotations = nil
		first.Spec.Template.Name = s.Name + "-v1"
		first.Spec.Traffic = nil
		first.Spec.Template.Spec.Containers[0].Image = "registry.bench.local/team/" + s.Name + "@" + digest(s.Name+"1")
		if _, err := c.Serving.ServingV1().Services(p2Namespace).Create(ctx, first, metav1.CreateOptions{}); err != nil {
			return p2Cluster{}, err
		}
	}
	for i := range stormSize {
		name := fmt.Sprintf("svc-%02d-v1", i)
		if err := cluster.Until(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
			_, err := c.Serving.ServingV1().Revisions(p2Namespace).Get(ctx, name, metav1.GetOptions{})
			return err == nil, nil
		}); err != nil {
			return p2Cluster{}, fmt.Errorf("revision %s never appeared: %w", name, err)
		}
		if err := resetService(ctx, c.Serving, i); err != nil {
			return p2Cluster{}, err
		}
	}
	return p2Cluster{name: "kube-apiserver v1.29.2",
		client: func(qps float32, burst int) (servingclient.Interface, error) {
			return servingclient.NewForConfig(withLimit(c, qps, burst))
		},
		reset: func(ctx context.Context, i int) error { return resetService(ctx, c.Serving, i) }}, nil
}

// tickRuns is how many ticks are timed per writer as the code is (the
// baseline's one tick takes half a minute).
const tickRuns = 5

// fakeName names the fake clientset's figures.
const fakeName = "fake clientset"

// withLimit is the cluster's admin client configuration with client-go's
// rate limit set.
func withLimit(c *cluster.Cluster, qps float32, burst int) *rest.Config {
	cfg := rest.CopyConfig(c.Admin)
	cfg.QPS, cfg.Burst = qps, burst
	return cfg
}

// p2Config is one way the rollback path was configured.
type p2Config struct {
	label       string
	qps         float32
	burst       int
	concurrency int // rollback's Services of one notification at once
	tick        int // rollout's Services of one tick at once
}

// measure runs the three P2 scenarios on cl with cfg: a lone alert (runs
// times), a storm of stormSize notifications sent at once, and a storm in
// one grouped notification. Each figure is webhook sent → Service patched.
func (cl p2Cluster) measure(ctx context.Context, cfg p2Config, runs int) (lone, separate, grouped Summary, err error) {
	serving, err := cl.client(cfg.qps, cfg.burst)
	if err != nil {
		return
	}
	url, pt, stop, err := rollbackUnder(serving, cfg.concurrency)
	if err != nil {
		return
	}
	defer stop()
	resetAll := func() error {
		for i := range stormSize {
			if err := cl.reset(ctx, i); err != nil {
				return err
			}
		}
		pt.reset()
		return nil
	}
	var lones []time.Duration
	for range runs {
		if err = cl.reset(ctx, 0); err != nil {
			return
		}
		pt.reset()
		start := time.Now()
		if err = postAlert(ctx, url, alertsFor("lone", 0)); err != nil {
			return
		}
		at, ok := pt.get("svc-00")
		if !ok {
			err = fmt.Errorf("%s: the lone alert patched nothing", cl.name)
			return
		}
		lones = append(lones, at.Sub(start))
	}
	storm := func(send func(start time.Time) error) (Summary, error) {
		if err := resetAll(); err != nil {
			return Summary{}, err
		}
		start := time.Now()
		if err := send(start); err != nil {
			return Summary{}, err
		}
		var ds []time.Duration
		for i := range stormSize {
			at, ok := pt.get(fmt.Sprintf("svc-%02d", i))
			if !ok {
				return Summary{}, fmt.Errorf("%s: svc-%02d was not patched", cl.name, i)
			}
			ds = append(ds, at.Sub(start))
		}
		return Summarize(ds), nil
	}
	separate, err = storm(func(time.Time) error {
		errs := make(chan error, stormSize)
		for i := range stormSize {
			go func() { errs <- postAlert(ctx, url, alertsFor(fmt.Sprintf("g%02d", i), i)) }()
		}
		var first error
		for range stormSize {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		return first
	})
	if err != nil {
		return
	}
	all := make([]int, stormSize)
	for i := range all {
		all[i] = i
	}
	grouped, err = storm(func(time.Time) error { return postAlert(ctx, url, alertsFor("storm", all...)) })
	return Summarize(lones), separate, grouped, err
}

// P2 measures alert → traffic restored: an Alertmanager notification sent
// to rollback until the Service's patch was answered by the API, for a lone
// alert and a storm of stormSize Services (one notification each, all at
// once; and all in one grouped notification), on the fake clientset and, when
// the e2e peers are built, a real kube-apiserver with Knative Serving. Each
// is measured as the rollback path was (client-go's default rate limit, one
// Service at a time) and as it is, in the same run.
func P2(ctx context.Context, work, root, cache string, runs int) (Section, error) {
	sec := Section{Title: "P2 alert → traffic restored",
		Intro: "An Alertmanager notification (webhook format 4) sent to rollback's HTTP route until the traffic patch of the " +
			"Service was answered by the API (one read of the Service, one of the stable revision, one patch; the " +
			"`rollout.rolledback` event and its record come after). *storm, separate*: 20 Services failing at once, one " +
			"notification each, sent together; *storm, grouped*: the same 20 alerts in one notification. Each figure is " +
			"over the 20 Services (its p99 is the last one restored). The baseline is the rollback path as it was — " +
			"client-go's default rate limit (5 requests/s, bursts of 10) and one Service after another — measured in the " +
			"same run. The fake clientset has no rate limit and no network: it shows the function's own cost. " +
			"*rollout tick*: one PingSource tick sent to rollout (a fresh instance each time) while 50 managed Services are each " +
			"at step 1 of 10→25→50→100% with their pause over, until rollout answered, every Service moved to step 2 (checked: " +
			"50 `traffic.shifted`, the reply and 49 sent); with the git writer a Service costs reads and an event, with the " +
			"cluster writer a patch of the live Service too. The Services are put back between ticks and the next tick waits " +
			"for Knative to show them. Its baseline is today's code at client-go's default limit, one Service at a time."}
	before := p2Config{label: "as it was: 5/s, burst 10, one at a time", qps: 5, burst: 10, concurrency: 1, tick: 1}
	after := p2Config{label: "now: 50/s, burst 100, 16 at once", qps: 50, burst: 100, concurrency: 16, tick: 8}
	clusters, ticks := []p2Cluster{p2Fake()}, []tickCluster{tickFake()}
	start := time.Now()
	dir := filepath.Join(work, "p2-cluster")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sec, err
	}
	c, err := cluster.Start(ctx, cluster.Options{Root: root, Dir: dir, Cache: cache})
	if err != nil {
		sec.Notes = fmt.Sprintf("Not measured against a real kube-apiserver in this run: the control plane did not start (%v). "+
			"`make bench` builds it into the e2e cache when it is missing (Kubernetes, Knative Serving and kwok: about 20 minutes "+
			"on two cores, once; `make e2e-peers` builds every e2e peer), and runs Debian's etcd (`apt-get install etcd-server`).", firstLine(err))
	} else {
		defer c.Stop()
		real, err := p2Real(ctx, c)
		if err != nil {
			return sec, err
		}
		clusters = append(clusters, real)
		sec.Notes = fmt.Sprintf("The real control plane (e2e/cluster: etcd, kube-apiserver v1.29.2, Knative Serving v0.42.2's "+
			"controller and webhook, kwok for the pods, on loopback) started and was seeded in %s. ", time.Since(start).Round(100*time.Millisecond))
	}
	for _, cl := range clusters {
		bl, bs, bg, err := cl.measure(ctx, before, runs)
		if err != nil {
			return sec, fmt.Errorf("%s, %s: %w", cl.name, before.label, err)
		}
		al, as, ag, err := cl.measure(ctx, after, runs)
		if err != nil {
			return sec, fmt.Errorf("%s, %s: %w", cl.name, after.label, err)
		}
		target := func(f Figure, s Summary) Figure {
			if cl.name == fakeName {
				return f
			}
			return f.Against("p99 < 50 ms", s.P99 < 50*time.Millisecond, fmt.Sprintf("by %s", Ms(s.P99-50*time.Millisecond)))
		}
		sec.Figures = append(sec.Figures,
			target(Timing("lone alert — "+cl.name, al, before.label, bl), al),
			target(Timing("storm, separate — "+cl.name, as, before.label, bs), as),
			target(Timing("storm, grouped — "+cl.name, ag, before.label, bg), ag))
	}
	if len(clusters) > 1 { // the tick's 50 Services (100 pods) only after the storms: Knative is busy with them a while
		seeded := time.Now()
		if tick, err := tickReal(ctx, c); err != nil { // the storm's figures stand; say why the tick's real rows are missing
			sec.Notes += fmt.Sprintf("The tick was not measured on the real control plane in this run: seeding its Services failed (%v). ", firstLine(err)) + p2Notes
		} else {
			ticks = append(ticks, tick)
			sec.Notes += fmt.Sprintf("The tick's 50 Services were seeded after the storms (both revisions of each Ready) in %s. ",
				time.Since(seeded).Round(100*time.Millisecond)) + p2Notes
		}
	}
	for _, tc := range ticks {
		baseRuns := 1 // half a minute a tick at 5/s
		if tc.name == fakeName {
			baseRuns = tickRuns
		}
		fs, err := tickFigures(ctx, tc, before, after, baseRuns, tickRuns)
		if err != nil {
			return sec, err
		}
		sec.Figures = append(sec.Figures, fs...)
	}
	return sec, nil
}

// p2Notes reads the real control plane's figures.
const p2Notes = `The rollout tick: before it was changed (measured here at ca0b566) a tick over the 50 Services took 1068 ms
with the git writer and 4678 ms with the cluster writer at 50 requests/s, and 28.2 s and 38.2 s at client-go's
default 5/s: each Service was read again after the tick had listed it, its stable revision was read at every
decision although only a rollback needs it, and the Services were decided one after another. Now a tick decides
from its list's copies (a copy that changed since meets a conflict on its patch and is read again), reads the stable
revision only to roll back, and decides 8 Services at once (SLIPSTREAM_ROLLOUT_CONCURRENCY): a Service costs the
read of its candidate revision, the Event that tells the step on the Service and, with the cluster writer, its patch —
by that count (the calls each decision makes, not measured here) 101 requests for the 50 with the git writer and 151
with the cluster writer, where past the burst of 100 the limiter spaces the rest at 50 a second. How long the last of
the 50 waits for its step after a tick is the tick rows of the table above (the git writer's commits then go through
promote and the sync).

As it was, the storm queued behind client-go's limiter: each Service takes three requests to roll back and
a fourth to record the announcement, so past the burst of 10 each waited its turn at 5 a second. Now the limit is 50/s
(SLIPSTREAM_KUBE_QPS, bursts of SLIPSTREAM_KUBE_BURST 100) and the Services of one notification are rolled back 16 at a
time (SLIPSTREAM_ROLLBACK_CONCURRENCY); connections are reused (one client per function).

The 50 ms target for every Service of a storm is not met on this machine. Every patch of a Knative Service goes
through Knative's webhooks (defaulting and validation: two admission calls), and the two cores run etcd, the apiserver,
the webhook and Knative's controller, which reconciles the 20 Services the storm changes at the same time; the 20
rollbacks are 80 requests. What would close it: fewer calls per Service (the stable revision's read could be skipped
when the live Service's status already routes to it), and a control plane that does not share two cores with
everything else; the figure to watch is the lone alert's, which is the apiserver and webhook round trip itself.`

// firstLine is an error's first line.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
