package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Errors a Resolve call is classified into.
var (
	// ErrNotFound: the registry has no such repository or tag.
	ErrNotFound = errors.New("not found in the registry")
	// ErrDenied: the registry refused the credentials (or wants some).
	ErrDenied = errors.New("registry denied access")
	// ErrUnavailable: the registry could not be reached or failed; try later.
	ErrUnavailable = errors.New("registry unavailable")
)

// Resolver resolves tags to digests. It is safe for concurrent use.
type Resolver struct {
	keychain  authn.Keychain
	timeout   time.Duration
	transport http.RoundTripper
}

// Option configures a Resolver.
type Option func(*Resolver)

// WithKeychain sets where credentials come from. Default: anonymous.
func WithKeychain(k authn.Keychain) Option { return func(r *Resolver) { r.keychain = k } }

// WithTimeout bounds each look-up. Default 5s.
func WithTimeout(d time.Duration) Option { return func(r *Resolver) { r.timeout = d } }

// WithTransport sets the HTTP transport. Default: http.DefaultTransport.
func WithTransport(t http.RoundTripper) Option { return func(r *Resolver) { r.transport = t } }

// New returns a Resolver.
func New(opts ...Option) (*Resolver, error) {
	r := &Resolver{keychain: anonymous{}, timeout: 5 * time.Second, transport: http.DefaultTransport}
	for _, o := range opts {
		o(r)
	}
	if r.timeout <= 0 {
		return nil, fmt.Errorf("registry: timeout must be positive, got %s", r.timeout)
	}
	return r, nil
}

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

// Resolve returns the descriptor (digest, media type) the tag points at now.
func (r *Resolver) Resolve(ctx context.Context, ref name.Tag) (v1.Descriptor, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(r.keychain), remote.WithTransport(r.transport)}
	desc, err := remote.Head(ref, opts...)
	if err == nil && desc.Digest.Algorithm != "" {
		return *desc, nil
	}
	if err != nil && classify(err) != ErrUnavailable {
		return v1.Descriptor{}, fmt.Errorf("resolving %s: %w: %v", ref, classify(err), err)
	}
	// Some registries answer HEAD without Docker-Content-Digest; GET computes it.
	got, err := remote.Get(ref, opts...)
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("resolving %s: %w: %v", ref, classify(err), err)
	}
	return got.Descriptor, nil
}

// classify turns a go-containerregistry error into this package's sentinels.
func classify(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound:
			return ErrNotFound
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return ErrDenied
		}
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode:
				return ErrNotFound
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return ErrDenied
			}
		}
	}
	return ErrUnavailable
}
