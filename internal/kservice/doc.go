// Package kservice is the adapter to Knative Serving's API (serving
// clientset v0.42): it reads and patches Services, reads Revisions, and turns
// API errors into this repository's sentinels.
//
// What comes in: a namespace and a Service name, and for a patch the traffic
// and rollout state to write. What goes out: the live object, or an error
// wrapping ErrNotFound, ErrForbidden, ErrConflict or ErrUnavailable. Each call
// has its own timeout. It never logs, and retries only through
// RetryOnConflict, the one re-read loop rollout and rollback use when a patch
// meets a concurrent change.
//
// Connect builds a Client from a function's kubeconfig setting or in-cluster
// credentials. promote uses only ServingRevision (one get, read-only) for
// adoption; rollout and rollback read and patch.
package kservice
