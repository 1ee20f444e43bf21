package intake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/registry"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/internal/webauth"
)

const token = "t0ken-for-tests"

// env is intake behind the real host, with a real sink and a real registry.
type env struct {
	url        string
	sink       *testutil.Sink
	regHost    string // 127.0.0.1:port of the in-process registry
	imgDigest  string
	idxDigest  string
	regHits    *atomic.Int64
	secretFile func(content string) string
}

func newEnv(t *testing.T, mutate func(cfg *config.Intake, e *env)) *env {
	t.Helper()
	e := &env{sink: testutil.NewSink(t), regHits: &atomic.Int64{}}
	dir := t.TempDir()
	n := 0
	e.secretFile = func(content string) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("secret-%d", n))
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	regSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.regHits.Add(1)
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(regSrv.Close)
	e.regHost = strings.TrimPrefix(regSrv.URL, "http://")
	img, _ := random.Image(128, 1)
	ref, _ := name.NewTag(e.regHost + "/team/hello:1.4.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	e.imgDigest = d.String()
	idx, _ := random.Index(64, 1, 2)
	iref, _ := name.NewTag(e.regHost + "/team/hello:2.0.0")
	if err := remote.WriteIndex(iref, idx); err != nil {
		t.Fatal(err)
	}
	d, _ = idx.Digest()
	e.idxDigest = d.String()
	// Docker Hub's host is served by the same in-process registry.
	dockerHub, _ := name.NewTag("index.docker.io/library/nginx:1.25")
	if err := remote.Write(dockerHub, img, remote.WithTransport(rewrite{e.regHost})); err != nil {
		t.Fatal(err)
	}

	t.Setenv("SLIPSTREAM_INTAKE_FORMATS", strings.Join(Formats(), ","))
	for _, f := range Formats() {
		t.Setenv(config.FormatPrefix(f)+"_TOKEN_FILE", e.secretFile(token))
	}
	t.Setenv("SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES", e.regHost+",docker.io,quay.io,ghcr.io,europe-docker.pkg.dev,123456789012.dkr.ecr.us-west-2.amazonaws.com,myregistry.azurecr.io,harbor.example.com")
	cfg, err := config.LoadIntake(Formats())
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg, e)
	}

	shared := testutil.Shared(e.sink.URL)
	shared.MaxBodyBytes = 64 << 10
	h, err := host.New(Name, shared, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	sender, err := h.Sender()
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := registry.New(registry.WithTimeout(2*time.Second), registry.WithTransport(rewrite{e.regHost}))
	if err != nil {
		t.Fatal(err)
	}
	in, err := New(cfg, sender, resolver, WithClock(func() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler(in.Function()))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// rewrite sends Docker Hub's registry traffic to the in-process registry, so
// the real resolver code runs for the dockerhub format.
type rewrite struct{ host string }

func (rw rewrite) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == "index.docker.io" {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host, r.Host = "http", rw.host, rw.host
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (e *env) post(t *testing.T, path string, header http.Header, body []byte) (int, string) {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + token}}
	for k, v := range header {
		h[k] = v
	}
	resp, b := testutil.Post(t, e.url+path, h, bytes.NewReader(body))
	return resp.StatusCode, b
}

func (e *env) distribution(tag, digest, mediaType string) []byte {
	return []byte(`{"events":[{"id":"x","timestamp":"2026-11-26T07:59:00Z","action":"push","target":{"mediaType":"` + mediaType + `","digest":"` + digest +
		`","repository":"team/hello","url":"http://` + e.regHost + `/v2/team/hello/manifests/` + digest + `","tag":"` + tag + `"},"request":{"host":"` + e.regHost + `"}}]}`)
}

func TestEveryFormatBecomesOneEvent(t *testing.T) {
	e := newEnv(t, nil)
	img := func(registry, repo, tag, digest string) string {
		return registry + "/" + repo + ":" + tag + "@" + digest
	}
	garData := base64.StdEncoding.EncodeToString([]byte(`{"action":"INSERT","digest":"europe-docker.pkg.dev/p/r/app@` + dgA + `","tag":"europe-docker.pkg.dev/p/r/app:2.1.0"}`))
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		image  string
	}{
		{
			name:   "distribution",
			path:   "/webhooks/distribution",
			header: http.Header{"Content-Type": {"application/vnd.docker.distribution.events.v2+json"}},
			body:   e.distribution("1.4.0-d", e.imgDigest, "application/vnd.oci.image.manifest.v1+json"),
			image:  img(e.regHost, "team/hello", "1.4.0-d", e.imgDigest),
		},
		{
			name:   "distribution v2.x media type",
			path:   "/webhooks/distribution",
			header: http.Header{"Content-Type": {"application/vnd.docker.distribution.events.v1+json"}},
			body:   e.distribution("2.0.0-d", e.idxDigest, "application/vnd.oci.image.index.v1+json"),
			image:  img(e.regHost, "team/hello", "2.0.0-d", e.idxDigest),
		},
		{
			name:   "harbor",
			path:   "/webhooks/harbor",
			header: http.Header{"Authorization": {token}},
			body: sampleWith(t, "harbor-push-default.json",
				`"tag": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"`, `"tag": "3.18"`, `"localhost/harbor/alpine@`, `"harbor.example.com/harbor/alpine:3.18@`),
			image: img("harbor.example.com", "harbor/alpine", "3.18", "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"),
		},
		{
			name:  "dockerhub (digest resolved)",
			path:  "/webhooks/dockerhub",
			body:  []byte(`{"push_data":{"pushed_at":1417566161,"tag":"1.25"},"repository":{"repo_name":"nginx"}}`),
			image: img("index.docker.io", "library/nginx", "1.25", e.imgDigest),
		},
		{
			name:  "quay (digest resolved)",
			path:  "/webhooks/quay",
			body:  []byte(`{"docker_url":"` + e.regHost + `/team/hello","updated_tags":["1.4.0"]}`),
			image: img(e.regHost, "team/hello", "1.4.0", e.imgDigest),
		},
		{
			name:  "quay multi-arch (index digest)",
			path:  "/webhooks/quay",
			body:  []byte(`{"docker_url":"` + e.regHost + `/team/hello","updated_tags":["2.0.0"]}`),
			image: img(e.regHost, "team/hello", "2.0.0", e.idxDigest),
		},
		{
			name:   "github",
			path:   "/webhooks/github",
			header: http.Header{"X-Github-Event": {"package"}},
			body: sampleWith(t, "github-package-published.json",
				`"name": "",`, `"name": "1.4.0",`, `sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b`, dgA, `"ghcr.io/Codertocat/hello-world:"`, `"ghcr.io/Codertocat/hello-world:1.4.0"`),
			image: img("ghcr.io", "codertocat/hello-world", "1.4.0", dgA),
		},
		{
			name:   "gar",
			path:   "/webhooks/gar",
			header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("pubsub:"+token))}},
			body:   []byte(`{"message":{"data":"` + garData + `","messageId":"1"},"subscription":"projects/p/subscriptions/s"}`),
			image:  img("europe-docker.pkg.dev", "p/r/app", "2.1.0", dgA),
		},
		{
			name:  "ecr",
			path:  "/webhooks/ecr",
			body:  sampleWith(t, "ecr-image-action.json", "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234", dgB),
			image: img("123456789012.dkr.ecr.us-west-2.amazonaws.com", "my-repository-name", "latest", dgB),
		},
		{
			name:  "acr",
			path:  "/webhooks/acr",
			body:  sampleWith(t, "acr-push.json", "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx", dgB),
			image: img("myregistry.azurecr.io", "hello-world", "v1", dgB),
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.post(t, tc.path, tc.header, tc.body)
			if code != http.StatusAccepted {
				t.Fatalf("%d %s, want 202", code, body)
			}
			got := e.sink.Events()
			if len(got) != i+1 {
				t.Fatalf("sink holds %d events, want %d", len(got), i+1)
			}
			checkEvent(t, got[i], tc.image, strings.TrimPrefix(tc.path, "/webhooks/"))
			if !strings.Contains(body, tc.image) {
				t.Errorf("answer %s does not name the image", body)
			}
		})
	}
}

// checkEvent asserts an image.pushed event: valid, routed by subject and extensions.
func checkEvent(t *testing.T, ev cloudevents.Event, image, format string) {
	t.Helper()
	d, err := eventing.Decode[eventing.ImagePushed](ev)
	if err != nil {
		t.Fatalf("the sent event does not decode: %v", err)
	}
	if d.Image != image || d.Format != format {
		t.Errorf("image %q format %q, want %q %q", d.Image, d.Format, image, format)
	}
	type routing struct {
		Subject    string
		Extensions map[string]any
	}
	ext := ev.Extensions()
	want := routing{
		Subject:    d.Registry + "/" + d.Repository,
		Extensions: map[string]any{"repository": d.Repository, "tag": d.Tag, "digest": d.Digest},
	}
	got := routing{
		Subject:    ev.Subject(),
		Extensions: map[string]any{"repository": ext["repository"], "tag": ext["tag"], "digest": ext["digest"]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("routing attributes (-want +got):\n%s", diff)
	}
	if ev.Source() != "/slipstream/intake" || ev.ID() != d.ID() {
		t.Errorf("source %q id %q", ev.Source(), ev.ID())
	}
}

func TestCloudEventsFormats(t *testing.T) {
	e := newEnv(t, nil)
	client, _ := cloudevents.NewClientHTTP()
	send := func(ev cloudevents.Event, auth string) int {
		ctx := cloudevents.ContextWithTarget(t.Context(), e.url)
		ctx = cehttp.WithCustomHeader(ctx, http.Header{"Authorization": {auth}})
		res := client.Send(cloudevents.WithEncodingStructured(ctx), ev)
		var hr *cehttp.Result
		if !cloudevents.ResultAs(res, &hr) {
			t.Fatalf("result %v", res)
		}
		return hr.StatusCode
	}
	var harbor cloudevents.Event
	raw := sampleWith(t, "harbor-push-cloudevents.json", `"tag": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4"`, `"tag": "3.18"`,
		`"localhost/harbor/alpine@`, `"harbor.example.com/harbor/alpine:3.18@`)
	if err := json.Unmarshal(raw, &harbor); err != nil {
		t.Fatal(err)
	}
	if code := send(harbor, "Bearer "+token); code != 202 {
		t.Fatalf("harbor CloudEvent: %d", code)
	}
	checkEvent(t, e.sink.Events()[0], "harbor.example.com/harbor/alpine:3.18@sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4", "cloudevents")

	cd := cloudevents.NewEvent()
	cd.SetID("271069a8")
	cd.SetSource("/event/source/123")
	cd.SetType("dev.cdevents.artifact.published.0.1.1")
	purl := "pkg:oci/hello@" + url.PathEscape(e.imgDigest) + "?repository_url=" + e.regHost + "/team/hello&tag=1.4.0"
	_ = cd.SetData(cloudevents.ApplicationJSON, map[string]any{
		"context": map[string]string{"version": "0.2.0", "id": "271069a8", "source": "/event/source/123", "type": "dev.cdevents.artifact.published.0.1.1"},
		"subject": map[string]any{"id": purl, "source": "/event/source/123", "type": "artifact", "content": map[string]any{}},
	})
	if code := send(cd, "Bearer "+token); code != 202 {
		t.Fatalf("CDEvent: %d", code)
	}
	checkEvent(t, e.sink.Events()[1], e.regHost+"/team/hello:1.4.0@"+e.imgDigest, "cloudevents")

	// The real Harbor sample pushes by digest: acknowledged (refused), nothing sent.
	var byDigest cloudevents.Event
	_ = json.Unmarshal(sample(t, "harbor-push-cloudevents.json"), &byDigest)
	if code := send(byDigest, "Bearer "+token); code != 200 {
		t.Errorf("harbor push by digest: %d, want 200", code)
	}
	// A CloudEvent without credentials.
	if code := send(cd, ""); code != 401 {
		t.Errorf("CloudEvent without credentials: %d, want 401", code)
	}
	if n := len(e.sink.Events()); n != 2 {
		t.Errorf("sink holds %d events, want 2", n)
	}
}

func TestRefusedRequestsSendNothing(t *testing.T) {
	e := newEnv(t, func(cfg *config.Intake, e *env) {
		gh := cfg.Auth["github"]
		gh.HMACSecretFile.Decode(e.secretFile("It's a Secret to Everybody"))
		cfg.Auth["github"] = gh
	})
	good := e.distribution("1.4.0", e.imgDigest, "application/vnd.oci.image.manifest.v1+json")
	tests := []struct {
		name   string
		path   string
		header http.Header
		body   []byte
		status int
		says   string
	}{
		{
			name:   "sample: untagged and blobs",
			path:   "/webhooks/distribution",
			body:   sample(t, "distribution-push.json"),
			status: 200,
			says:   "untagged manifest",
		},
		{
			name:   "sample: pull",
			path:   "/webhooks/distribution",
			body:   sample(t, "distribution-pull.json"),
			status: 200,
			says:   "pull of hello-world:latest",
		},
		{
			name:   "sample: harbor push by digest",
			path:   "/webhooks/harbor",
			body:   sample(t, "harbor-push-default.json"),
			status: 200,
			says:   "push by digest",
		},
		{
			name:   "sample: github untagged",
			path:   "/webhooks/github",
			body:   sample(t, "github-package-published.json"),
			status: 401,
			says:   "no X-Hub-Signature-256",
		},
		{
			name:   "sample: gar placeholder digest",
			path:   "/webhooks/gar",
			body:   sample(t, "gar-pubsub-push.json"),
			status: 400,
			says:   `sha256:6ec128e26cd5...\" is not sha256:`,
		},
		{
			name:   "sample: ecr placeholder digest",
			path:   "/webhooks/ecr",
			body:   sample(t, "ecr-image-action.json"),
			status: 400,
			says:   "detail: digest",
		},
		{
			name:   "sample: acr placeholder digest",
			path:   "/webhooks/acr",
			body:   sample(t, "acr-push.json"),
			status: 400,
			says:   "target: digest",
		},
		{
			name:   "sample: dockerhub tag missing in the registry",
			path:   "/webhooks/dockerhub",
			body:   sample(t, "dockerhub-push.json"),
			status: 400,
			says:   "the registry has no such tag",
		},
		{
			name:   "sample: quay registry not allowed",
			path:   "/webhooks/quay",
			body:   []byte(`{"docker_url":"evil.example.com/x/y","updated_tags":["1"]}`),
			status: 403,
			says:   "evil.example.com is not in SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES",
		},
		{
			name:   "no credentials",
			path:   "/webhooks/distribution",
			header: http.Header{"Authorization": nil},
			body:   good,
			status: 401,
			says:   "no Authorization header",
		},
		{
			name:   "wrong token",
			path:   "/webhooks/distribution",
			header: http.Header{"Authorization": {"Bearer nope"}},
			body:   good,
			status: 401,
			says:   "wrong credentials",
		},
		{
			name:   "wrong basic password",
			path:   "/webhooks/distribution",
			header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("u:nope"))}},
			body:   good,
			status: 401,
			says:   "wrong credentials",
		},
		{
			name:   "wrong GitHub signature",
			path:   "/webhooks/github",
			header: http.Header{"X-Github-Event": {"package"}, "X-Hub-Signature-256": {"sha256=" + strings.Repeat("00", 32)}},
			body:   []byte(`{}`),
			status: 401,
			says:   "does not match the body",
		},
		{
			name:   "truncated JSON",
			path:   "/webhooks/distribution",
			body:   good[:40],
			status: 400,
			says:   "not valid JSON",
		},
		{
			name:   "huge body",
			path:   "/webhooks/distribution",
			body:   bytes.Repeat([]byte(" "), 70<<10),
			status: 413,
			says:   "limit is 65536",
		},
		{
			name:   "wrong content type",
			path:   "/webhooks/distribution",
			header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			body:   []byte("payload=%7B%7D"),
			status: 415,
			says:   "send JSON",
		},
		{
			name:   "unknown format",
			path:   "/webhooks/nexus",
			body:   good,
			status: 404,
			says:   "no route",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := e.regHits.Load()
			code, body := e.post(t, tc.path, tc.header, tc.body)
			if code != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%d %s, want %d saying %q", code, body, tc.status, tc.says)
			}
			if n := len(e.sink.Events()); n != 0 {
				t.Errorf("%d events sent, want none", n)
			}
			if tc.status == 403 && e.regHits.Load() != before {
				t.Error("a refused registry host was contacted")
			}
		})
	}
}

func TestGitHubSignature(t *testing.T) {
	// The test vector of GitHub's documentation.
	if err := webauth.Signature([]byte("It's a Secret to Everybody"), webauth.HeaderGitHubSignature,
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", []byte("Hello, World!")); err != nil {
		t.Errorf("GitHub's test vector: %v", err)
	}
	e := newEnv(t, func(cfg *config.Intake, e *env) {
		var gh config.WebhookAuth
		gh.HMACSecretFile.Decode(e.secretFile("gh-secret"))
		cfg.Auth["github"] = gh
	})
	body := sampleWith(t, "github-package-published.json", `"name": "",`, `"name": "1.4.0",`, `sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b`, dgA,
		`"ghcr.io/Codertocat/hello-world:"`, `"ghcr.io/Codertocat/hello-world:1.4.0"`)
	mac := hmac.New(sha256.New, []byte("gh-secret"))
	mac.Write(body)
	code, resp := e.post(t, "/webhooks/github", http.Header{"X-Github-Event": {"package"}, "Authorization": nil,
		"X-Hub-Signature-256": {"sha256=" + hex.EncodeToString(mac.Sum(nil))}}, body)
	if code != 202 || len(e.sink.Events()) != 1 {
		t.Errorf("signed GitHub webhook: %d %s, %d events", code, resp, len(e.sink.Events()))
	}
}

func TestNeverLoseAPush(t *testing.T) {
	e := newEnv(t, nil)
	body := e.distribution("1.4.0", e.imgDigest, "application/vnd.oci.image.manifest.v1+json")

	e.sink.Fail(nil, 503, 503) // more than the host's one retry
	code, resp := e.post(t, "/webhooks/distribution", nil, body)
	if code != http.StatusServiceUnavailable || !strings.Contains(resp, "not sent") {
		t.Fatalf("sink down: %d %s, want 503 so the registry retries", code, resp)
	}
	if n := len(e.sink.Events()); n != 0 {
		t.Fatalf("%d events while the sink was down", n)
	}
	// The registry retries once the sink is back.
	code, resp = e.post(t, "/webhooks/distribution", nil, body)
	if code != http.StatusAccepted || len(e.sink.Events()) != 1 {
		t.Fatalf("retry: %d %s with %d events, want 202 and one event", code, resp, len(e.sink.Events()))
	}
	// A duplicate delivery (registry retry, or the webhook configured twice) is not sent again.
	code, resp = e.post(t, "/webhooks/distribution", nil, body)
	if code != http.StatusAccepted || !strings.Contains(resp, "already sent") || len(e.sink.Events()) != 1 {
		t.Errorf("duplicate: %d %s with %d events, want 202, already sent, one event", code, resp, len(e.sink.Events()))
	}
	// The same push reported by another format has the same id: not sent again either.
	code, _ = e.post(t, "/webhooks/quay", nil, []byte(`{"docker_url":"`+e.regHost+`/team/hello","updated_tags":["1.4.0"]}`))
	if code != http.StatusAccepted || len(e.sink.Events()) != 1 {
		t.Errorf("same push via quay: %d with %d events, want one event", code, len(e.sink.Events()))
	}
}

func TestConcurrentDuplicatesSendOnce(t *testing.T) {
	e := newEnv(t, nil)
	body := e.distribution("1.4.0", e.imgDigest, "application/vnd.oci.image.manifest.v1+json")
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := e.post(t, "/webhooks/distribution", nil, body)
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusAccepted {
			t.Errorf("status %d, want 202", c)
		}
	}
	if n := len(e.sink.Events()); n != 1 {
		t.Errorf("%d events for 8 concurrent copies of one push, want 1", n)
	}
}

func TestRegistryDown(t *testing.T) {
	e := newEnv(t, func(cfg *config.Intake, e *env) {
		cfg.AllowedRegistries = append(cfg.AllowedRegistries, "127.0.0.1:1")
	})
	code, body := e.post(t, "/webhooks/quay", nil, []byte(`{"docker_url":"127.0.0.1:1/team/hello","updated_tags":["1.4.0"]}`))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "resolving") {
		t.Errorf("registry down: %d %s, want 503", code, body)
	}
	if n := len(e.sink.Events()); n != 0 {
		t.Errorf("%d events sent", n)
	}
}

func TestRecentForgetsAfterTheWindow(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecent(time.Minute, 10, func() time.Time { return now })
	release, dup, err := r.claim(t.Context(), "a")
	if err != nil || dup {
		t.Fatal(dup, err)
	}
	release(true)
	if _, dup, _ := r.claim(t.Context(), "a"); !dup {
		t.Error("a sent id was not remembered")
	}
	now = now.Add(2 * time.Minute)
	release, dup, _ = r.claim(t.Context(), "a")
	if dup {
		t.Error("an id was remembered past the window")
	}
	release(false)
	if len(r.sent) != 0 {
		t.Errorf("expired ids kept: %v", r.sent)
	}
}

// TestRecentIsBoundedByCount: a flood of distinct ids within the window
// keeps at most max; the oldest are forgotten first, the newest remembered.
func TestRecentIsBoundedByCount(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRecent(time.Hour, 3, func() time.Time { return now })
	for i := range 1000 {
		release, dup, err := r.claim(t.Context(), fmt.Sprint(i))
		if err != nil || dup {
			t.Fatal(i, dup, err)
		}
		release(true)
		now = now.Add(time.Millisecond)
	}
	if len(r.sent) != 3 || len(r.order) > 3 {
		t.Errorf("remembered %d ids (order %d), want 3", len(r.sent), len(r.order))
	}
	if _, dup, _ := r.claim(t.Context(), "999"); !dup {
		t.Error("the newest id was forgotten")
	}
	release, dup, _ := r.claim(t.Context(), "0")
	if dup {
		t.Error("the oldest id is still remembered past the bound")
	}
	release(false)
}
