package testutil

import (
	"crypto/rsa"
	"testing"

	"github.com/go-jose/go-jose/v3/jwt"

	"github.com/slipstream-cd/slipstream/local/issuer"
)

// JWT signs claims with key (RS256) under key id kid: a bearer token as an
// OIDC issuer mints one, for tests of token verification.
func JWT(t testing.TB, key *rsa.PrivateKey, kid string, claims jwt.Claims) string {
	t.Helper()
	raw, err := issuer.Sign(key, kid, claims)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
