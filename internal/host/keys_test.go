package host

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"

	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestKeysAreFetchedSeldomWhateverTheTokens: forged tokens naming key ids
// the issuer does not have cost no fetch of its keys beyond one every
// refetchEvery (go-oidc's RemoteKeySet fetches after every failed
// signature); a key rotated in is found once that time has passed; while
// the keys cannot be fetched, a token is answered as unavailable (503, the
// broker retries), not unauthorized.
func TestKeysAreFetchedSeldomWhateverTheTokens(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var fetches atomic.Int32
	var mu sync.Mutex
	status := http.StatusServiceUnavailable
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if status != http.StatusOK {
			w.WriteHeader(status)
			return
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer jwks.Close()
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := testSettings()
	s.AllowUnauthenticatedEvents = false
	s.OidcIssuer, s.OidcAudience, s.OidcJwksURL = "https://issuer.example", "promote", jwks.URL
	tk, err := newTokens(s, clock)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *rsa.PrivateKey, kid string) string {
		return testutil.JWT(t, k, kid, jwt.Claims{Issuer: "https://issuer.example", Audience: jwt.Audience{"promote"}, Subject: "s",
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))})
	}
	check := func(tok string) error {
		r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(context.Background())
		r.Header.Set("Authorization", "Bearer "+tok)
		return tk.check(r)
	}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}

	if err := check(sign(key, "k1")); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("keys unreachable: %v, want ErrUnavailable", err)
	}
	for i := range 50 { // within the interval: no fetch however many tries
		if err := check(sign(forger, fmt.Sprintf("made-up-%d", i))); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("keys unreachable: %v, want ErrUnavailable", err)
		}
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("%d fetches while the keys were down, want 1", n)
	}
	mu.Lock()
	status = http.StatusOK
	mu.Unlock()
	advance(refetchEvery)
	if err := check(sign(key, "k1")); err != nil {
		t.Fatalf("keys back: %v", err)
	}
	for i := range 200 {
		if err := check(sign(forger, fmt.Sprintf("made-up-%d", i))); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("a forged token: %v, want ErrUnauthorized", err)
		}
	}
	if err := check(sign(forger, "k1")); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("a forged token under the right key id: %v, want ErrUnauthorized", err)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches after 201 forged tokens, want 2 (the failed one, the one that worked)", n)
	}
	// The issuer rotates to k2: found once refetchEvery has passed.
	mu.Lock()
	set.Keys = append(set.Keys, jose.JSONWebKey{Key: &rotated.PublicKey, KeyID: "k2", Algorithm: "RS256", Use: "sig"})
	mu.Unlock()
	advance(refetchEvery)
	if err := check(sign(rotated, "k2")); err != nil {
		t.Errorf("a token of the rotated key: %v", err)
	}
	if err := check(sign(key, "k1")); err != nil {
		t.Errorf("a token of the old key: %v", err)
	}
}
