package kservice

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clienttesting "k8s.io/client-go/testing"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"
)

func liveService(latest string, traffic map[string]int64) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "demo", Generation: 3}}
	s.Spec.Template.Spec.Containers = []corev1.Container{{Image: "registry.example.com/team/hello:1.0.0"}}
	s.Status.ObservedGeneration = 3
	s.Status.LatestReadyRevisionName = latest
	for rev, pct := range traffic {
		p := pct
		s.Status.Traffic = append(s.Status.Traffic, servingv1.TrafficTarget{RevisionName: rev, Percent: &p})
	}
	return s
}

func TestServingRevision(t *testing.T) {
	c := New(fake.NewSimpleClientset(liveService("hello-00002", map[string]int64{"hello-00002": 100})), 0)
	rev, img, found, err := c.ServingRevision(context.Background(), "demo", "hello")
	if err != nil || !found || rev != "hello-00002" || img != "registry.example.com/team/hello:1.0.0" {
		t.Errorf("got %q %q %v %v", rev, img, found, err)
	}
	// Mid-rollout elsewhere: the most-served revision, image unknown when it is not the latest.
	c = New(fake.NewSimpleClientset(liveService("hello-00003", map[string]int64{"hello-00002": 80, "hello-00003": 20})), 0)
	rev, img, _, err = c.ServingRevision(context.Background(), "demo", "hello")
	if err != nil || rev != "hello-00002" || img != "" {
		t.Errorf("got %q %q %v", rev, img, err)
	}
	_, _, found, err = c.ServingRevision(context.Background(), "demo", "nope")
	if err != nil || found {
		t.Errorf("missing Service: found %v err %v", found, err)
	}
	// A Service whose first revision never became Ready serves nothing: nothing to protect.
	c = New(fake.NewSimpleClientset(liveService("", nil)), 0)
	if _, _, found, err = c.ServingRevision(context.Background(), "demo", "hello"); err != nil || found {
		t.Errorf("Service serving nothing: found %v err %v", found, err)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{apierrors.NewForbidden(schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}, "hello", errors.New("rbac")), ErrForbidden},
		{apierrors.NewServiceUnavailable("etcd"), ErrUnavailable},
		{errors.New("connection refused"), ErrUnavailable},
	} {
		cs := fake.NewSimpleClientset()
		cs.PrependReactor("get", "services", func(clienttesting.Action) (bool, runtime.Object, error) { return true, nil, tc.err })
		_, _, _, err := New(cs, 0).ServingRevision(context.Background(), "demo", "hello")
		if !errors.Is(err, tc.want) {
			t.Errorf("%v classified as %v, want %v", tc.err, err, tc.want)
		}
	}
}
