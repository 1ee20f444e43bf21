package host

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v3"
	"k8s.io/client-go/rest"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// tokens verifies the bearer token of a delivery to POST /: a JWT signed
// by the issuer (the cluster's ServiceAccount issuer, with which Knative
// Eventing's OIDC delivery mints them), for the function's audience,
// unexpired, and from an allowed subject when a list is set.
type tokens struct {
	audience string
	subjects []string
	now      func() time.Time
	// verifier returns the verifier, building it on first use: a
	// discovered issuer is read from the cluster then.
	verifier func(ctx context.Context) (*verifier, error)
}

// verifier checks tokens' claims and, with keys, their signatures.
type verifier struct {
	*oidc.IDTokenVerifier
	keys *keySet
}

// newTokens builds the verifier from the settings, or nil when there is no
// audience to verify for (a function without broker deliveries needs
// none; Host.CheckDeliveries refuses one that has them). It does no I/O:
// the issuer is discovered and the keys fetched, and cached, on the first
// token (the keys again for a key id not seen yet, at most every
// refetchEvery: keySet).
func newTokens(s config.Shared, now func() time.Time) (*tokens, error) {
	if s.OidcAudience == "" || s.AllowUnauthenticatedEvents {
		return nil, nil
	}
	t := &tokens{audience: s.OidcAudience, subjects: s.OidcSubjects, now: now}
	if s.OidcIssuer != "" {
		client, err := keysClient(s.OidcCAFile)
		if err != nil {
			return nil, err
		}
		jwks := s.OidcJwksURL
		if jwks == "" {
			jwks = strings.TrimSuffix(s.OidcIssuer, "/") + "/openid/v1/jwks"
		}
		v := t.build(s.OidcIssuer, jwks, client)
		t.verifier = func(context.Context) (*verifier, error) { return v, nil }
		return t, nil
	}
	cluster, err := clusterConfig(s.Kubeconfig)
	if err != nil {
		return nil, err
	}
	client, err := rest.HTTPClientFor(cluster)
	if err != nil {
		return nil, config.SettingError("KUBECONFIG", err)
	}
	client.Timeout = 5 * time.Second
	t.verifier = t.discover(strings.TrimSuffix(cluster.Host, "/"), client)
	return t, nil
}

// build returns the verifier for an issuer whose keys are at jwks.
func (t *tokens) build(issuer, jwks string, client *http.Client) *verifier {
	keys := &keySet{url: jwks, client: client, now: t.now}
	return &verifier{IDTokenVerifier: oidc.NewVerifier(issuer, keys, &oidc.Config{ClientID: t.audience, SupportedSigningAlgs: []string{oidc.RS256, oidc.ES256}, Now: t.now}), keys: keys}
}

// keysClient is the client that fetches an explicit issuer's keys.
func keysClient(caFile string) (*http.Client, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, config.SettingError(config.Prefix+"_OIDC_CA_FILE", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, config.SettingError(config.Prefix+"_OIDC_CA_FILE", errors.New("no PEM certificate in it"))
		}
		tlsConfig.RootCAs = pool
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig}}, nil
}

// clusterConfig is the cluster whose issuer is discovered: $KUBECONFIG's,
// else the pod's own credentials.
func clusterConfig(kubeconfig string) (*rest.Config, error) {
	c, err := kservice.RestConfig(kubeconfig)
	switch {
	case err != nil:
		return nil, config.SettingError("KUBECONFIG", err)
	case c == nil:
		return nil, config.SettingError(config.Prefix+"_OIDC_ISSUER", errors.New(
			"required outside a cluster (or KUBECONFIG, to discover the cluster's): POST / takes the broker's deliveries, which carry Knative Eventing's OIDC tokens"))
	}
	return c, nil
}

// discover returns a verifier getter that reads the cluster's issuer from
// the apiserver's OpenID discovery document the first time it is asked,
// and takes the keys from the apiserver's own /openid/v1/jwks — with the
// cluster's credentials, never sent anywhere else, whatever jwks_uri the
// document names. Every ServiceAccount may read both (the
// system:service-account-issuer-discovery binding Kubernetes creates). A
// failed discovery is tried again on a later token, at most once every
// refetchEvery, so tokens cannot make each request cost one to the apiserver.
func (t *tokens) discover(apiserver string, client *http.Client) func(ctx context.Context) (*verifier, error) {
	var mu sync.Mutex
	var found *verifier
	var tried time.Time
	var failed error
	return func(ctx context.Context) (*verifier, error) {
		mu.Lock()
		defer mu.Unlock()
		if found != nil {
			return found, nil
		}
		if tried.IsZero() || t.now().Sub(tried) >= refetchEvery {
			tried = t.now()
			issuer, err := discoverIssuer(context.WithoutCancel(ctx), apiserver, client)
			if err == nil {
				found = t.build(issuer, apiserver+"/openid/v1/jwks", client)
				return found, nil
			}
			failed = err
		}
		return nil, fmt.Errorf("%w: the cluster's OIDC issuer cannot be discovered yet (%v); retry", ErrUnavailable, failed)
	}
}

// discoverIssuer reads the issuer from the apiserver's discovery document.
func discoverIssuer(ctx context.Context, apiserver string, client *http.Client) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiserver+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", withoutURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	var doc struct {
		Issuer string `json:"issuer"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&doc); err != nil {
		return "", fmt.Errorf("not an OpenID discovery document: %v", err)
	}
	if doc.Issuer == "" {
		return "", errors.New("the discovery document names no issuer")
	}
	return doc.Issuer, nil
}

// check verifies the request's bearer token; every refusal wraps
// ErrUnauthorized and says which check failed in a few fixed words, never
// the token or what it claims at length. An issuer or keys that cannot be
// had yet wrap ErrUnavailable (the broker retries). A token that is not a
// signed JWT is refused before the issuer is discovered.
func (t *tokens) check(r *http.Request) error {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return fmt.Errorf("%w: a bearer token is required (Knative Eventing's OIDC delivery)", ErrUnauthorized)
	}
	if jws, err := jose.ParseSigned(raw); err != nil || len(jws.Signatures) != 1 {
		return fmt.Errorf("%w: the bearer token is not a signed JWT", ErrUnauthorized)
	}
	v, err := t.verifier(r.Context())
	if err != nil {
		return err
	}
	tok, err := v.Verify(r.Context(), raw)
	if err != nil {
		if err := v.keys.unavailable(); err != nil {
			return err // not the token's fault: the broker retries
		}
		return fmt.Errorf("%w: the token is not valid here: %s", ErrUnauthorized, refusal(err))
	}
	if len(t.subjects) > 0 && !subjectAllowed(tok.Subject, t.subjects) {
		return fmt.Errorf("%w: subject %q is not allowed", ErrUnauthorized, truncate(tok.Subject, 253))
	}
	return nil
}

// refusal names the check a token failed, in fixed words: go-oidc's
// messages quote the token's claims, which a sender may make huge.
func refusal(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "it has expired"
	case strings.Contains(msg, "audience"):
		return "it is for another audience"
	case strings.Contains(msg, "issued by a different provider"):
		return "it is from another issuer"
	case strings.Contains(msg, "signature"), strings.Contains(msg, "signing algorithm"):
		return "its signature does not verify with the issuer's keys"
	case strings.Contains(msg, "before"):
		return "it is not valid yet"
	}
	return "it is malformed"
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// subjectAllowed is Knative Eventing's rule for an EventPolicy's subjects
// (auth.SubjectContained): equal ignoring case, or a prefix when the entry
// ends in *.
func subjectAllowed(sub string, allowed []string) bool {
	for _, s := range allowed {
		if strings.EqualFold(s, sub) {
			return true
		}
		if p, ok := strings.CutSuffix(s, "*"); ok && strings.HasPrefix(sub, p) {
			return true
		}
	}
	return false
}
