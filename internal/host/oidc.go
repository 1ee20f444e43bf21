package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/slipstream-cd/slipstream/config"
)

// tokens verifies the bearer token of a delivery to POST /: a JWT signed
// by the configured issuer (the cluster's ServiceAccount issuer, with which
// Knative Eventing's OIDC delivery mints them), for the function's
// audience, unexpired, and from an allowed subject when a list is set.
type tokens struct {
	verifier *oidc.IDTokenVerifier
	subjects []string
}

// newTokens builds the verifier from the settings, or nil when POST / is
// not authenticated. It does no I/O: the keys are fetched, and cached, on
// the first token (and again for a key id not seen yet).
func newTokens(s config.Shared, now func() time.Time) (*tokens, error) {
	if s.OidcIssuer == "" {
		return nil, nil
	}
	jwks := s.OidcJwksURL
	if jwks == "" {
		jwks = strings.TrimSuffix(s.OidcIssuer, "/") + "/openid/v1/jwks"
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.OidcCAFile != "" {
		pem, err := os.ReadFile(s.OidcCAFile)
		if err != nil {
			return nil, config.SettingError(config.Prefix+"_OIDC_CA_FILE", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.SettingError(config.Prefix+"_OIDC_CA_FILE", errors.New("no PEM certificate in it"))
		}
		tlsConfig.RootCAs = pool
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}
	keys := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), client), jwks)
	v := oidc.NewVerifier(s.OidcIssuer, keys, &oidc.Config{ClientID: s.OidcAudience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}, Now: now})
	return &tokens{verifier: v, subjects: s.OidcSubjects}, nil
}

// check verifies the request's bearer token; every refusal wraps
// ErrUnauthorized and says which check failed, never the token.
func (t *tokens) check(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return fmt.Errorf("%w: a bearer token is required (Knative Eventing's OIDC delivery)", ErrUnauthorized)
	}
	tok, err := t.verifier.Verify(r.Context(), strings.TrimSpace(raw))
	if err != nil {
		return fmt.Errorf("%w: the token is not valid here: %v", ErrUnauthorized, err)
	}
	if len(t.subjects) > 0 && !slices.Contains(t.subjects, tok.Subject) {
		return fmt.Errorf("%w: subject %q is not allowed", ErrUnauthorized, tok.Subject)
	}
	return nil
}
