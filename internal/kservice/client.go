package kservice

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/policy"
)

// Get returns the live Service, or an error wrapping ErrNotFound.
func (c *Client) Get(ctx context.Context, namespace, name string) (*servingv1.Service, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	svc, err := c.serving.ServingV1().Services(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading Service %s/%s: %w", namespace, name, classify(err))
	}
	return svc, nil
}

// ListManaged returns the Services of the namespaces (all when empty) that
// carry a rollout state annotation.
func (c *Client) ListManaged(ctx context.Context, namespaces []string) ([]*servingv1.Service, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	var out []*servingv1.Service
	for _, ns := range namespaces {
		list, err := c.serving.ServingV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, fmt.Errorf("listing Services in %q: %w", ns, classify(err))
		}
		for i := range list.Items {
			if _, ok := list.Items[i].Annotations[policy.AnnotationRollout]; ok {
				out = append(out, &list.Items[i])
			}
		}
	}
	return out, nil
}

// Revision is what rollout needs of a Revision.
type Revision struct {
	// Found is false when the cluster has no such Revision.
	Found bool
	// Ready and Failed mirror the Ready condition (True / False).
	Ready, Failed bool
	// Reason is the Ready condition's reason and message when it is not True.
	Reason string
	// Created is when the Revision was created.
	Created time.Time
	// Since is when the Ready condition last changed (zero when unknown).
	Since time.Time
	// Service is the serving.knative.dev/service label.
	Service string
	// Name is the Revision's name, Spec its spec as stored (the template's
	// spec that made it, defaulted).
	Name string
	Spec servingv1.RevisionSpec
	// Digest is the digest Knative resolved the first container's image to
	// (status.containerStatuses), "" until it has.
	Digest string
}

// GetRevision reads a Revision's readiness.
func (c *Client) GetRevision(ctx context.Context, namespace, name string) (Revision, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.serving.ServingV1().Revisions(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if err := classify(err); isNotFound(err) {
			return Revision{}, nil
		}
		return Revision{}, fmt.Errorf("reading Revision %s/%s: %w", namespace, name, classify(err))
	}
	out := Revision{Found: true, Ready: r.IsReady(), Failed: r.IsFailed(), Created: r.CreationTimestamp.Time, Service: r.Labels[serving.ServiceLabelKey],
		Name: r.Name, Spec: r.Spec}
	if cs := r.Status.ContainerStatuses; len(cs) > 0 {
		_, out.Digest, _ = strings.Cut(cs[0].ImageDigest, "@")
	}
	cond := r.Status.GetCondition(servingv1.RevisionConditionReady)
	if cond != nil {
		out.Since = cond.LastTransitionTime.Inner.Time
	}
	if cond != nil && !cond.IsTrue() {
		out.Reason = cond.Reason
		if cond.Message != "" {
			out.Reason += ": " + cond.Message
		}
	}
	return out, nil
}

// Change is what one patch writes to a live Service.
type Change struct {
	// Traffic, when not nil, replaces the traffic targets slipstream owns
	// (policy.OwnsTarget); the Service's other targets, as it was read, are
	// kept (a JSON merge patch replaces the whole list, so Patch sends them
	// too).
	Traffic []eventing.TrafficTarget
	// State, when set, is written to slipstream.dev/rollout.
	State *policy.State
	// Rollback, when set, is written to slipstream.dev/rollback.
	Rollback *policy.State
	// Remove lists annotations to delete (manual controls acted on).
	Remove []string
}

// trafficPatch is a JSON merge patch of traffic and annotations. It carries
// the resourceVersion the decision was made on, so the API server answers
// 409 when the Service changed in between (optimistic concurrency).
type trafficPatch struct {
	Metadata struct {
		ResourceVersion string             `json:"resourceVersion"`
		Annotations     map[string]*string `json:"annotations,omitempty"`
	} `json:"metadata"`
	Spec *struct {
		Traffic []servingv1.TrafficTarget `json:"traffic"`
	} `json:"spec,omitempty"`
}

// Patch writes a change to the Service as it was read (svc.ResourceVersion).
// A concurrent change is ErrConflict: re-read and decide again.
func (c *Client) Patch(ctx context.Context, svc *servingv1.Service, ch Change) (*servingv1.Service, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var p trafficPatch
	p.Metadata.ResourceVersion = svc.ResourceVersion
	p.Metadata.Annotations = map[string]*string{}
	for _, a := range ch.Remove {
		p.Metadata.Annotations[a] = nil
	}
	for key, st := range map[string]*policy.State{policy.AnnotationRollout: ch.State, policy.AnnotationRollback: ch.Rollback} {
		if st != nil {
			v := st.String()
			p.Metadata.Annotations[key] = &v
		}
	}
	if ch.Traffic != nil {
		traffic := ToKnative(ch.Traffic)
		for _, t := range svc.Spec.Traffic {
			if pct := t.Percent; !policy.OwnsTarget(t.Tag, int(ptrValue(pct))) {
				traffic = append(traffic, t)
			}
		}
		p.Spec = &struct {
			Traffic []servingv1.TrafficTarget `json:"traffic"`
		}{Traffic: traffic}
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	out, err := c.serving.ServingV1().Services(svc.Namespace).Patch(ctx, svc.Name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: "slipstream"})
	if err != nil {
		return nil, fmt.Errorf("patching Service %s/%s: %w", svc.Namespace, svc.Name, classify(err))
	}
	return out, nil
}

// Share is a revision's percent in a traffic block (its targets summed).
func Share(targets []servingv1.TrafficTarget, revision string) int64 {
	var sum int64
	for _, t := range targets {
		if t.RevisionName == revision && t.Percent != nil {
			sum += *t.Percent
		}
	}
	return sum
}

func ptrValue(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// ToKnative converts traffic targets to Knative's type, every one pinned by
// revision name.
func ToKnative(ts []eventing.TrafficTarget) []servingv1.TrafficTarget {
	out := make([]servingv1.TrafficTarget, len(ts))
	for i, t := range ts {
		pct := int64(t.Percent)
		latest := false
		out[i] = servingv1.TrafficTarget{RevisionName: t.RevisionName, Percent: &pct, Tag: t.Tag, LatestRevision: &latest}
	}
	return out
}
