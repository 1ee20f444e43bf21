package eventing

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ErrMalformed marks an event that can never be handled: wrong type, data that
// does not decode, or a payload that fails validation. Callers answer 400.
var ErrMalformed = errors.New("malformed event")

// FieldError is one problem with one field of a payload.
type FieldError struct {
	// Field is the JSON path of the field, for example "traffic[1].percent".
	Field string
	// Problem says what is wrong and what is expected.
	Problem string
}

// Error implements error.
func (e FieldError) Error() string { return e.Field + ": " + e.Problem }

// ValidationError lists every problem found in a payload, in field order.
type ValidationError []FieldError

// Error implements error; it joins every problem with "; ".
func (v ValidationError) Error() string {
	parts := make([]string, len(v))
	for i, fe := range v {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrMalformed) true for validation errors.
func (v ValidationError) Is(target error) bool { return target == ErrMalformed }

// problems collects field errors; err returns nil when there are none.
type problems []FieldError

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, FieldError{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return ValidationError(p)
}

// dnsLabel is a Kubernetes DNS-1123 label (namespaces).
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// IsNamespace reports whether s is a Kubernetes namespace name: a DNS-1123
// label of at most 63 characters.
func IsNamespace(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }

// digestPattern is how slipstream pins images: a sha256 digest in lower-case hex.
var digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// IsDigest reports whether s is a digest as slipstream pins images:
// "sha256:<64 lower-case hex>".
func IsDigest(s string) bool { return digestPattern.MatchString(s) }

// repositoryPath is the OCI distribution spec's grammar for a repository
// name: path components of lower-case letters and digits, separated inside
// a component by one '.', one or two '_' or any number of '-', joined by '/'.
var repositoryPath = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)

// registryHost is a registry's host, with an optional port: no path.
var registryHost = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)

// IsRepository reports whether s is a repository name the OCI distribution
// spec allows (no "..", no empty component, nothing but the grammar).
func IsRepository(s string) bool { return len(s) <= 255 && repositoryPath.MatchString(s) }

// IsRegistryHost reports whether s is a registry host with an optional
// port, and nothing else (a path would fold into the repository).
func IsRegistryHost(s string) bool { return registryHost.MatchString(s) }

// dns1035Label is a Kubernetes DNS-1035 label (Knative Service and Revision names).
var dns1035Label = regexp.MustCompile(`^[a-z]([-a-z0-9]*[a-z0-9])?$`)

// commitSHA is a full SHA-1 or SHA-256 Git object name.
var commitSHA = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

func (p *problems) required(field, value string) bool {
	if value == "" {
		p.add(field, "required")
		return false
	}
	return true
}

func (p *problems) namespace(field, value string) {
	if p.required(field, value) && !IsNamespace(value) {
		p.add(field, "%q is not a Kubernetes namespace name (DNS-1123 label: lower-case letters, digits and '-', at most 63)", value)
	}
}

func (p *problems) objectName(field, value string) {
	if p.required(field, value) {
		p.optionalObjectName(field, value)
	}
}

func (p *problems) optionalObjectName(field, value string) {
	if value != "" && (len(value) > 63 || !dns1035Label.MatchString(value)) {
		p.add(field, "%q is not a Knative object name (DNS-1035 label: starts with a letter, lower-case letters, digits and '-', at most 63)", value)
	}
}

// pinnedImage checks an image reference that must name a registry, a
// repository and a sha256 digest (a tag is optional); it returns the parsed
// reference when it is valid.
func (p *problems) pinnedImage(field, value string) (name.Digest, bool) {
	if !p.required(field, value) {
		return name.Digest{}, false
	}
	ref, err := ParsePinnedImage(value)
	if err != nil {
		p.add(field, "%v", err)
		return name.Digest{}, false
	}
	return ref, true
}

// imageRef checks an image reference that may be pinned or only tagged.
func (p *problems) imageRef(field, value string) {
	if !p.required(field, value) {
		return
	}
	if _, err := name.ParseReference(value); err != nil {
		p.add(field, "%q is not an image reference: %v", value, err)
	}
}

// ParsePinnedImage parses an image reference that must carry a sha256 digest,
// such as "registry.example.com/team/hello:1.4.0@sha256:3f2a…". The registry is
// required to be explicit (no implicit Docker Hub).
func ParsePinnedImage(s string) (name.Digest, error) {
	if !strings.Contains(s, "@") {
		return name.Digest{}, fmt.Errorf("%q has no digest: expected <registry>/<repository>[:<tag>]@sha256:<64 hex>", s)
	}
	ref, err := name.NewDigest(s, name.StrictValidation)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%q is not an image reference: %v", s, err)
	}
	if !strings.HasPrefix(ref.DigestStr(), "sha256:") {
		return name.Digest{}, fmt.Errorf("%q: digest must be sha256", s)
	}
	return ref, nil
}

// VersionOf is the tag of a pinned image reference: the version people know
// it by ("" when it has none or is not a pinned reference).
func VersionOf(image string) string {
	ref, err := ParsePinnedImage(image)
	if err != nil {
		return ""
	}
	return TagOf(ref)
}

// Versioned names a revision as people read it: 1.4.0 (hello-3f2a9c01b2),
// or the revision alone when its image has no tag.
func Versioned(revision, image string) string {
	if v := VersionOf(image); v != "" {
		return v + " (" + revision + ")"
	}
	return revision
}

// ShortDigest is a digest, or a pinned image's, as people read it: its
// first 12 hex digits (sha256:3f2a9c01b2d4); "" when there is none.
func ShortDigest(s string) string {
	if _, d, found := strings.Cut(s, "@"); found {
		s = d
	}
	if !IsDigest(s) {
		return ""
	}
	return s[:len("sha256:")+12]
}

// TrafficText is a traffic split for people: hello-00001 75%, hello-00002 25%.
func TrafficText(ts []TrafficTarget) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s %d%%", t.RevisionName, t.Percent)
	}
	return strings.Join(parts, ", ")
}

// TagOf returns the tag of a pinned reference ("" when it has none).
func TagOf(ref name.Digest) string {
	base, _, _ := strings.Cut(ref.String(), "@")
	t, err := name.NewTag(base, name.StrictValidation)
	if err != nil {
		return ""
	}
	return t.TagStr()
}
