//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/local/sim"
)

// digestOf is a made-up image digest ending in the given hex digit.
func digestOf(c string) string { return "sha256:" + strings.Repeat(c, 64) }

// ksvc is a Knative Service with a named template and traffic split.
func ksvc(ns, name, revision, image string, traffic ...servingv1.TrafficTarget) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Template.Name = revision
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}}
	s.Spec.Traffic = traffic
	return s
}

func pin(revision string, percent int64, tag string) servingv1.TrafficTarget {
	latest := false
	return servingv1.TrafficTarget{RevisionName: revision, Percent: &percent, Tag: tag, LatestRevision: &latest}
}

// waitService waits until the live Service satisfies ok, and returns it.
func waitService(t *testing.T, c *cluster.Cluster, ns, name string, within time.Duration, what string, ok func(*servingv1.Service) bool) *servingv1.Service {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last *servingv1.Service
	err := cluster.Until(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := c.Healthy(); err != nil {
			return false, cluster.Permanent(err)
		}
		s, err := c.Serving.ServingV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = s
		return ok(s), nil
	})
	if err != nil {
		t.Fatalf("%s/%s never %s within %s: %v\nlast seen: %s", ns, name, what, within, err, describe(last))
	}
	return last
}

// ready is Knative's verdict: the Service's current generation is Ready.
func ready(s *servingv1.Service) bool {
	return s.Status.ObservedGeneration == s.Generation && s.IsReady()
}

// notReady is Knative's verdict that the current generation cannot be served.
func notReady(s *servingv1.Service) bool {
	c := s.Status.GetCondition(apis.ConditionReady)
	return s.Status.ObservedGeneration == s.Generation && c != nil && c.IsFalse()
}

// describe is a Service's generation, conditions and traffic, for failures.
func describe(s *servingv1.Service) string {
	if s == nil {
		return "nothing"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "generation %d observed %d;", s.Generation, s.Status.ObservedGeneration)
	for _, c := range s.Status.Conditions {
		fmt.Fprintf(&b, " %s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message)
	}
	fmt.Fprintf(&b, "; traffic %s", sim.TargetsText(s.Status.Traffic))
	return b.String()
}

// TestKnativeDecidesReadinessAndTraffic checks the harness against what the
// issue measured on this kind of machine: Knative's own controller makes a
// Service with a named revision Ready, reports a traffic split in
// status.traffic, its webhook refuses a template change without a new name,
// and traffic to a missing revision makes the Service not Ready.
func TestKnativeDecidesReadinessAndTraffic(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ns := "e2e"
	if _, err := c.Kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svcs := c.Serving.ServingV1().Services(ns)
	imageA := "registry.example.com/team/hello@" + digestOf("a")
	imageB := "registry.example.com/team/hello@" + digestOf("b")

	start := time.Now()
	if _, err := svcs.Create(ctx, ksvc(ns, "hello", "hello-a", imageA, pin("hello-a", 100, "stable")), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitService(t, c, ns, "hello", 60*time.Second, "Ready", ready)
	t.Logf("first revision Ready in %s", time.Since(start).Round(10*time.Millisecond))

	live, err := svcs.Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	next := live.DeepCopy()
	next.Spec.Template.Name = "hello-b"
	next.Spec.Template.Spec.Containers[0].Image = imageB
	next.Spec.Traffic = []servingv1.TrafficTarget{pin("hello-a", 90, "stable"), pin("hello-b", 10, "candidate")}
	start = time.Now()
	if _, err := svcs.Update(ctx, next, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := waitService(t, c, ns, "hello", 60*time.Second, "Ready with 90/10", ready)
	t.Logf("second revision Ready with 90/10 in %s", time.Since(start).Round(10*time.Millisecond))
	if want := "hello-b 10% (candidate), hello-a 90% (stable)"; sim.TargetsText(got.Status.Traffic) != want {
		t.Errorf("status.traffic = %s, want %s", sim.TargetsText(got.Status.Traffic), want)
	}

	// The webhook's rule the safety issue's case 0 is about.
	changed := got.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = imageA
	_, err = svcs.Update(ctx, changed, metav1.UpdateOptions{})
	if err == nil || !strings.Contains(err.Error(), "Saw the following changes without a name change") {
		t.Errorf("a template change under the same name: err = %v, want Knative's refusal", err)
	}

	missing := got.DeepCopy()
	missing.Spec.Traffic = []servingv1.TrafficTarget{pin("hello-a", 50, "stable"), pin("hello-nope", 50, "candidate")}
	start = time.Now()
	if _, err := svcs.Update(ctx, missing, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitService(t, c, ns, "hello", 30*time.Second, "not Ready (traffic to a missing revision)", notReady)
	t.Logf("traffic to a missing revision: not Ready in %s", time.Since(start).Round(10*time.Millisecond))
}

// serviceEvents lists the events.k8s.io Events about one Knative Service.
func serviceEvents(t *testing.T, c *cluster.Cluster, ns, name string) []eventsv1.Event {
	t.Helper()
	list, err := c.Kube.EventsV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []eventsv1.Event
	for _, ev := range list.Items {
		if ev.Regarding.Kind == "Service" && ev.Regarding.Name == name {
			out = append(out, ev)
		}
	}
	return out
}
