// Package intake is the front door of the pipeline: registries call it with
// push webhooks, and every accepted push becomes one
// dev.slipstream.image.pushed.v1 event, pinned by digest, sent to $K_SINK.
//
// What comes in: POST /webhooks/<format> for distribution, harbor, dockerhub,
// quay, github, gar, ecr and acr, and CloudEvents at POST / (Harbor's
// CloudEvents format and CDEvents artifact.published). What goes out: one
// image.pushed event per tagged push, with subject <registry>/<repository> and
// the extensions repository, tag and digest.
//
// Each format is one row of the registration table in formats.go (its name,
// which is also its route and settings name, its parser, and the header its
// HMAC signature comes in) and one parse_<name>.go file.
//
// Each request is authenticated first (a shared token in Authorization, or an
// HMAC-SHA256 signature of the body), then parsed, then checked against the
// registry allowlist before any outbound request; a payload without a digest
// is resolved with a HEAD to the registry. Nothing is sent until the whole
// request is known to be valid.
//
// Retry and idempotency: event ids derive from registry, repository, tag and
// digest, so a registry retrying, or the same push reported twice, yields the
// same id; intake remembers the ids it sent (SLIPSTREAM_INTAKE_DEDUP_WINDOW) and
// does not send them again. When the sink still fails after the host's bounded
// retries, intake answers 503 so the registry retries; what was already sent
// is not sent twice.
package intake
