package eventing

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Event types of the catalog (CloudEvents `type` attribute). The trailing
// version changes only with an incompatible change of the payload.
const (
	// TypeImagePushed is sent by intake for every accepted registry push.
	TypeImagePushed = "dev.slipstream.image.pushed.v1"
	// TypeManifestCommitted is sent by promote for every Service a commit changed.
	TypeManifestCommitted = "dev.slipstream.manifest.committed.v1"
	// TypeTrafficShifted is sent by rollout when a step moves traffic.
	TypeTrafficShifted = "dev.slipstream.traffic.shifted.v1"
	// TypeRolloutPromoted is sent by rollout when the candidate becomes stable.
	TypeRolloutPromoted = "dev.slipstream.rollout.promoted.v1"
	// TypeRolloutRolledBack is sent by rollback or rollout when traffic went back to stable.
	TypeRolloutRolledBack = "dev.slipstream.rollout.rolledback.v1"
)

// Types of events sent by Knative sources that slipstream consumes.
const (
	// TypePing is the PingSource tick.
	TypePing = "dev.knative.sources.ping"
	// TypeAPIServerPrefix prefixes ApiServerSource events in Resource mode
	// (…resource.add, …resource.update, …resource.delete).
	TypeAPIServerPrefix = "dev.knative.apiserver.resource."
)

// Extension attribute names that carry routing keys, because Knative Triggers
// cannot filter on data. CloudEvents allows only lower-case letters and digits.
const (
	ExtRepository = "repository"
	ExtTag        = "tag"
	ExtDigest     = "digest"
	ExtRevision   = "revision"
)

// Types lists every slipstream event type, in pipeline order.
func Types() []string {
	return []string{TypeImagePushed, TypeManifestCommitted, TypeTrafficShifted, TypeRolloutPromoted, TypeRolloutRolledBack}
}

// Source returns the CloudEvents source of a function: /slipstream/<function>.
func Source(function string) string {
	return "/slipstream/" + function
}

// deterministicID derives an event id from the fields that identify a change:
// the first 32 hex digits of the SHA-256 of the parts joined by NUL bytes.
func deterministicID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:16])
}
