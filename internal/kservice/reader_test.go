package kservice_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"
	"knative.dev/serving/pkg/reconciler/configuration/resources"

	"github.com/google/go-cmp/cmp"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// liveService is a reconciled live Service whose route serves traffic.
func liveService(latest string, traffic ...eventing.TrafficTarget) *servingv1.Service {
	return testutil.Service("demo", "hello", testutil.WithGeneration(3, 3), testutil.WithImage("registry.example.com/team/hello:1.0.0"),
		testutil.WithLatest(latest, latest), testutil.WithStatusTraffic(traffic...))
}

func served(revision string, percent int) eventing.TrafficTarget {
	return eventing.TrafficTarget{RevisionName: revision, Percent: percent}
}

func TestLive(t *testing.T) {
	ctx := context.Background()
	c := kservice.New(fake.NewSimpleClientset(liveService("hello-00002", served("hello-00002", 100))), 0)
	l, err := c.Live(ctx, "demo", "hello")
	if err != nil || !l.Exists || l.Serving != "hello-00002" || l.Image != "registry.example.com/team/hello:1.0.0" {
		t.Errorf("got %+v %v", l, err)
	}
	// Mid-rollout elsewhere: the most-served revision, image unknown when it is not the latest.
	c = kservice.New(fake.NewSimpleClientset(liveService("hello-00003", served("hello-00002", 80), served("hello-00003", 20))), 0)
	if l, err = c.Live(ctx, "demo", "hello"); err != nil || l.Serving != "hello-00002" || l.Image != "" {
		t.Errorf("got %+v %v", l, err)
	}
	if l, err = c.Live(ctx, "demo", "nope"); err != nil || l.Exists {
		t.Errorf("missing Service: %+v err %v", l, err)
	}
	// A Service whose first revision never became Ready serves nothing: nothing to protect.
	c = kservice.New(fake.NewSimpleClientset(liveService("")), 0)
	if l, err = c.Live(ctx, "demo", "hello"); err != nil || !l.Exists || l.Serving != "" {
		t.Errorf("Service serving nothing: %+v err %v", l, err)
	}
	// The live state counts a rollback recorded in the cluster.
	progressing := policy.State{Phase: policy.Progressing, Stable: "hello-00002", Candidate: "hello-00003", Step: 1}
	rolledBack := policy.State{Phase: policy.RolledBack, Stable: "hello-00002", Candidate: "hello-00003", Reason: "alert"}
	c = kservice.New(fake.NewSimpleClientset(testutil.Service("demo", "hello", testutil.WithState(progressing),
		testutil.WithAnnotation(policy.AnnotationRollback, rolledBack.String()))), 0)
	if l, err = c.Live(ctx, "demo", "hello"); err != nil || l.State.Phase != policy.RolledBack || l.StateErr != nil {
		t.Errorf("a rollback recorded in the cluster: state %s (%v), err %v", l.State, l.StateErr, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{
			err:  apierrors.NewForbidden(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", errors.New("rbac")),
			want: kservice.ErrForbidden,
		},
		{
			err:  apierrors.NewServiceUnavailable("etcd"),
			want: kservice.ErrUnavailable,
		},
		{
			err:  errors.New("connection refused"),
			want: kservice.ErrUnavailable,
		},
	} {
		cs := fake.NewSimpleClientset()
		cs.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
		_, err := kservice.New(cs, 0).Live(context.Background(), "demo", "hello")
		if !errors.Is(err, tc.want) {
			t.Errorf("%v classified as %v, want %v", tc.err, err, tc.want)
		}
	}
}

// TestPatchKeepsRoutesItDoesNotOwn: a traffic patch replaces slipstream's
// targets and keeps a person's 0% preview route.
func TestPatchKeepsRoutesItDoesNotOwn(t *testing.T) {
	svc := testutil.Service("demo", "hello", testutil.WithSpecTraffic(
		eventing.TrafficTarget{RevisionName: "hello-a", Percent: 90, Tag: "stable"},
		eventing.TrafficTarget{RevisionName: "hello-b", Percent: 10, Tag: "candidate"},
		eventing.TrafficTarget{RevisionName: "hello-p", Percent: 0, Tag: "preview"}))
	c := kservice.New(fake.NewSimpleClientset(svc), 0)
	out, err := c.Patch(context.Background(), svc, kservice.Change{Traffic: []eventing.TrafficTarget{{RevisionName: "hello-a", Percent: 100, Tag: "stable"}}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range out.Spec.Traffic {
		got = append(got, fmt.Sprintf("%s %d%% %s", tr.RevisionName, *tr.Percent, tr.Tag))
	}
	if diff := cmp.Diff([]string{"hello-a 100% stable", "hello-p 0% preview"}, got); diff != "" {
		t.Errorf("traffic (-want +got):\n%s", diff)
	}
}

// TestRevisionTemplateIsTheTemplateThatMadeIt: a Revision made by Knative's
// own MakeRevision (the labels and annotations its controllers add
// included) gives back the template it was made from.
func TestRevisionTemplateIsTheTemplateThatMadeIt(t *testing.T) {
	ctx := context.Background()
	tmpl := servingv1.RevisionTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Name: "hello-2f13892484", Labels: map[string]string{"team": "checkout"},
			Annotations: map[string]string{"autoscaling.knative.dev/min-scale": "1"}},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "registry.example.com/team/hello:1.4.0@sha256:" + strings.Repeat("3", 64),
			Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}}}},
	}
	tmpl.SetDefaults(ctx)
	config := &servingv1.Configuration{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo", Generation: 4, UID: "c-uid",
			Labels:      map[string]string{serving.ServiceLabelKey: "hello", serving.ServiceUIDLabelKey: "s-uid"},
			Annotations: map[string]string{serving.UpdaterAnnotation: "argocd", serving.RoutesAnnotationKey: "hello"}},
		Spec: servingv1.ConfigurationSpec{Template: *tmpl.DeepCopy()},
	}
	rev := resources.MakeRevision(ctx, config, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	if len(rev.Labels) <= len(tmpl.Labels) || len(rev.Annotations) <= len(tmpl.Annotations) {
		t.Fatalf("fixture: Knative added nothing to the Revision: %v %v", rev.Labels, rev.Annotations)
	}
	c := kservice.New(fake.NewSimpleClientset(rev), 0)
	got, found, err := c.RevisionTemplate(ctx, "demo", "hello", "hello-2f13892484")
	if err != nil || !found {
		t.Fatalf("found %v, err %v", found, err)
	}
	if diff := cmp.Diff(tmpl, got); diff != "" {
		t.Errorf("template (-made from +read back):\n%s", diff)
	}
	if _, found, err := c.RevisionTemplate(ctx, "demo", "hello", "hello-gone"); err != nil || found {
		t.Errorf("a Revision the cluster no longer has: found %v, err %v", found, err)
	}
	// A name that fits "hello" but is another Service's Revision.
	if _, found, err := c.RevisionTemplate(ctx, "demo", "hello-2f", "hello-2f13892484"); err == nil || found || !strings.Contains(err.Error(), "belongs to Service") {
		t.Errorf("another Service's Revision: found %v, err %v; want refused", found, err)
	}
}

// TestGetRevisionReadsTheResolvedDigest: Knative resolves a tag to a digest
// in the Revision's status; rollout checks it against the quarantine.
func TestGetRevisionReadsTheResolvedDigest(t *testing.T) {
	rev := &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: "hello-00002", Namespace: "demo", Labels: map[string]string{serving.ServiceLabelKey: "hello"}},
		Spec: servingv1.RevisionSpec{PodSpec: corev1.PodSpec{Containers: []corev1.Container{{Image: "registry.example.com/team/hello:1.4.0"}}}}}
	rev.Status.ContainerStatuses = []servingv1.ContainerStatus{{Name: "user-container", ImageDigest: "registry.example.com/team/hello@sha256:" + strings.Repeat("3", 64)}}
	got, err := kservice.New(fake.NewSimpleClientset(rev), 0).GetRevision(context.Background(), "demo", "hello-00002")
	if err != nil || !got.Found || got.Name != "hello-00002" || got.Digest != "sha256:"+strings.Repeat("3", 64) || got.Spec.Containers[0].Image != "registry.example.com/team/hello:1.4.0" {
		t.Errorf("got %+v, %v", got, err)
	}
}
