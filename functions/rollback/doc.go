// Package rollback turns a firing Alertmanager alert into an immediate
// rollback: traffic back to 100% stable on the live Service, then a
// rollout.rolledback event so promote reverts Git and quarantines the digest.
//
// What comes in: Alertmanager webhooks (payload version 4) at
// POST /webhooks/alertmanager, authenticated by a bearer token or basic auth.
// What goes out: per Service named by a firing alert that matches its
// rollback-on matchers, one patch of the live Service (traffic and rollout
// state, with the resourceVersion it read) and one rollout.rolledback event to
// K_SINK. The path from webhook to patched traffic is one Service read and one
// patch (plus a Revision read when the alert names only a revision).
//
// Idempotency: Alertmanager re-sends firing alerts every repeat interval and
// may deliver twice. A Service already rolled back is not patched again, and
// its event is sent again only if the first send failed (the state's
// "announced" flag). Resolved alerts never change anything. Each alert is
// judged by its own status, never the group's. A patch that meets a
// concurrent change is re-read and decided again; when any Service could not
// be rolled back the answer is 503, so Alertmanager retries.
package rollback
