package intake

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
	"github.com/slipstream-cd/slipstream/functions/internal/host"
)

// Signature headers: GitHub's, and slipstream's own for senders that can sign.
const (
	headerGitHubSignature = "X-Hub-Signature-256"
	headerSignature       = "X-Slipstream-Signature"
)

// authorize checks a request against a format's configured mechanisms; every
// configured one must pass. Comparisons are constant-time, and no error says
// more than which check failed.
func authorize(format string, a config.WebhookAuth, r *http.Request, body []byte) error {
	if a.TokenFile.Set() {
		if err := checkToken(a.TokenFile.Value(), r.Header.Get("Authorization")); err != nil {
			return err
		}
	}
	if a.HMACSecretFile.Set() {
		header := headerSignature
		if format == "github" {
			header = headerGitHubSignature
		}
		if err := checkSignature(a.HMACSecretFile.Value(), header, r.Header.Get(header), body); err != nil {
			return err
		}
	}
	return nil
}

// checkToken accepts "Bearer <token>", the bare token (as an EventBridge API
// key or a Harbor auth_header may send it), or basic auth whose password is the token.
func checkToken(token []byte, header string) error {
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

// checkSignature verifies "sha256=<hex HMAC-SHA256(key, body)>".
func checkSignature(key []byte, header, value string, body []byte) error {
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
