// Package eventing is slipstream's event catalog: one Go type per CloudEvent that
// the functions exchange, with validation, constructors and a decoder.
//
// What comes in: a typed payload (ImagePushed, ManifestCommitted, TrafficShifted,
// RolloutPromoted, RolloutRolledBack) or a received cloudevents.Event.
// What goes out: a cloudevents.Event whose type, source, subject, time, routing
// extensions and id are set from the payload (New), or a validated payload
// (Decode).
//
// Retry and idempotency: ids are deterministic, derived from the payload fields
// that identify the change (for an image push: registry, repository, tag and
// digest), so a re-sent webhook or a redelivered event carries the same id and
// consumers can deduplicate on source+id. Decode errors wrap ErrMalformed: the
// event will never become valid by retrying it, so callers answer 400.
//
// The package stays light: standard library, the CloudEvents SDK and
// go-containerregistry's name package only.
package eventing
