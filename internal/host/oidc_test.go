package host

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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
	s.AllowUnauthenticatedEvents = false
	s.OidcIssuer, s.OidcAudience, s.OidcJwksURL = iss.url, "promote", iss.jwks.URL
	s.OidcSubjects = []string{"system:serviceaccount:knative-eventing:broker", "system:serviceaccount:slipstream:tick-*"}
	r := runWith(t, s, nil)
	now := time.Now()
	good := jwt.Claims{Issuer: iss.url, Audience: jwt.Audience{"promote"}, Subject: "system:serviceaccount:knative-eventing:broker",
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	with := func(change func(*jwt.Claims)) jwt.Claims { c := good; change(&c); return c }
	huge := strings.Repeat("x", 600<<10)
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{name: "a claim of 600 KiB, not echoed", header: "Bearer " + token(t, other, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{huge} })), want: http.StatusUnauthorized},
		{name: "a token for this function", header: "Bearer " + token(t, iss.key, good), want: http.StatusAccepted},
		{name: "no token", want: http.StatusUnauthorized},
		{name: "not a bearer token", header: "Basic dTpw", want: http.StatusUnauthorized},
		{name: "signed by another key", header: "Bearer " + token(t, other, good), want: http.StatusUnauthorized},
		{name: "for another audience", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Audience = jwt.Audience{"rollout"} })), want: http.StatusUnauthorized},
		{name: "expired", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Expiry = jwt.NewNumericDate(now.Add(-time.Minute)) })), want: http.StatusUnauthorized},
		{name: "from another issuer", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) { c.Issuer = "https://evil.example.com" })), want: http.StatusUnauthorized},
		{name: "a subject a pattern allows", header: "Bearer " + token(t, iss.key, with(func(c *jwt.Claims) {
			c.Subject = "system:serviceaccount:slipstream:tick-oidc-eventing.knative.dev-trigger"
		})), want: http.StatusAccepted},
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
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if len(body) > 512 {
				t.Errorf("a %d-byte answer: a refusal names the check, it does not echo the token", len(body))
			}
		})
	}
}

// TestTheClustersIssuerIsDiscovered: with no SLIPSTREAM_OIDC_ISSUER, the
// issuer comes from the apiserver's discovery document and the keys from
// its /openid/v1/jwks, both read with the cluster's credentials (here
// KUBECONFIG's bearer token; the jwks_uri the document names, elsewhere,
// is not used). While discovery fails, a delivery is answered 503 (the
// broker retries) and the apiserver is asked again only after
// refetchEvery; once it works, tokens verify.
func TestTheClustersIssuerIsDiscovered(t *testing.T) {
	iss := newIssuer(t)
	var up atomic.Bool
	var unauthenticated atomic.Int32
	var discoveries atomic.Int32
	apiserver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			discoveries.Add(1)
		}
		if r.Header.Get("Authorization") != "Bearer sa-token" {
			unauthenticated.Add(1)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		if !up.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.url, "jwks_uri": "https://elsewhere.example/keys"})
		case "/openid/v1/jwks":
			iss.jwks.Config.Handler.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(apiserver.Close)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apiserver.Certificate().Raw})
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: %q, certificate-authority-data: %q}}]
users: [{name: u, user: {token: sa-token}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, apiserver.URL, base64.StdEncoding.EncodeToString(ca))), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testSettings()
	s.AllowUnauthenticatedEvents = false
	s.OidcAudience, s.Kubeconfig = "promote", kubeconfig
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	tk, err := newTokens(s, clock)
	if err != nil {
		t.Fatal(err)
	}
	good := token(t, iss.key, jwt.Claims{Issuer: iss.url, Audience: jwt.Audience{"promote"}, Subject: "system:serviceaccount:slipstream:tick",
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))})
	check := func() error {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Authorization", "Bearer "+good)
		return tk.check(r)
	}
	notJWT := httptest.NewRequest(http.MethodPost, "/", nil)
	notJWT.Header.Set("Authorization", "Bearer x")
	if err := tk.check(notJWT); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("Bearer x: %v, want ErrUnauthorized", err)
	}
	if n := discoveries.Load(); n != 0 {
		t.Errorf("a token that is not a JWT made the function ask the apiserver (%d times)", n)
	}
	for range 20 {
		if err := check(); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("while the apiserver cannot answer: %v, want ErrUnavailable (503)", err)
		}
	}
	if n := discoveries.Load(); n != 1 {
		t.Errorf("20 tokens while discovery failed asked the apiserver %d times, want once", n)
	}
	up.Store(true)
	mu.Lock()
	now = now.Add(refetchEvery)
	mu.Unlock()
	if err := check(); err != nil {
		t.Errorf("once discovered: %v", err)
	}
	if n := unauthenticated.Load(); n != 0 {
		t.Errorf("%d requests reached the apiserver without the cluster's credentials", n)
	}
}

// TestBrokerDeliveriesAreVerifiedOrRefusedAtStart: a function whose POST /
// takes the broker's deliveries does not start with nothing to verify them
// (the error names the setting and the opt-out); with the opt-out it starts
// and says so in a warning; a function without broker deliveries starts
// without either.
func TestBrokerDeliveriesAreVerifiedOrRefusedAtStart(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fromBroker bool
		allow      bool
		wantErr    string
		wantWarn   bool
	}{
		{name: "broker deliveries, no audience", fromBroker: true, wantErr: "SLIPSTREAM_OIDC_AUDIENCE"},
		{name: "broker deliveries, opted out", fromBroker: true, allow: true, wantWarn: true},
		{name: "no broker deliveries", fromBroker: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSettings()
			s.AllowUnauthenticatedEvents = tc.allow
			logs := &testutil.Buffer{}
			h, err := New("test", s, NewLogger(logs, "info", "json"))
			if err != nil {
				t.Fatal(err)
			}
			fn, _ := testFunction(t)
			fn.FromBroker = tc.fromBroker
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- h.Run(ctx, ln, fn) }()
			if tc.wantErr != "" {
				err := <-done
				stop()
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS") {
					t.Fatalf("Run: %v, want an error naming %s and the opt-out", err, tc.wantErr)
				}
				return
			}
			// The socket listens already: this waits in its backlog until Run serves.
			resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(logs.String(), "POST / accepts events without a token"); got != tc.wantWarn {
				t.Errorf("warning logged: %v, want %v\n%s", got, tc.wantWarn, logs.String())
			}
		})
	}
}
