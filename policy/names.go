package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// RevisionName names the revision of an image: <service>-<first 10 hex of
// its sha256 digest>, so Git can name a revision before it exists and a
// re-push of the same digest names the same revision. An image reference
// without a digest is named after the sha256 of the reference itself.
func RevisionName(service, image string) string {
	_, d, ok := strings.Cut(image, "@sha256:")
	if !ok || len(d) < 10 {
		sum := sha256.Sum256([]byte(image))
		d = hex.EncodeToString(sum[:])
	}
	return service + "-" + d[:10]
}

// QuarantineEntries splits a slipstream.dev/quarantine value into its
// entries; commas, spaces, tabs and newlines separate them.
func QuarantineEntries(value string) []string {
	return strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
}

// AddQuarantine returns the slipstream.dev/quarantine value with digest
// appended, and false when the value already lists it (nothing to change).
func AddQuarantine(value, digest string) (string, bool) {
	if slices.Contains(QuarantineEntries(value), digest) {
		return value, false
	}
	if strings.TrimSpace(value) == "" {
		return digest, true
	}
	return value + "," + digest, true
}
