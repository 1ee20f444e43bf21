// Package cluster runs a real Kubernetes control plane with Knative Serving
// on one machine, without containers, for the e2e tier:
//
//   - etcd (Debian's etcd-server) and kube-apiserver with RBAC, service
//     account tokens and admission webhooks, on loopback ports;
//   - kube-controller-manager for Deployments, ReplicaSets, Endpoints,
//     ServiceAccounts, namespaces and garbage collection;
//   - kwok, which plays the kubelet of one fake Node: bound pods become
//     Running and Ready with an IP; a few lines here bind each new pod to
//     that Node, since kwok does not schedule;
//   - Knative Serving's own controller, webhook and autoscaler, with its CRDs
//     and config maps from the knative.dev/serving module;
//   - a stand-in for the ingress: it marks every Knative Ingress ready, as a
//     networking layer would once it routes. It is the only simulated part.
//
// Start brings it all up and returns once a Knative Service can be created;
// Stop ends every process and frees every port. Binaries come from package
// peers' cache. Nothing here is safe for concurrent Starts sharing a folder.
package cluster
