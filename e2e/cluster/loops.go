package cluster

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// NodeName is the fake Node kwok plays the kubelet of.
const NodeName = "e2e-node"

// watchLoop runs list-then-watch of one kind until ctx ends, calling handle
// for every object listed and every Added or Modified event; it lists again
// whenever the watch ends. An error from handle is retried on the next event
// of that object.
func watchLoop(ctx context.Context, list func(context.Context) ([]any, string, error), watchFrom func(context.Context, string) (watch.Interface, error), handle func(context.Context, any)) {
	for ctx.Err() == nil {
		items, rv, err := list(ctx)
		if err != nil {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		for _, it := range items {
			handle(ctx, it)
		}
		w, err := watchFrom(ctx, rv)
		if err != nil {
			sleep(ctx, 200*time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Added || ev.Type == watch.Modified {
				handle(ctx, ev.Object)
			}
		}
		w.Stop()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// bindPods binds every unscheduled pod to the fake Node: the scheduler's
// only job in a one-node cluster.
func (c *Cluster) bindPods(ctx context.Context) {
	pods := c.Kube.CoreV1().Pods(metav1.NamespaceAll)
	unbound := metav1.ListOptions{FieldSelector: "spec.nodeName="}
	watchLoop(ctx,
		func(ctx context.Context) ([]any, string, error) {
			l, err := pods.List(ctx, unbound)
			if err != nil {
				return nil, "", err
			}
			out := make([]any, len(l.Items))
			for i := range l.Items {
				out[i] = &l.Items[i]
			}
			return out, l.ResourceVersion, nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			o := unbound
			o.ResourceVersion = rv
			return pods.Watch(ctx, o)
		},
		func(ctx context.Context, obj any) {
			pod, ok := obj.(*corev1.Pod)
			if !ok || pod.Spec.NodeName != "" || pod.DeletionTimestamp != nil {
				return
			}
			b := &corev1.Binding{
				ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
				Target:     corev1.ObjectReference{Kind: "Node", Name: NodeName},
			}
			if err := c.Kube.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{}); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				c.report(fmt.Errorf("binding pod %s/%s: %w", pod.Namespace, pod.Name, err))
			}
		})
}

// ingresses is Knative's internal Ingress resource.
var ingresses = schema.GroupVersionResource{Group: "networking.internal.knative.dev", Version: "v1alpha1", Resource: "ingresses"}

// IngressDomain is the load balancer every Ingress reports.
const IngressDomain = "e2e-ingress.knative-serving.svc.cluster.local"

// readyIngresses is the stand-in for a networking layer: it marks every
// Knative Ingress of the current generation as configured and load
// balanced, as net-kourier or net-istio do once their proxies route it —
// or, while a test holds it (FailIngress), as failed to load balance.
func (c *Cluster) readyIngresses(ctx context.Context) {
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		c.report(err)
		return
	}
	res := dyn.Resource(ingresses).Namespace(metav1.NamespaceAll)
	watchLoop(ctx,
		func(ctx context.Context) ([]any, string, error) {
			l, err := res.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, "", err
			}
			out := make([]any, len(l.Items))
			for i := range l.Items {
				out[i] = &l.Items[i]
			}
			return out, l.GetResourceVersion(), nil
		},
		func(ctx context.Context, rv string) (watch.Interface, error) {
			return res.Watch(ctx, metav1.ListOptions{ResourceVersion: rv})
		},
		func(ctx context.Context, obj any) {
			if ing, ok := obj.(*unstructured.Unstructured); ok {
				c.markIngress(ctx, dyn, ing)
			}
		})
}

// markIngress writes an Ingress's status: ready, or failed while held.
func (c *Cluster) markIngress(ctx context.Context, dyn dynamic.Interface, ing *unstructured.Unstructured) {
	if ing.GetDeletionTimestamp() != nil {
		return
	}
	c.mu.Lock()
	failed := c.failing[ing.GetNamespace()+"/"+ing.GetName()]
	c.mu.Unlock()
	status, reason := "True", ""
	if failed {
		status, reason = "False", "E2EOutage"
	}
	observed, _, _ := unstructured.NestedInt64(ing.Object, "status", "observedGeneration")
	conds, _, _ := unstructured.NestedSlice(ing.Object, "status", "conditions")
	for _, cond := range conds {
		if m, _ := cond.(map[string]any); m["type"] == "Ready" && m["status"] == status && observed == ing.GetGeneration() {
			return
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	cond := func(t, status string) any {
		m := map[string]any{"type": t, "status": status, "lastTransitionTime": now}
		if reason != "" && status == "False" {
			m["reason"], m["message"] = reason, "the e2e harness holds this ingress failed"
		}
		return m
	}
	lb := map[string]any{"ingress": []any{map[string]any{"domainInternal": IngressDomain}}}
	ing.Object["status"] = map[string]any{
		"observedGeneration":  ing.GetGeneration(),
		"conditions":          []any{cond("LoadBalancerReady", status), cond("NetworkConfigured", "True"), cond("Ready", status)},
		"publicLoadBalancer":  lb,
		"privateLoadBalancer": lb,
	}
	_, err := dyn.Resource(ingresses).Namespace(ing.GetNamespace()).UpdateStatus(ctx, ing, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
		c.report(fmt.Errorf("marking ingress %s/%s: %w", ing.GetNamespace(), ing.GetName(), err))
	}
}

// FailIngress makes the stand-in report a Route's Ingress as failed to
// load balance (failed) or ready again, at once: a networking layer's
// transient outage, for Knative's route reconciler to see.
func (c *Cluster) FailIngress(ctx context.Context, namespace, name string, failed bool) error {
	c.mu.Lock()
	if c.failing == nil {
		c.failing = map[string]bool{}
	}
	c.failing[namespace+"/"+name] = failed
	c.mu.Unlock()
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		return err
	}
	ing, err := dyn.Resource(ingresses).Namespace(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	c.markIngress(ctx, dyn, ing)
	return nil
}

// report hands a harness loop's error to Healthy, dropping it when one is
// already waiting.
func (c *Cluster) report(err error) {
	select {
	case c.loops <- err:
	default:
	}
}
