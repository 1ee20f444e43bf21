package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	fakeserving "knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/rollout"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

const (
	tickNamespace = "bench-tick"
	tickServices  = 50
)

// tickName is the i-th Service of the tick scenario.
func tickName(i int) string { return fmt.Sprintf("tick-%02d", i) }

// tickTraffic is step 1 of 10→25→50→100: stable v1 90%, candidate v2 10%.
func tickTraffic(name string) []eventing.TrafficTarget {
	return []eventing.TrafficTarget{{RevisionName: name + "-v1", Percent: 90, Tag: "stable"}, {RevisionName: name + "-v2", Percent: 10, Tag: "candidate"}}
}

// tickDue sets the annotations of a Service at step 1 whose one-minute
// pause ended an hour ago: the next tick moves it to step 2.
func tickDue(s *servingv1.Service, writer policy.Writer) {
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	st := policy.State{Phase: policy.Progressing, Stable: s.Name + "-v1", StableImage: tickImage(s.Name, "1"),
		Candidate: s.Name + "-v2", CandidateImage: tickImage(s.Name, "2"), Steps: []int{10, 25, 50, 100}, Step: 1,
		StartedAt: &past, StepStartedAt: &past, Reason: "step 1 of 4 is live"}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	s.Annotations[policy.AnnotationTrack] = "semver:^1.0.0"
	s.Annotations[policy.AnnotationPause] = "1m"
	s.Annotations[policy.AnnotationTrafficWriter] = string(writer)
	s.Annotations[policy.AnnotationRollout] = st.String()
	s.Spec.Traffic = kservice.ToKnative(tickTraffic(s.Name))
}

func tickImage(name, v string) string {
	return "registry.bench.local/team/" + name + ":1." + v + ".0@" + digest(name+v)
}

// tickCluster is where the tick's Services live: the serving client
// rollout uses, with a rate limit, and a reset of every Service to due.
type tickCluster struct {
	name   string
	client func(qps float32, burst int) (servingclient.Interface, error)
	reset  func(ctx context.Context, writer policy.Writer) error
}

// tickFake is the serving fake clientset with the tick's Services, each
// reconciled and both revisions Ready.
func tickFake() tickCluster {
	var objects []runtime.Object
	for i := range tickServices {
		name := tickName(i)
		objects = append(objects, testutil.Service(tickNamespace, name, testutil.WithGeneration(2, 2), testutil.WithTemplateName(name+"-v2"),
			testutil.WithImage(tickImage(name, "2")), testutil.WithLatest(name+"-v2", name+"-v2"), testutil.WithTraffic(tickTraffic(name)...), testutil.WithRouted()))
		for _, v := range []string{"-v1", "-v2"} {
			rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Namespace: tickNamespace, Name: name + v, CreationTimestamp: metav1.Now(),
				Labels: map[string]string{"serving.knative.dev/service": name}}}
			rev.Status.SetConditions(apis.Conditions{{Type: servingv1.RevisionConditionReady, Status: corev1.ConditionTrue}})
			objects = append(objects, rev)
		}
	}
	cs := fakeserving.NewSimpleClientset(objects...)
	return tickCluster{name: fakeName, client: func(float32, int) (servingclient.Interface, error) { return cs, nil },
		reset: func(ctx context.Context, writer policy.Writer) error {
			return resetTick(ctx, cs, writer, func(s *servingv1.Service) { s.Status.Traffic = s.Spec.Traffic })
		}}
}

// resetTick puts every Service back at step 1, due; also (the fake) plays
// Knative's part on each.
func resetTick(ctx context.Context, cs servingclient.Interface, writer policy.Writer, also func(*servingv1.Service)) error {
	for i := range tickServices {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live, err := cs.ServingV1().Services(tickNamespace).Get(ctx, tickName(i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			tickDue(live, writer)
			if also != nil {
				also(live)
			}
			_, err = cs.ServingV1().Services(tickNamespace).Update(ctx, live, metav1.UpdateOptions{})
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// tickReal seeds the tick's Services on the real control plane: each
// created at v1, then moved to v2 at step 1 (90/10), both revisions Ready
// (kwok runs their pods) and the route programmed.
func tickReal(ctx context.Context, c *cluster.Cluster) (tickCluster, error) {
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tickNamespace}}, metav1.CreateOptions{}); err != nil {
		return tickCluster{}, err
	}
	services := c.Serving.ServingV1().Services(tickNamespace)
	for i := range tickServices {
		name := tickName(i)
		s := testutil.Service(tickNamespace, name, testutil.WithTemplateName(name+"-v1"), testutil.WithImage(tickImage(name, "1")))
		s.Generation, s.Status = 0, servingv1.ServiceStatus{}
		if _, err := services.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			return tickCluster{}, err
		}
	}
	if err := tickSettled(ctx, services, func(s *servingv1.Service) bool { return s.Status.LatestReadyRevisionName == s.Name+"-v1" }); err != nil {
		return tickCluster{}, fmt.Errorf("v1 never became Ready: %w", err)
	}
	for i := range tickServices {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			live, err := services.Get(ctx, tickName(i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			live.Spec.Template.Name = live.Name + "-v2"
			live.Spec.Template.Spec.Containers[0].Image = tickImage(live.Name, "2")
			tickDue(live, policy.WriterGit)
			_, err = services.Update(ctx, live, metav1.UpdateOptions{})
			return err
		}); err != nil {
			return tickCluster{}, err
		}
	}
	reset := func(ctx context.Context, writer policy.Writer) error {
		if err := resetTick(ctx, c.Serving, writer, nil); err != nil {
			return err
		}
		return tickSettled(ctx, services, func(s *servingv1.Service) bool {
			return s.Status.LatestReadyRevisionName == s.Name+"-v2" && kservice.Share(s.Status.Traffic, s.Name+"-v1") == 90 && kservice.Share(s.Status.Traffic, s.Name+"-v2") == 10
		})
	}
	if err := reset(ctx, policy.WriterGit); err != nil {
		return tickCluster{}, fmt.Errorf("v2 at 10%% never became Ready: %w", err)
	}
	return tickCluster{name: "kube-apiserver v1.29.2",
		client: func(qps float32, burst int) (servingclient.Interface, error) {
			return servingclient.NewForConfig(withLimit(c, qps, burst))
		}, reset: reset}, nil
}

// tickSettled waits until every tick Service is reconciled, Ready and ok.
func tickSettled(ctx context.Context, services interface {
	List(context.Context, metav1.ListOptions) (*servingv1.ServiceList, error)
}, ok func(*servingv1.Service) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var last string
	err := cluster.Until(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		list, err := services.List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		n := 0
		for i := range list.Items {
			s := &list.Items[i]
			if s.Generation == s.Status.ObservedGeneration && s.IsReady() && ok(s) {
				n++
			} else {
				last = s.Name
			}
		}
		return n == tickServices, nil
	})
	if err != nil {
		return fmt.Errorf("%w (still waiting on %s among others)", err, last)
	}
	return nil
}

// tickRun is one PingSource tick sent to a fresh rollout instance over
// serving: how long rollout took to answer it, after checking that it
// moved every Service to step 2 (50 traffic.shifted: the reply and 49
// sent).
func tickRun(ctx context.Context, serving servingclient.Interface, concurrency int) (time.Duration, error) {
	var sent atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Header.Get("Ce-Type") == eventing.TypeTrafficShifted {
			sent.Add(1)
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	shared := testutil.Shared(sink.URL)
	shared.LogLevel, shared.MaxInFlight, shared.RequestTimeout = "error", 16, 5*time.Minute
	h, err := host.New(rollout.Name, shared, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0, err
	}
	send, err := h.Sender()
	if err != nil {
		return 0, err
	}
	r, err := rollout.New(kservice.New(serving, time.Minute), rollout.WithSender(send), rollout.WithNamespaces([]string{tickNamespace}),
		rollout.WithMaxWait(0), rollout.WithConcurrency(concurrency))
	if err != nil {
		return 0, err
	}
	srv := httptest.NewServer(h.Handler(r.Function()))
	defer srv.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, strings.NewReader("{}"))
	if err != nil {
		return 0, err
	}
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": fmt.Sprint(time.Now().UnixNano()), "Ce-Source": "/apis/v1/namespaces/slipstream/pingsources/rollout-tick",
		"Ce-Type": eventing.TypePing, "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	took := time.Since(start)
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Ce-Type") != eventing.TypeTrafficShifted {
		return 0, fmt.Errorf("the tick was answered %d %q: %s", resp.StatusCode, resp.Header.Get("Ce-Type"), msg)
	}
	if n := sent.Load() + 1; n != tickServices {
		return 0, fmt.Errorf("the tick moved %d Services of %d to their next step", n, tickServices)
	}
	return took, nil
}

// measureTick runs the tick runs times with each writer on cl, as cfg
// configures the client, and returns the durations by writer.
func (cl tickCluster) measureTick(ctx context.Context, cfg p2Config, runs int) (map[policy.Writer]Summary, error) {
	serving, err := cl.client(cfg.qps, cfg.burst)
	if err != nil {
		return nil, err
	}
	out := map[policy.Writer]Summary{}
	for _, w := range []policy.Writer{policy.WriterGit, policy.WriterCluster} {
		var ds []time.Duration
		for range runs {
			if err := cl.reset(ctx, w); err != nil {
				return nil, fmt.Errorf("resetting the Services: %w", err)
			}
			d, err := tickRun(ctx, serving, cfg.tick)
			if err != nil {
				return nil, fmt.Errorf("%s writer: %w", w, err)
			}
			ds = append(ds, d)
		}
		out[w] = Summarize(ds)
	}
	return out, nil
}

// tickBaseline names the tick's baseline: the old code is not in the
// tree, so it is today's at the old limit, one Service at a time (the old
// code's own figures are in p2Notes).
const tickBaseline = "today's code at 5/s, burst 10, one at a time"

// tickFigures measures the rollout tick on cl as it is (runs), beside
// as it was (baseRuns; the fake has no rate limit, so there it is one at a
// time), one figure per writer.
func tickFigures(ctx context.Context, cl tickCluster, before, after p2Config, baseRuns, runs int) ([]Figure, error) {
	was, err := cl.measureTick(ctx, before, baseRuns)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", cl.name, before.label, err)
	}
	now, err := cl.measureTick(ctx, after, runs)
	if err != nil {
		return nil, fmt.Errorf("%s, %s: %w", cl.name, after.label, err)
	}
	var fs []Figure
	for _, w := range []policy.Writer{policy.WriterGit, policy.WriterCluster} {
		what := map[policy.Writer]string{policy.WriterGit: "git writer: reads and 50 events", policy.WriterCluster: "cluster writer: 50 patches"}[w]
		fs = append(fs, Timing(fmt.Sprintf("rollout tick over %d Services each due a step (%s) — %s", tickServices, what, cl.name), now[w], tickBaseline, was[w]))
	}
	return fs, nil
}
