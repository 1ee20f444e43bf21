// Package demo runs the whole pipeline on one machine: the four functions
// on loopback, the embedded broker routing with infra/'s Triggers, an
// embedded registry, a local bare config repository, and the simulated
// Knative, GitOps sync, traffic and alerts of package sim.
//
// Start wires it (`slipstream dev` runs it until interrupted); Story runs
// the scripted demo (`slipstream demo`, `make demo`): a first deploy, a
// progressive rollout to promotion, a bad release rolled back by an alert
// with Git reverted and the digest quarantined, and the quarantined digest
// refused — and returns an error if the story did not happen.
package demo
