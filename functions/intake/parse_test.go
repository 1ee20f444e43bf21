package intake

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	dgA = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	dgB = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
)

func sample(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleWith is a real sample with placeholder values replaced.
func sampleWith(t testing.TB, name string, oldnew ...string) []byte {
	return []byte(strings.NewReplacer(oldnew...).Replace(string(sample(t, name))))
}

type want struct{ Registry, Repository, Tag, Digest string }

func wants(ps []push) []want {
	var out []want
	for _, p := range ps {
		out = append(out, want{p.Registry, p.Repository, p.Tag, p.Digest})
	}
	return out
}

func TestParsers(t *testing.T) {
	gh := func(event string) http.Header { return http.Header{"X-Github-Event": {event}} }
	garEnvelope := func(inner string) []byte {
		return []byte(`{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(inner)) + `","messageId":"1","publishTime":"2021-02-26T19:13:55.749Z"},"subscription":"projects/p/subscriptions/s"}`)
	}
	distEvent := func(action, mediaType, tag, extra string) string {
		return `{"id":"1","timestamp":"2026-11-26T08:00:00Z","action":"` + action + `","target":{"mediaType":"` + mediaType + `","digest":"` + dgA +
			`","repository":"team/hello","url":"http://registry.example.com/v2/team/hello/manifests/` + dgA + `","tag":"` + tag + `"` + extra + `},"request":{"host":"registry.example.com","method":"PUT"}}`
	}
	const oci = "application/vnd.oci.image.manifest.v1+json"
	const ociIndex = "application/vnd.oci.image.index.v1+json"
	tests := []struct {
		name    string
		parse   parser
		body    []byte
		header  http.Header
		pushes  []want
		ignored int
		err     string // substring of a 400 naming the field
	}{
		// CNCF Distribution.
		{
			name:    "distribution sample: untagged manifest and two blobs",
			parse:   parseDistribution,
			body:    sample(t, "distribution-push.json"),
			ignored: 3,
		},
		{
			name:    "distribution sample: pull",
			parse:   parseDistribution,
			body:    sample(t, "distribution-pull.json"),
			ignored: 1,
		},
		{
			name:   "distribution: tagged push",
			parse:  parseDistribution,
			body:   []byte(`{"events":[` + distEvent("push", oci, "1.4.0", "") + `]}`),
			pushes: []want{{"registry.example.com", "team/hello", "1.4.0", dgA}},
		},
		{
			name:    "distribution: multi-arch push is one event for the index",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("push", oci, "", "") + `,` + distEvent("push", oci, "", "") + `,` + distEvent("push", ociIndex, "2.0.0", "") + `]}`),
			pushes:  []want{{"registry.example.com", "team/hello", "2.0.0", dgA}},
			ignored: 2,
		},
		{
			name:    "distribution: delete, mount",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("delete", oci, "1", "") + `,` + distEvent("mount", oci, "1", "") + `]}`),
			ignored: 2,
		},
		{
			name:    "distribution: cosign signature tag",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("push", oci, "sha256-"+dgA[7:]+".sig", "") + `]}`),
			ignored: 1,
		},
		{
			name:    "distribution: helm chart by its config",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("push", oci, "0.1.0", `,"references":[{"mediaType":"application/vnd.cncf.helm.config.v1+json"}]`) + `]}`),
			ignored: 1,
		},
		{
			name:    "distribution: signature by artifactType",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("push", oci, "v1", `,"artifactType":"application/vnd.dev.cosign.artifact.sig.v1+json"`) + `]}`),
			ignored: 1,
		},
		{
			name:    "distribution: schema1 manifest",
			parse:   parseDistribution,
			body:    []byte(`{"events":[` + distEvent("push", "application/vnd.docker.distribution.manifest.v1+prettyjws", "1", "") + `]}`),
			ignored: 1,
		},
		{
			name:    "distribution: empty envelope",
			parse:   parseDistribution,
			body:    []byte(`{"events":[]}`),
			ignored: 1,
		},
		{
			name:  "distribution: no envelope",
			parse: parseDistribution,
			body:  []byte(`{"action":"push"}`),
			err:   "events: required",
		},
		{
			name:  "distribution: truncated",
			parse: parseDistribution,
			body:  []byte(`{"events":[{"action":"pu`),
			err:   "body: not valid JSON",
		},
		{
			name:  "distribution: wrong type",
			parse: parseDistribution,
			body:  []byte(`{"events":{"action":"push"}}`),
			err:   "events: expected",
		},
		{
			name:  "distribution: empty body",
			parse: parseDistribution,
			body:  nil,
			err:   "body: empty",
		},
		{
			name:  "distribution: push without digest",
			parse: parseDistribution,
			body:  []byte(strings.Replace(`{"events":[`+distEvent("push", oci, "1", "")+`]}`, `"digest":"`+dgA+`",`, "", 1)),
			err:   "events[0].target.digest: required",
		},

		// Harbor, default format.
		{
			name:    "harbor sample: push by digest",
			parse:   parseHarbor,
			body:    sample(t, "harbor-push-default.json"),
			ignored: 1,
		},
		{
			name:  "harbor: tagged push",
			parse: parseHarbor,
			body: sampleWith(t, "harbor-push-default.json", `"tag": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"`, `"tag": "3.18"`,
				`"resource_url": "localhost/harbor/alpine@sha256`, `"resource_url": "harbor.example.com/harbor/alpine:3.18@sha256`),
			pushes: []want{{"harbor.example.com", "harbor/alpine", "3.18", "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"}},
		},
		{
			name:    "harbor: pull",
			parse:   parseHarbor,
			body:    []byte(`{"type":"PULL_ARTIFACT","event_data":{}}`),
			ignored: 1,
		},
		{
			name:  "harbor: no type",
			parse: parseHarbor,
			body:  []byte(`{"event_data":{}}`),
			err:   "type: required",
		},
		{
			name:  "harbor: no resources",
			parse: parseHarbor,
			body:  []byte(`{"type":"PUSH_ARTIFACT","event_data":{"resources":[]}}`),
			err:   "event_data.resources: required",
		},

		// Docker Hub.
		{
			name:   "dockerhub sample",
			parse:  parseDockerHub,
			body:   sample(t, "dockerhub-push.json"),
			pushes: []want{{"docker.io", "svendowideit/testhook", "latest", ""}},
		},
		{
			name:   "dockerhub: official image, float time",
			parse:  parseDockerHub,
			body:   []byte(`{"push_data":{"pushed_at":1.417566161e+09,"tag":"1.25"},"repository":{"repo_name":"nginx"}}`),
			pushes: []want{{"docker.io", "library/nginx", "1.25", ""}},
		},
		{
			name:  "dockerhub: no push_data",
			parse: parseDockerHub,
			body:  []byte(`{"repository":{"repo_name":"a/b"}}`),
			err:   "push_data: required",
		},

		// Quay.
		{
			name:   "quay sample",
			parse:  parseQuay,
			body:   sample(t, "quay-push.json"),
			pushes: []want{{"quay.io", "dgangaia/test", "latest", ""}},
		},
		{
			name:   "quay: two tags",
			parse:  parseQuay,
			body:   []byte(`{"docker_url":"quay.io/shop/cart","updated_tags":["1.0.0","stable"]}`),
			pushes: []want{{"quay.io", "shop/cart", "1.0.0", ""}, {"quay.io", "shop/cart", "stable", ""}},
		},
		{
			name:  "quay: no docker_url",
			parse: parseQuay,
			body:  []byte(`{"updated_tags":["1"]}`),
			err:   "docker_url: required",
		},

		// GitHub.
		{
			name:    "github sample: untagged",
			parse:   parseGitHub,
			body:    sample(t, "github-package-published.json"),
			header:  gh("package"),
			ignored: 1,
		},
		{
			name:    "github sample: registry_package untagged",
			parse:   parseGitHub,
			body:    sample(t, "github-registry-package-published.json"),
			header:  gh("registry_package"),
			ignored: 1,
		},
		{
			name:   "github: tagged container",
			parse:  parseGitHub,
			header: gh("package"),
			body: sampleWith(t, "github-package-published.json",
				`"name": "",`, `"name": "1.4.0",`, `sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b`, dgA, `"ghcr.io/Codertocat/hello-world:"`, `"ghcr.io/Codertocat/hello-world:1.4.0"`),
			pushes: []want{{"ghcr.io", "codertocat/hello-world", "1.4.0", dgA}},
		},
		{
			name:    "github: ping",
			parse:   parseGitHub,
			header:  gh("ping"),
			body:    []byte(`{"zen":"x"}`),
			ignored: 1,
		},
		{
			name:    "github: push event",
			parse:   parseGitHub,
			header:  gh("push"),
			body:    []byte(`{}`),
			ignored: 1,
		},
		{
			name:  "github: no event header",
			parse: parseGitHub,
			body:  []byte(`{}`),
			err:   "X-GitHub-Event: header required",
		},
		{
			name:    "github: npm package",
			parse:   parseGitHub,
			header:  gh("package"),
			body:    []byte(`{"action":"published","package":{"name":"x","package_type":"npm","ecosystem":"npm"}}`),
			ignored: 1,
		},
		{
			name:    "github: updated",
			parse:   parseGitHub,
			header:  gh("package"),
			body:    []byte(`{"action":"updated","package":{"name":"x","package_type":"container"}}`),
			ignored: 1,
		},

		// Google Artifact Registry through Pub/Sub.
		{
			name:   "gar sample: placeholder digest passes the parser",
			parse:  parseGAR,
			body:   sample(t, "gar-pubsub-push.json"),
			pushes: []want{{"us-west1-docker.pkg.dev", "my-project/my-repo/hello-world", "1.1", "sha256:6ec128e26cd5..."}},
		},
		{
			name:   "gar: insert",
			parse:  parseGAR,
			body:   garEnvelope(`{"action":"INSERT","digest":"europe-docker.pkg.dev/p/r/app@` + dgA + `","tag":"europe-docker.pkg.dev/p/r/app:2.1.0"}`),
			pushes: []want{{"europe-docker.pkg.dev", "p/r/app", "2.1.0", dgA}},
		},
		{
			name:   "gar: unwrapped",
			parse:  parseGAR,
			body:   []byte(`{"action":"INSERT","digest":"gcr.io/p/app@` + dgA + `","tag":"gcr.io/p/app:v1"}`),
			pushes: []want{{"gcr.io", "p/app", "v1", dgA}},
		},
		{
			name:    "gar: insert without tag",
			parse:   parseGAR,
			body:    garEnvelope(`{"action":"INSERT","digest":"gcr.io/p/app@` + dgA + `"}`),
			ignored: 1,
		},
		{
			name:    "gar: delete",
			parse:   parseGAR,
			body:    garEnvelope(`{"action":"DELETE","tag":"gcr.io/p/app:v1"}`),
			ignored: 1,
		},
		{
			name:  "gar: digest of another image",
			parse: parseGAR,
			body:  garEnvelope(`{"action":"INSERT","digest":"gcr.io/p/other@` + dgA + `","tag":"gcr.io/p/app:v1"}`),
			err:   "names another image",
		},
		{
			name:  "gar: bad base64",
			parse: parseGAR,
			body:  []byte(`{"message":{"data":"%%%"}}`),
			err:   "message.data: expected base64",
		},
		{
			name:  "gar: not an envelope",
			parse: parseGAR,
			body:  []byte(`{"hello":1}`),
			err:   "message: required",
		},

		// AWS ECR through EventBridge.
		{
			name:   "ecr sample: placeholder digest passes the parser",
			parse:  parseECR,
			body:   sample(t, "ecr-image-action.json"),
			pushes: []want{{"123456789012.dkr.ecr.us-west-2.amazonaws.com", "my-repository-name", "latest", "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234"}},
		},
		{
			name:    "ecr: failed push",
			parse:   parseECR,
			body:    sampleWith(t, "ecr-image-action.json", `"SUCCESS"`, `"FAILURE"`),
			ignored: 1,
		},
		{
			name:    "ecr: delete",
			parse:   parseECR,
			body:    sampleWith(t, "ecr-image-action.json", `"PUSH"`, `"DELETE"`),
			ignored: 1,
		},
		{
			name:    "ecr: scan event",
			parse:   parseECR,
			body:    sampleWith(t, "ecr-image-action.json", `"ECR Image Action"`, `"ECR Image Scan"`),
			ignored: 1,
		},
		{
			name:    "ecr: untagged",
			parse:   parseECR,
			body:    sampleWith(t, "ecr-image-action.json", `"image-tag": "latest"`, `"image-tag": ""`),
			ignored: 1,
		},
		{
			name:  "ecr: bad account",
			parse: parseECR,
			body:  sampleWith(t, "ecr-image-action.json", `"123456789012"`, `"12345"`),
			err:   "account:",
		},
		{
			name:  "ecr: not EventBridge",
			parse: parseECR,
			body:  []byte(`{"x":1}`),
			err:   "source: required",
		},

		// Azure Container Registry.
		{
			name:   "acr sample: placeholder digest passes the parser",
			parse:  parseACR,
			body:   sample(t, "acr-push.json"),
			pushes: []want{{"myregistry.azurecr.io", "hello-world", "v1", "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx"}},
		},
		{
			name:    "acr: chart push",
			parse:   parseACR,
			body:    sampleWith(t, "acr-push.json", `"action": "push"`, `"action": "chart_push"`),
			ignored: 1,
		},
		{
			name:    "acr: delete",
			parse:   parseACR,
			body:    sampleWith(t, "acr-push.json", `"action": "push"`, `"action": "delete"`),
			ignored: 1,
		},
		{
			name:  "acr: a Distribution envelope",
			parse: parseACR,
			body:  sample(t, "distribution-push.json"),
			err:   "send it to /webhooks/distribution",
		},
		{
			name:  "acr: no host",
			parse: parseACR,
			body:  []byte(`{"action":"push","target":{"repository":"a","tag":"1","digest":"` + dgA + `"}}`),
			err:   "request.host: required",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := tc.parse(tc.body, tc.header)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "malformed") {
					t.Fatalf("err = %v, want a malformed-request error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.pushes, wants(rep.Pushes)); diff != "" {
				t.Errorf("pushes (-want +got):\n%s", diff)
			}
			if len(rep.Ignored) != tc.ignored {
				t.Errorf("ignored %d %q, want %d", len(rep.Ignored), rep.Ignored, tc.ignored)
			}
			for _, p := range rep.Pushes {
				if p.Field == "" {
					t.Errorf("push %s has no field path", p)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	allowed, err := newAllowlist([]string{"registry.example.com", "docker.io", "localhost:5000"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		pushes []push
		want   []want
		err    string
	}{
		{
			name:   "normalises docker.io",
			pushes: []push{{Registry: "docker.io", Repository: "library/nginx", Tag: "1.25", Field: "f"}},
			want:   []want{{"index.docker.io", "library/nginx", "1.25", ""}},
		},
		{
			name:   "allowed with port",
			pushes: []push{{Registry: "localhost:5000", Repository: "hello", Tag: "v1", Digest: dgA, Field: "f"}},
			want:   []want{{"localhost:5000", "hello", "v1", dgA}},
		},
		{
			name:   "outside the allowlist",
			pushes: []push{{Registry: "evil.example.com", Repository: "x", Tag: "1", Field: "f"}},
			err:    "forbidden: registry evil.example.com is not in SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES",
		},
		{
			name:   "malformed wins over forbidden",
			pushes: []push{{Registry: "evil.example.com", Repository: "x", Tag: "1", Field: "a"}, {Registry: "registry.example.com", Repository: "x", Tag: "1", Digest: "sha256:xyz", Field: "b"}},
			err:    `b: digest "sha256:xyz"`,
		},
		{
			name:   "bad tag",
			pushes: []push{{Registry: "registry.example.com", Repository: "x", Tag: "-bad", Field: "f"}},
			err:    "f: \"registry.example.com/x:-bad\" is not a valid image reference",
		},
		{
			name:   "upper-case repository",
			pushes: []push{{Registry: "registry.example.com", Repository: "Team/x", Tag: "1", Field: "f"}},
			err:    `repository "Team/x" is not an OCI repository name`,
		},
		{
			name:   "a repository climbing out with ..",
			pushes: []push{{Registry: "registry.example.com", Repository: "team/../../../etc/passwd", Tag: "1", Field: "f"}},
			err:    `f: repository "team/../../../etc/passwd" is not an OCI repository name`,
		},
		{
			name:   "an empty path component",
			pushes: []push{{Registry: "registry.example.com", Repository: "a//b", Tag: "1", Field: "f"}},
			err:    `f: repository "a//b" is not an OCI repository name`,
		},
		{
			name:   "a path in the registry host",
			pushes: []push{{Registry: "localhost:5000/evil", Repository: "hello", Tag: "1", Field: "f"}},
			err:    `f: registry "localhost:5000/evil" is not a host with an optional port`,
		},
		{
			name:   "no repository",
			pushes: []push{{Registry: "registry.example.com", Tag: "1", Field: "f"}},
			err:    "f: no repository",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decide(report{Pushes: tc.pushes}, allowed)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ps []push
			for _, c := range got {
				ps = append(ps, c.push)
			}
			if diff := cmp.Diff(tc.want, wants(ps)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
