package webauth

import (
	"encoding/base64"
	"errors"
	"testing"

	"github.com/slipstream-cd/slipstream/internal/host"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestToken(t *testing.T) {
	for header, ok := range map[string]bool{"Bearer s3cret": true, "bearer s3cret": true, "s3cret": true, basic("any", "s3cret"): true,
		"": false, "Bearer nope": false, basic("any", "nope"): false, "Basic !!!": false, "Bearer s3cret2": false} {
		err := Token([]byte("s3cret"), header)
		if (err == nil) != ok || (err != nil && !errors.Is(err, host.ErrUnauthorized)) {
			t.Errorf("Token(%q) = %v, want ok=%v", header, err, ok)
		}
	}
}

func TestBasic(t *testing.T) {
	for header, ok := range map[string]bool{basic("am", "pw"): true, basic("am", "no"): false, basic("other", "pw"): false, "Bearer pw": false, "": false} {
		if err := Basic("am", []byte("pw"), header); (err == nil) != ok {
			t.Errorf("Basic(%q) = %v, want ok=%v", header, err, ok)
		}
	}
}

func TestSignatureTestVector(t *testing.T) {
	// The test vector of GitHub's documentation.
	if err := Signature([]byte("It's a Secret to Everybody"), HeaderGitHubSignature,
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!")); err != nil {
		t.Errorf("GitHub's test vector: %v", err)
	}
	for _, v := range []string{"", "sha1=abc", "sha256=zz", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18"} {
		if err := Signature([]byte("It's a Secret to Everybody"), HeaderGitHubSignature, v, []byte("Hello, World!")); !errors.Is(err, host.ErrUnauthorized) {
			t.Errorf("Signature(%q) = %v, want unauthorized", v, err)
		}
	}
}
