// Package rolloutstate is the rollout state a managed Knative Service carries
// in one JSON annotation, slipstream.dev/rollout: the phase, the stable and
// candidate revisions with their images, the step, and why it is where it is.
//
// promote writes it to Git (with the git traffic writer, every step); rollout
// and rollback read it from the live Service. Parse and String round-trip; the
// JSON has a fixed field order so an unchanged state renders to the same bytes
// and a redelivered event makes no commit.
package rolloutstate
