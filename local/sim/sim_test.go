package sim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
)

// desired is the Service as Git holds it (no generation, no status): the
// template named revision, and the traffic given.
func desired(image, revision string, traffic ...eventing.TrafficTarget) *servingv1.Service {
	return testutil.Service("demo", "hello", testutil.WithGeneration(0, 0), testutil.WithImage(image), testutil.WithTemplateName(revision),
		testutil.WithSpecTraffic(traffic...))
}

func target(revision string, percent int, tag string) eventing.TrafficTarget {
	return eventing.TrafficTarget{RevisionName: revision, Percent: percent, Tag: tag}
}

func TestClusterAdmitsLikeKnative(t *testing.T) {
	c := NewCluster(0, nil)
	ctx := context.Background()
	bad := desired("r.example.com/hello:1", "hello-a", target("hello-a", 95, "stable"))
	if err := c.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), "sum to 95") {
		t.Errorf("traffic summing to 95 was admitted: %v", err)
	}
	if err := c.Apply(ctx, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable"))); err != nil {
		t.Fatal(err)
	}
	// A patch is admitted only if the patched object validates.
	_, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType, []byte(`{"spec":{"template":{"metadata":{"name":"other-b"}}}}`), metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("a revision name without the Service's prefix was admitted: %v", err)
	}
}

func TestRevisionsBecomeReady(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	c := NewCluster(time.Hour, func(ch Change) { mu.Lock(); changes = append(changes, ch.Kind); mu.Unlock() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	if err := c.Apply(ctx, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestCreatedRevisionName != "hello-a" || s.Status.LatestReadyRevisionName != "" || len(s.Status.Traffic) != 0 {
		t.Errorf("before Ready: %+v", s.Status)
	}
	now = now.Add(time.Hour)
	c.Reconcile(ctx)
	s, _ = c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestReadyRevisionName != "hello-a" || TrafficOf(s) != "hello-a 100% (stable)" || s.Status.ObservedGeneration != s.Generation ||
		s.Status.Traffic[0].URL == nil || !strings.HasPrefix(s.Status.Traffic[0].URL.String(), "http://stable-hello.demo.") {
		t.Errorf("after Ready: %+v", s.Status)
	}
	// A broken image never becomes Ready, and the route keeps what it had.
	c.MarkBroken("r.example.com/hello:2")
	if err := c.Apply(ctx, desired("r.example.com/hello:2", "hello-b", target("hello-a", 0, "stable"), target("hello-b", 100, "candidate"))); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	c.Reconcile(ctx)
	s, _ = c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestCreatedRevisionName != "hello-b" || s.Status.LatestReadyRevisionName != "hello-a" || TrafficOf(s) != "hello-a 100% (stable)" {
		t.Errorf("broken revision: %+v", s.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(strings.Join(changes, ","), "Revision") < 3 || !strings.Contains(strings.Join(changes, ","), "Service") {
		t.Errorf("changes reported: %v", changes)
	}
}

func TestRegistryNotifies(t *testing.T) {
	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" || !strings.Contains(r.Header.Get("Content-Type"), "distribution.events") {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var env map[string]any
		json.Unmarshal(b, &env)
		got <- env
	}))
	defer hook.Close()
	reg, err := NewRegistry(hook.URL, "Bearer t")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img, _ := random.Image(64, 1)
	ref, _ := name.NewTag(reg.Host + "/team/hello:1.0.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	select {
	case env := <-got:
		ev := env["events"].([]any)[0].(map[string]any)
		target := ev["target"].(map[string]any)
		if ev["action"] != "push" || target["tag"] != "1.0.0" || target["digest"] != d.String() || target["repository"] != "team/hello" {
			t.Errorf("notification %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

func TestTrafficFiresOnABadImage(t *testing.T) {
	alerts := make(chan map[string]any, 8)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		alerts <- n
	}))
	defer am.Close()
	c := NewCluster(0, nil)
	ctx := context.Background()
	c.Apply(ctx, desired("r.example.com/hello:2", "hello-b", target("hello-b", 100, "stable")))
	c.Reconcile(ctx)
	tr := NewTraffic(c, am.URL, "Bearer x")
	if err := tr.Step(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 0 {
		t.Fatal("a healthy revision fired")
	}
	tr.MarkBad("r.example.com/hello:2")
	tr.Step(ctx, 100)
	n := <-alerts
	a := n["alerts"].([]any)[0].(map[string]any)
	labels := a["labels"].(map[string]any)
	if n["version"] != "4" || a["status"] != "firing" || labels["revision_name"] != "hello-b" || labels["service_name"] != "hello" || labels["severity"] != "critical" {
		t.Errorf("notification %v", n)
	}
	if req, errs := tr.ErrorRatio("demo", "hello-b"); req != 100 || errs != 100 {
		t.Errorf("window %d/%d", errs, req)
	}
}
