// Package sim holds the simulated parts of a local run (`slipstream dev`,
// `make demo`) and of tests — never of production:
//
//   - Cluster: Knative Serving in memory (the serving fake clientset) where
//     every write passes Knative's SetDefaults and Validate as its admission
//     webhook would, a revision simulator that creates a Revision per new
//     template and marks it Ready after a delay (never, for an image marked
//     broken), and a status filler (latest created/ready revision, traffic
//     with tag URLs, observedGeneration, Ready); changes are reported like an
//     ApiServerSource would.
//   - Sync: a loop that applies the Services committed to the config
//     repository to the Cluster, standing in for Argo CD or Flux.
//   - Registry: an OCI registry on loopback that posts Distribution
//     notifications for tagged manifest pushes.
//   - Traffic: requests split by the live status.traffic; an image marked
//     bad answers with errors; an error-rate rule posts Alertmanager
//     notifications.
package sim
