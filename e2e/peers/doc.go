// Package peers builds and finds the real programs the e2e tier runs beside
// slipstream: Kubernetes' kube-apiserver and kube-controller-manager, kwok,
// Knative Serving's controller, webhook and autoscaler, the CNCF Distribution
// registry, Alertmanager, Prometheus and crane.
//
// Each peer is built once, from the Go module proxy, into a folder of the
// cache named after the peer and its version (default .cache/e2e, ignored by
// Git; E2E_CACHE moves it). A folder is complete or absent: a build writes to
// a temporary folder and renames it when every binary is there, so an
// interrupted build is redone, not half-used. Builds run one at a time with
// -p 1: the machine this project runs on has two cores.
//
// etcd is not built: it is Debian's etcd-server, which .ci/run installs.
package peers
