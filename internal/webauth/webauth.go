// Package webauth checks the credentials webhook senders can send: a shared
// token in Authorization (bearer, bare, or as a basic-auth password), basic
// auth with a user name, and an HMAC-SHA256 signature of the raw body.
// Comparisons are constant-time; errors wrap host.ErrUnauthorized and say
// which check failed, never more.
package webauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// Signature headers: GitHub's, and slipstream's own for senders that can sign.
const (
	HeaderGitHubSignature = "X-Hub-Signature-256"
	HeaderSignature       = "X-Slipstream-Signature"
)

// CheckHeaders verifies what a request carries in its headers before its
// body is read: the shared token, and that a configured HMAC signature is
// present at all (signatureHeader), so a sender without credentials never
// gets a body read. With CheckBody, every configured mechanism must pass.
func CheckHeaders(a config.WebhookAuth, signatureHeader string, r *http.Request) error {
	if a.TokenFile.Set() {
		if err := Token(a.TokenFile.Value(), r.Header.Get("Authorization")); err != nil {
			return err
		}
	}
	if a.HMACSecretFile.Set() && r.Header.Get(signatureHeader) == "" {
		return fmt.Errorf("%w: no %s header", host.ErrUnauthorized, signatureHeader)
	}
	return nil
}

// CheckBody verifies the HMAC signature of the raw body, when configured;
// signatureHeader names where it is sent.
func CheckBody(a config.WebhookAuth, signatureHeader string, r *http.Request, body []byte) error {
	if a.HMACSecretFile.Set() {
		if err := Signature(a.HMACSecretFile.Value(), signatureHeader, r.Header.Get(signatureHeader), body); err != nil {
			return err
		}
	}
	return nil
}

// Basic checks basic auth against a user name and password.
func Basic(user string, password []byte, header string) error {
	scheme, rest, ok := strings.Cut(header, " ")
	if header == "" {
		return fmt.Errorf("%w: no Authorization header", host.ErrUnauthorized)
	}
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return fmt.Errorf("%w: expected basic credentials", host.ErrUnauthorized)
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return fmt.Errorf("%w: malformed basic credentials", host.ErrUnauthorized)
	}
	u, p, _ := strings.Cut(string(dec), ":")
	userOK := equalSecret([]byte(u), []byte(user))
	if !equalSecret([]byte(p), password) || !userOK {
		return fmt.Errorf("%w: wrong credentials", host.ErrUnauthorized)
	}
	return nil
}

// Token accepts "Bearer <token>", the bare token (as an EventBridge API
// key or a Harbor auth_header may send it), or basic auth whose password is the token.
func Token(token []byte, header string) error {
	if header == "" {
		return fmt.Errorf("%w: no Authorization header", host.ErrUnauthorized)
	}
	candidate := header
	scheme, rest, hasScheme := strings.Cut(header, " ")
	switch {
	case hasScheme && strings.EqualFold(scheme, "Bearer"):
		candidate = strings.TrimSpace(rest)
	case hasScheme && strings.EqualFold(scheme, "Basic"):
		dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return fmt.Errorf("%w: malformed basic credentials", host.ErrUnauthorized)
		}
		_, pass, _ := strings.Cut(string(dec), ":")
		candidate = pass
	}
	if !equalSecret([]byte(candidate), token) {
		return fmt.Errorf("%w: wrong credentials", host.ErrUnauthorized)
	}
	return nil
}

// equalSecret compares in constant time, whatever the lengths.
func equalSecret(a, b []byte) bool {
	ha, hb := sha256.Sum256(a), sha256.Sum256(b)
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// Signature verifies "sha256=<hex HMAC-SHA256(key, body)>".
func Signature(key []byte, header, value string, body []byte) error {
	if value == "" {
		return fmt.Errorf("%w: no %s header", host.ErrUnauthorized, header)
	}
	hexSig, ok := strings.CutPrefix(value, "sha256=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil {
		return fmt.Errorf("%w: %s is not sha256=<hex>", host.ErrUnauthorized, header)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return fmt.Errorf("%w: %s does not match the body", host.ErrUnauthorized, header)
	}
	return nil
}
