package kservice

import (
	"context"
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
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

// ServingRevision returns the revision that serves the most traffic of a live
// Service and its image (the live template's, when that revision is the
// latest ready one). found is false when the Service does not exist or serves
// no revision yet: there is nothing to protect.
func (c *Client) ServingRevision(ctx context.Context, namespace, name string) (revision, image string, found bool, err error) {
	svc, err := c.Get(ctx, namespace, name)
	if isNotFound(err) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	best := -1
	for _, t := range svc.Status.Traffic {
		if t.Percent != nil && int(*t.Percent) > best && t.RevisionName != "" {
			best, revision = int(*t.Percent), t.RevisionName
		}
	}
	if revision == "" {
		return "", "", false, nil
	}
	if revision == svc.Status.LatestReadyRevisionName && svc.Status.ObservedGeneration == svc.Generation && len(svc.Spec.Template.Spec.Containers) > 0 {
		image = svc.Spec.Template.Spec.Containers[0].Image
	}
	return revision, image, true, nil
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
