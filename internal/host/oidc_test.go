package host

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"

	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// issuer is a token issuer for tests: an RSA key, its JWKS served over HTTP.
type issuer struct {
	url  string
	key  *rsa.PrivateKey
	jwks *httptest.Server
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	iss := &issuer{url: "https://kubernetes.default.svc.cluster.local", key: key}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	iss.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(iss.jwks.Close)
	return iss
}

// token signs claims with key (the issuer's, or another) under the
// issuer's key id.
func token(t *testing.T, key *rsa.PrivateKey, c jwt.Claims) string {
	t.Helper()
	return testutil.JWT(t, key, "k1", c)
}

// TestPostRequiresATokenWhenAnIssuerIsSet: with SLIPSTREAM_OIDC_ISSUER,
// POST / takes a delivery only with a token the issuer signed for the
// function's audience, unexpired, from an allowed subject; every other is
// 401 and its handler never runs.
func TestPostRequiresATokenWhenAnIssuerIsSet(t *testing.T) {
	iss := newIssuer(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	s := testSettings()
	s.OidcIssuer, s.OidcAudience, s.OidcJwksURL = iss.url, "promote", iss.jwks.URL
	s.OidcSubjects = []string{"system:serviceaccount:knative-eventing:broker"}
	r := runWith(t, s, nil)
	now := time.Now()
	good := jwt.Claims{Issuer: iss.url, Audience: jwt.Audience{"promote"}, Subject: "system:serviceaccount:knative-eventing:broker",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	with := func(change func(*jwt.Claims)) jwt.Claims { c := good; change(&c); return c }
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{name: "a token for this function", header: "Bearer " + token(t, iss.key, good), want: http.StatusAccepted},
		{name: "no token", want: http.StatusUnauthorized},
		{name: "not a bearer token", header: "Basic dTpw", want: http.StatusUnauthorized},
		{name: "signed by another key", header: "Bearer " + token(t, other, good), want: http.StatusUnauthorized},
		{name: "for another audience", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"rollout"} })), want: http.StatusUnauthorized},
		{name: "expired", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), want: http.StatusUnauthorized},
		{name: "from another issuer", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Issuer = "https://evil.example.com" })), want: http.StatusUnauthorized},
		{name: "a subject not allowed", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Subject = "system:serviceaccount:default:default" })), want: http.StatusUnauthorized},
		{name: "garbage", header: "Bearer not.a.jwt", want: http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "http://"+r.addr, strings.NewReader(`{}`))
			req.Header = binaryHeaders("test.accept")
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
