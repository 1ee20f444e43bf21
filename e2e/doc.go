// Package e2e holds the end-to-end tier: slipstream's functions as
// processes against real peers — Kubernetes with Knative Serving's own
// controller, webhook and autoscaler (package cluster), the CNCF
// Distribution registry, git http-backend, Prometheus and Alertmanager
// (package peers builds them). Its tests carry the build tag e2e and run
// with `make e2e`; docs/testing.md says what is real and what is simulated.
package e2e
