package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	jose "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v3/jwt"
)

// Paths at which Handler serves, Kubernetes' own.
const (
	DiscoveryPath = "/.well-known/openid-configuration"
	JWKSPath      = "/openid/v1/jwks"
)

// Issuer signs tokens with a key of its own.
type Issuer struct {
	url string
	key *ecdsa.PrivateKey
	kid string
	now func() time.Time
}

// New makes an issuer named url (where Handler is served) with a fresh
// key; now is the clock the tokens' times come from.
func New(url string, now func() time.Time) (*Issuer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	thumb, err := (&jose.JSONWebKey{Key: &key.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	return &Issuer{url: url, key: key, kid: fmt.Sprintf("%x", thumb[:8]), now: now}, nil
}

// URL is the issuer's name, the tokens' iss.
func (i *Issuer) URL() string { return i.url }

// Mint signs a token for subject and audience, valid for ttl.
func (i *Issuer) Mint(subject, audience string, ttl time.Duration) (string, error) {
	now := i.now()
	return Sign(i.key, i.kid, jwt.Claims{Issuer: i.url, Subject: subject, Audience: jwt.Audience{audience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl))})
}

// Handler serves the discovery document and the public key set.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+DiscoveryPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{"issuer": i.url, "jwks_uri": i.url + JWKSPath, "response_types_supported": []string{"id_token"},
			"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{string(jose.ES256)}})
	})
	mux.HandleFunc("GET "+JWKSPath, func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"}}})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// Sign signs claims as a JWT with key — an *ecdsa.PrivateKey (ES256) or an
// *rsa.PrivateKey (RS256) — under key id kid.
func Sign(key any, kid string, claims jwt.Claims) (string, error) {
	var alg jose.SignatureAlgorithm
	switch key.(type) {
	case *ecdsa.PrivateKey:
		alg = jose.ES256
	case *rsa.PrivateKey:
		alg = jose.RS256
	default:
		return "", fmt.Errorf("issuer: cannot sign with a %T", key)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
	if err != nil {
		return "", err
	}
	return jwt.Signed(signer).Claims(claims).CompactSerialize()
}
