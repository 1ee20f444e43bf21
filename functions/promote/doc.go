// Package promote is the one Git writer: it turns pipeline events into clean,
// explained, idempotent commits in the GitOps config repository.
//
// What comes in (broker events):
//   - image.pushed: every Knative Service manifest under the configured paths
//     whose image repository is the pushed one, whose track policy takes the
//     tag and whose quarantine does not hold the digest gets the image pinned
//     by digest as a new named revision, tagged candidate at 0% beside the
//     stable revision at 100% (on a first deploy the candidate is stable at
//     100%). A Service with no pinned stable revision is adopted first.
//   - traffic.shifted: the step's traffic block and rollout state.
//   - rollout.promoted: the candidate becomes stable at 100%.
//   - rollout.rolledback: the image goes back to the stable image, traffic to
//     100% stable, and the bad digest into slipstream.dev/quarantine.
//
// What goes out: one commit per event covering every Service it changes, and
// a manifest.committed event per changed Service (the first as the reply, any
// others to K_SINK when one is bound).
//
// Edits are pure functions of the manifests, the event and the live answers
// they are given (decide.go) and change only the edited values of a file
// (yamlpatch); every edited Service passes Knative's own SetDefaults and
// Validate first. When a decision depends on a live Service (adoption), it
// asks for it: the handler reads it (one get) and runs the edit again, so no
// I/O happens inside an edit. A skipped Service carries its reason as a value
// (subject and reason), logged and listed in the commit message. Idempotency: when the
// repository already holds the result there is no commit and no reply, so a
// redelivered event changes nothing. A rejected push is re-applied on the new
// head and retried (gitrepo); when it keeps failing the event is answered 409
// so the broker redelivers it. A manifest that does not parse or validate is
// skipped with a logged reason and does not block other Services.
package promote
