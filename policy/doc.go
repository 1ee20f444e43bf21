// Package policy is the slipstream.dev/* contract a managed Knative Service
// carries, each rule written once: every annotation key (annotations.go), the
// delivery policy parsed from them (Parse), the rollout state in
// slipstream.dev/rollout (State), the manual controls a person sets on the
// live Service, how revisions are named after their image digest
// (RevisionName), and the quarantine list.
//
// What comes in: a Service's annotations, or one annotation's value. What
// goes out: typed values — a Policy with its defaults applied, a State — or
// an error naming the annotation, the value and what is expected; Parse
// reports every problem, not just the first. Nothing here does I/O, reads a
// clock or logs: promote, rollout and rollback, the demo and the CLI all read
// and write the contract through this package.
package policy
