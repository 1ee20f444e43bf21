package intake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/internal/host"
)

// push is one image push as a webhook reports it, before validation.
type push struct {
	// Registry is the registry host (and port) the payload names.
	Registry string
	// Repository is the repository path inside the registry.
	Repository string
	// Tag is the pushed tag.
	Tag string
	// Digest is the manifest or index digest; empty when the payload has none
	// and it must be resolved.
	Digest string
	// MediaType is the manifest or index media type, when the payload says.
	MediaType string
	// PushedAt is when the registry saw the push, when it says.
	PushedAt *time.Time
	// Field is the JSON path of the push in the payload, for error messages.
	Field string
}

func (p push) String() string {
	s := p.Registry + "/" + p.Repository + ":" + p.Tag
	if p.Digest != "" {
		s += "@" + p.Digest
	}
	return s
}

// report is what a parser found in one webhook: the pushes to act on and the
// reasons for everything it ignored on purpose.
type report struct {
	Pushes  []push
	Ignored []string
}

func (r *report) ignore(format string, args ...any) {
	r.Ignored = append(r.Ignored, fmt.Sprintf(format, args...))
}

// malformed is a parse error that names the field; the host answers 400.
func malformed(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", host.ErrMalformed, field, fmt.Sprintf(format, args...))
}

// Manifest and index media types: a push of any other type is a blob or an
// artifact we do not deploy.
var imageMediaTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json":      true,
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.oci.image.manifest.v1+json":                true,
	"application/vnd.oci.image.index.v1+json":                   true,
}

// Config media types of artifacts that are not container images.
var nonImageConfigTypes = []string{
	"application/vnd.cncf.helm.config.v1+json",
	"application/vnd.dev.cosign",
	"application/vnd.in-toto",
	"application/spdx",
	"application/vnd.cyclonedx",
}

// notAnImage says why an OCI artifact is not a container image, or "".
func notAnImage(artifactType string, configTypes ...string) string {
	for _, t := range append([]string{artifactType}, configTypes...) {
		if t == "" || t == "application/vnd.oci.image.config.v1+json" || t == "application/vnd.docker.container.image.v1+json" {
			continue
		}
		for _, n := range nonImageConfigTypes {
			if strings.HasPrefix(t, n) {
				if strings.Contains(t, "helm") {
					return "a Helm chart"
				}
				return "a signature, attestation or SBOM (" + t + ")"
			}
		}
	}
	return ""
}

// cosignTag matches the tags cosign and friends attach to a digest:
// sha256-<hex>.sig, .att, .sbom, or a bare sha256-<hex> (referrers fallback).
var cosignTag = regexp.MustCompile(`^sha256-[0-9a-f]{64}(\.[a-z]+)?$`)

// skipTag says why a tag is not a release, or "".
func skipTag(tag string) string {
	switch {
	case tag == "":
		return "untagged manifest (a platform manifest of a multi-arch push, or a push by digest)"
	case strings.HasPrefix(tag, "sha256:"):
		return "push by digest, no tag"
	case cosignTag.MatchString(tag):
		return "signature or attestation tag " + tag
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// decodeJSON decodes a webhook body; a syntax or type error names where it is.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return malformed("body", "empty; expected a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		switch e := err.(type) {
		case *json.SyntaxError:
			return malformed("body", "not valid JSON at byte %d: %v", e.Offset, err)
		case *json.UnmarshalTypeError:
			return malformed(e.Field, "expected %s, got JSON %s", e.Type, e.Value)
		}
		return malformed("body", "%v", err)
	}
	return nil
}
