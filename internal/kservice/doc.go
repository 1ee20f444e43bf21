// Package kservice is the adapter to Knative Serving's API (serving
// clientset v0.42): it reads Services and turns API errors into this
// repository's sentinels.
//
// What comes in: a namespace and a Service name. What goes out: what the
// live Service serves, or ErrNotFound, ErrForbidden, ErrUnavailable. Each call
// has its own timeout. It never retries and never logs.
//
// promote uses only ServingRevision (one get, read-only) for adoption; the
// rollout and rollback functions extend this package with patches.
package kservice
