package intake

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// allowlist holds the normalised registry hosts pushes are accepted from.
type allowlist map[string]bool

// newAllowlist normalises hosts the way go-containerregistry names registries
// (docker.io is index.docker.io).
func newAllowlist(hosts []string) (allowlist, error) {
	a := allowlist{}
	for _, h := range hosts {
		r, err := name.NewRegistry(h, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("allowed registry %q: %v", h, err)
		}
		a[r.RegistryStr()] = true
	}
	return a, nil
}

// checked is a validated push with its parsed tag reference.
type checked struct {
	push
	Ref name.Tag
}

// tagPattern is the OCI distribution spec's tag grammar.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// decide validates every push of a report and checks each registry against
// the allowlist. It is all or nothing: one malformed push fails the request
// (400), one registry outside the allowlist refuses it (403), so a request
// that is partly bad sends nothing and makes no outbound request.
func decide(rep report, allowed allowlist) ([]checked, error) {
	out := make([]checked, 0, len(rep.Pushes))
	for _, p := range rep.Pushes {
		if p.Repository == "" {
			return nil, malformed(p.Field, "no repository")
		}
		// A host with a path would fold the path into the repository; a
		// repository outside the grammar (../, //) is no repository at all.
		if !eventing.IsRegistryHost(p.Registry) {
			return nil, malformed(p.Field, "registry %q is not a host with an optional port", p.Registry)
		}
		if !eventing.IsRepository(p.Repository) {
			return nil, malformed(p.Field, "repository %q is not an OCI repository name (lower-case path components of letters and digits joined by '/', separated by '.', '_', '__' or '-')", p.Repository)
		}
		ref, err := name.NewTag(p.Registry+"/"+p.Repository+":"+p.Tag, name.StrictValidation)
		if err == nil && !tagPattern.MatchString(p.Tag) {
			err = fmt.Errorf("tag %q does not match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}", p.Tag)
		}
		if err != nil {
			return nil, malformed(p.Field, "%q is not a valid image reference: %v", p.Registry+"/"+p.Repository+":"+p.Tag, err)
		}
		if p.Digest != "" && !eventing.IsDigest(p.Digest) {
			return nil, malformed(p.Field, "digest %q is not sha256:<64 lower-case hex>", p.Digest)
		}
		p.Registry = ref.Context().RegistryStr()
		p.Repository = ref.Context().RepositoryStr()
		out = append(out, checked{push: p, Ref: ref})
	}
	var refused []string
	for _, c := range out {
		if !allowed[c.Registry] {
			refused = append(refused, c.Registry)
		}
	}
	if len(refused) > 0 {
		return nil, fmt.Errorf("%w: registry %s is not in SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES", host.ErrForbidden, strings.Join(refused, ", "))
	}
	return out, nil
}
