package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/policy"
)

// List reads the managed Services of namespace (all: ""), or the one
// named, and the resourceVersion they were read at.
func List(ctx context.Context, serving servingclient.Interface, namespace, name string) ([]*servingv1.Service, string, error) {
	services := serving.ServingV1().Services(namespace)
	if name != "" {
		s, err := services.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil, "", fmt.Errorf("no Knative Service %s in namespace %s", name, namespace)
		}
		if err != nil {
			return nil, "", fmt.Errorf("reading Service %s/%s: %w", namespace, name, err)
		}
		if _, ok := s.Annotations[policy.AnnotationRollout]; !ok {
			return nil, "", fmt.Errorf("Service %s/%s is not managed by slipstream (no %s annotation)", namespace, name, policy.AnnotationRollout)
		}
		return []*servingv1.Service{s}, s.ResourceVersion, nil
	}
	l, err := services.List(ctx, metav1.ListOptions{})
	if err != nil {
		where := "namespace " + namespace
		if namespace == "" {
			where = "any namespace"
		}
		return nil, "", fmt.Errorf("listing the Knative Services of %s: %w", where, err)
	}
	var out []*servingv1.Service
	for i := range l.Items {
		if _, ok := l.Items[i].Annotations[policy.AnnotationRollout]; ok {
			out = append(out, &l.Items[i])
		}
	}
	return out, l.ResourceVersion, nil
}

// WaitForChange returns at the first change of the Services watched after
// resourceVersion rv, or after 30 s (so "in 42s" counts down even when
// nothing changes).
func WaitForChange(ctx context.Context, serving servingclient.Interface, namespace, name, rv string) error {
	opts := metav1.ListOptions{ResourceVersion: rv}
	if name != "" {
		opts.FieldSelector = "metadata.name=" + name
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	w, err := serving.ServingV1().Services(namespace).Watch(ctx, opts)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
		return err
	}
	defer w.Stop()
	select {
	case <-w.ResultChan(): // a change, or the watch ended (expired): show it again either way
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
		return ctx.Err()
	}
}
