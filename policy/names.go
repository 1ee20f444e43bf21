package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Revision name lengths: Knative takes a revision name of a Service only as
// "<service>-<suffix>", a DNS-1035 label of at most 63 characters.
const (
	maxNameLength = 63
	// RevisionHashLength is how many hex digits of the template's hash name
	// a revision, when the Service's name leaves room for them.
	RevisionHashLength = 10
	// MinRevisionHashLength is the fewest hex digits slipstream names a
	// revision with (20 bits: a Service has far fewer revisions at once).
	MinRevisionHashLength = 5
)

// ErrNameTooLong means a Service's name leaves no room for a revision name
// Knative accepts: "<service>-" plus MinRevisionHashLength hex digits must fit
// in 63 characters, so names of at most 57 characters can be managed.
var ErrNameTooLong = errors.New("the Service's name leaves no room for a revision name")

// RevisionName names the revision of a template: "<service>-<hash>", the
// hash the first hex digits of the sha256 of identity — the template as
// Knative defaults it, without its own name, every image by digest (see
// promote) — so a revision's name changes whenever its template does, Git
// can name a revision before it exists, and the same digest pushed under
// another tag names the same revision. RevisionHashLength digits, fewer
// when the Service's name leaves less room in Knative's 63 characters, but
// never fewer than MinRevisionHashLength (ErrNameTooLong).
func RevisionName(service string, identity []byte) (string, error) {
	room := maxNameLength - len(service) - 1
	if room < MinRevisionHashLength {
		return "", fmt.Errorf("%w: %q has %d characters, at most %d can be managed (Knative names its revisions <service>-<suffix>, at most %d)",
			ErrNameTooLong, service, len(service), maxNameLength-1-MinRevisionHashLength, maxNameLength)
	}
	sum := sha256.Sum256(identity)
	return service + "-" + hex.EncodeToString(sum[:])[:min(RevisionHashLength, room)], nil
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

// RemoveQuarantine returns the slipstream.dev/quarantine value without
// digest (the other entries comma-separated), and false when the value
// does not list it (nothing to change).
func RemoveQuarantine(value, digest string) (string, bool) {
	entries := QuarantineEntries(value)
	kept := slices.DeleteFunc(slices.Clone(entries), func(e string) bool { return e == digest })
	if len(kept) == len(entries) {
		return value, false
	}
	return strings.Join(kept, ","), true
}

// The traffic tags slipstream gives the revisions it routes to.
const (
	TagStable    = "stable"
	TagCandidate = "candidate"
)

// OwnsTarget reports whether a traffic target is slipstream's to rewrite:
// slipstream owns every percent of a managed Service's traffic and the tags
// stable and candidate. A target with 0% under any other tag (a preview
// route, a latestRevision route for testing) belongs to whoever wrote it and
// is kept as it is.
func OwnsTarget(tag string, percent int) bool {
	return percent != 0 || tag == TagStable || tag == TagCandidate
}
