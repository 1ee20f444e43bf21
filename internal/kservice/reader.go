package kservice

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/serving/pkg/apis/serving"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/policy"
)

// Errors API calls are classified into.
var (
	// ErrNotFound: the cluster has no such object.
	ErrNotFound = errors.New("not found in the cluster")
	// ErrForbidden: RBAC refuses the call.
	ErrForbidden = errors.New("forbidden by the cluster")
	// ErrConflict: the object changed since it was read (resourceVersion).
	ErrConflict = errors.New("conflict: the object changed")
	// ErrUnavailable: the API server could not be reached or failed.
	ErrUnavailable = errors.New("Kubernetes API unavailable")
	// ErrForeignRevision: a Revision asked for as a Service's belongs to another.
	ErrForeignRevision = errors.New("the revision belongs to another Service")
)

// Client reads and writes Knative Services.
type Client struct {
	serving servingclient.Interface
	timeout time.Duration
}

// New returns a Client over a serving clientset; timeout bounds each call (default 5s).
func New(serving servingclient.Interface, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Client{serving: serving, timeout: timeout}
}

// Live is what one read of a live Service tells promote.
type Live struct {
	// Exists is false when the cluster has no such Service.
	Exists bool
	// Serving is the revision that serves the most traffic, "" when none
	// does yet; Image is its image when the live template names it (it is
	// the latest ready revision).
	Serving, Image string
	// State is the Service's live rollout state (policy.LiveState: a
	// rollback recorded in the cluster counts); StateErr is set when it
	// does not parse.
	State    policy.State
	StateErr error
}

// Live reads a Service once: which revision serves, and its rollout state.
func (c *Client) Live(ctx context.Context, namespace, name string) (Live, error) {
	svc, err := c.Get(ctx, namespace, name)
	if isNotFound(err) {
		return Live{}, nil
	}
	if err != nil {
		return Live{}, err
	}
	out := Live{Exists: true}
	out.State, out.StateErr = policy.LiveState(svc.Annotations)
	best := -1
	for _, t := range svc.Status.Traffic {
		if t.Percent != nil && int(*t.Percent) > best && t.RevisionName != "" {
			best, out.Serving = int(*t.Percent), t.RevisionName
		}
	}
	if out.Serving != "" && out.Serving == svc.Status.LatestReadyRevisionName && svc.Status.ObservedGeneration == svc.Generation && len(svc.Spec.Template.Spec.Containers) > 0 {
		out.Image = svc.Spec.Template.Spec.Containers[0].Image
	}
	return out, nil
}

// knativeLabels and knativeAnnotations are what Knative's controllers put on
// a Revision beside what its template gave it (configuration/resources
// MakeRevision, the route's labeler, the garbage collector).
var (
	knativeLabels = []string{serving.ConfigurationLabelKey, serving.ConfigurationGenerationLabelKey, serving.ConfigurationUIDLabelKey,
		serving.ServiceLabelKey, serving.ServiceUIDLabelKey, serving.RoutingStateLabelKey}
	knativeAnnotations = []string{serving.CreatorAnnotation, serving.UpdaterAnnotation, serving.RoutesAnnotationKey,
		serving.RoutingStateModifiedAnnotationKey, serving.RevisionLastPinnedAnnotationKey}
)

// RevisionTemplate reads a Revision of a Service and returns the template
// that makes it again: its name, its spec as stored (Knative-defaulted), and
// the labels and annotations its template gave it — without those Knative's
// controllers add. Knative reuses a Revision for a template that names it
// only when the specs are equal (CheckNameAvailability), so this is what a
// rollback must write to go back to it. found is false when the cluster no
// longer has the Revision; a Revision of another Service is an error (its
// pod spec must not be copied into this one's manifest).
func (c *Client) RevisionTemplate(ctx context.Context, namespace, service, name string) (tmpl servingv1.RevisionTemplateSpec, found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	r, err := c.serving.ServingV1().Revisions(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if err := classify(err); isNotFound(err) {
			return tmpl, false, nil
		}
		return tmpl, false, fmt.Errorf("reading Revision %s/%s: %w", namespace, name, classify(err))
	}
	if owner := r.Labels[serving.ServiceLabelKey]; owner != service {
		return tmpl, false, fmt.Errorf("%w: Revision %s/%s belongs to Service %q, not %q", ErrForeignRevision, namespace, name, owner, service)
	}
	tmpl.Name = r.Name
	tmpl.Labels = without(r.Labels, knativeLabels)
	tmpl.Annotations = without(r.Annotations, knativeAnnotations)
	tmpl.Spec = *r.Spec.DeepCopy()
	return tmpl, true, nil
}

// without is m less keys, nil when nothing is left.
func without(m map[string]string, keys []string) map[string]string {
	var out map[string]string
	for k, v := range m {
		if slices.Contains(keys, k) {
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k] = v
	}
	return out
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// classify turns Kubernetes API errors into this package's sentinels.
func classify(err error) error {
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case apierrors.IsForbidden(err), apierrors.IsUnauthorized(err):
		return fmt.Errorf("%w: %v", ErrForbidden, err)
	case apierrors.IsConflict(err):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
