package status

import (
	"context"
	"errors"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/policy"
)

// List reads the managed Services of namespace (all: ""), or the one
// named, and the resourceVersion of the list: a watch from it starts after
// what was read (an object's own resourceVersion may be older than the
// apiserver still keeps for a watch).
func List(ctx context.Context, serving servingclient.Interface, namespace, name string) ([]*servingv1.Service, string, error) {
	opts := metav1.ListOptions{}
	if name != "" {
		opts.FieldSelector = "metadata.name=" + name
	}
	l, err := serving.ServingV1().Services(namespace).List(ctx, opts)
	if err != nil {
		where := "namespace " + namespace
		switch {
		case name != "":
			where = "Service " + namespace + "/" + name
		case namespace == "":
			where = "any namespace"
		}
		return nil, "", fmt.Errorf("listing the Knative Services of %s: %w", where, err)
	}
	var out []*servingv1.Service
	for i := range l.Items {
		s := &l.Items[i]
		if name != "" && s.Name != name {
			continue
		}
		if _, ok := s.Annotations[policy.AnnotationRollout]; ok {
			out = append(out, s)
		} else if name != "" {
			return nil, "", fmt.Errorf("Service %s/%s is not managed by slipstream (no %s annotation)", namespace, name, policy.AnnotationRollout)
		}
	}
	if name != "" && len(out) == 0 {
		return nil, "", fmt.Errorf("no Knative Service %s in namespace %s", name, namespace)
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
	case <-w.ResultChan():
		// A change; or the watch ended, or reported an error (a 410 when
		// rv is too old): either way the caller lists again, afresh.
		return nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
		return ctx.Err()
	}
}
