// Package rollout is the traffic stepper: it moves a managed Knative
// Service's traffic from the stable revision to the candidate in the steps of
// its policy, only while everything is healthy, and promotes or rolls back.
//
// What comes in (broker events): manifest.committed (a candidate was
// committed), ApiServerSource events for Revisions and Services (act as soon
// as the cluster changes), and PingSource ticks (advance every rollout whose
// pause is over). What goes out: patches of the live Service's traffic and
// slipstream.dev/rollout state (traffic writer "cluster", and every rollback),
// and follow-up events: traffic.shifted (with the "git" writer, promote
// commits it), rollout.promoted, rollout.rolledback.
//
// Each decision is the pure function Decide(input) of the live Service, its
// policy, its state, the candidate's readiness, an analysis verdict and now.
// Patches carry the resourceVersion they were decided on; a conflict re-reads
// and re-decides. A tick lists the managed Services once per namespace and
// decides for SLIPSTREAM_ROLLOUT_CONCURRENCY of them at once (8), each from
// the list's copy (read again when over a second old, or when rollout has
// decided on the Service since): a Service costs a tick its candidate's
// read and its patch. Decisions are idempotent: a redelivered event or a tick
// that finds nothing due changes nothing, and a re-sent traffic.shifted has
// the same id, so promote commits it once.
//
// Timing: PingSource ticks once a minute. A pause that ends within
// SLIPSTREAM_ROLLOUT_MAX_WAIT of a decision is waited out inside the request
// (the instance is warm while it handles it), so the lateness of a step is at
// most the tick interval minus the max wait (10 s with the defaults), plus the
// time the cluster takes to show a step.
package rollout
