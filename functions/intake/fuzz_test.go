package intake

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/internal/host"
)

// fuzzParser checks one parser on arbitrary bodies: it never panics, fails
// only with a malformed-request error, and every push it returns has a field
// path and either passes decide or is refused by it with a 400 or 403.
func fuzzParser(f *testing.F, parse parser, header http.Header, samples ...string) {
	for _, s := range samples {
		b, err := os.ReadFile(filepath.Join("testdata", "samples", s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	allowed, _ := newAllowlist([]string{"registry.example.com"})
	f.Fuzz(func(t *testing.T, body []byte) {
		rep, err := parse(body, header)
		if err != nil {
			if !errors.Is(err, host.ErrMalformed) {
				t.Fatalf("parse error is not ErrMalformed: %v", err)
			}
			return
		}
		for _, p := range rep.Pushes {
			if p.Field == "" {
				t.Fatalf("push %s without a field path", p)
			}
		}
		if _, err := decide(rep, allowed); err != nil && !errors.Is(err, host.ErrMalformed) && !errors.Is(err, host.ErrForbidden) {
			t.Fatalf("decide error is neither malformed nor forbidden: %v", err)
		}
	})
}

func FuzzParseDistribution(f *testing.F) {
	fuzzParser(f, parseDistribution, nil, "distribution-push.json", "distribution-pull.json")
}
func FuzzParseHarbor(f *testing.F) { fuzzParser(f, parseHarbor, nil, "harbor-push-default.json") }
func FuzzParseDockerHub(f *testing.F) {
	fuzzParser(f, parseDockerHub, nil, "dockerhub-push.json")
}
func FuzzParseQuay(f *testing.F) { fuzzParser(f, parseQuay, nil, "quay-push.json") }
func FuzzParseGitHub(f *testing.F) {
	fuzzParser(f, parseGitHub, http.Header{"X-Github-Event": {"package"}}, "github-package-published.json")
}
func FuzzParseGAR(f *testing.F) {
	fuzzParser(f, parseGAR, nil, "gar-pubsub-push.json", "gar-insert.json")
}
func FuzzParseECR(f *testing.F) { fuzzParser(f, parseECR, nil, "ecr-image-action.json") }
func FuzzParseACR(f *testing.F) { fuzzParser(f, parseACR, nil, "acr-push.json") }

// FuzzParseCloudEvents feeds arbitrary data to the Harbor and CDEvents readers.
func FuzzParseCloudEvents(f *testing.F) {
	b, _ := os.ReadFile(filepath.Join("testdata", "samples", "harbor-push-cloudevents.json"))
	f.Add(b)
	f.Add([]byte(`{"subject":{"id":"pkg:oci/hello@sha256%3A3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d?repository_url=registry.example.com/team/hello&tag=1.0.0"}}`))
	f.Add([]byte(`{"subject":{"id":"pkg:oci/x@%zz?repository_url=a"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e := cloudevents.NewEvent()
		e.DataEncoded = data
		for _, parse := range []func(cloudevents.Event) (report, error){parseHarborEvent, parseCDEvent} {
			rep, err := parse(e)
			if err != nil && !errors.Is(err, host.ErrMalformed) {
				t.Fatalf("error is not ErrMalformed: %v", err)
			}
			for _, p := range rep.Pushes {
				if p.Field == "" {
					t.Fatalf("push without a field path")
				}
			}
		}
	})
}
