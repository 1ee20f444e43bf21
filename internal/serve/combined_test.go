package serve

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestCombinedRefusesToServeBrokerRoutesUnverified: the all-in-one
// function serves / on intake's public address, so without an audience to
// verify the broker's tokens (and no explicit opt-out) it does not start.
func TestCombinedRefusesToServeBrokerRoutesUnverified(t *testing.T) {
	url, _ := testutil.NewGitRepo(t, map[string]string{"apps/README": "none"})
	t.Setenv("K_SINK", testutil.NewSink(t).URL)
	t.Setenv("SLIPSTREAM_PROMOTE_GIT_URL", url)
	_, err := Combine(context.Background(), []string{"promote"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_OIDC_AUDIENCE") {
		t.Fatalf("Combine: %v, want a refusal naming SLIPSTREAM_OIDC_AUDIENCE", err)
	}
}

// TestCombinedRoutesByPathAndType runs intake and promote in one handler:
// a registry webhook goes to intake, an image.pushed event to promote.
func TestCombinedRoutesByPathAndType(t *testing.T) {
	url, bare := testutil.NewGitRepo(t, map[string]string{"apps/hello/service.yaml": `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: demo
  annotations:
    slipstream.dev/track: semver:^1.0.0
spec:
  template:
    metadata:
      name: hello-aa11bb22cc
    spec:
      containers:
        - image: registry.example.com/team/hello:1.0.0@sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66
  traffic:
    - revisionName: hello-aa11bb22cc
      percent: 100
      tag: stable
`})
	sink := testutil.NewSink(t)
	tok := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tok, []byte("tok"), 0o600)
	for k, v := range map[string]string{"K_SINK": sink.URL, "SLIPSTREAM_INTAKE_FORMATS": "distribution", "SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE": tok,
		"SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES": "registry.example.com", "SLIPSTREAM_PROMOTE_GIT_URL": url, "SLIPSTREAM_PROMOTE_PATHS": "apps",
		"SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS": "true"} {
		t.Setenv(k, v)
	}
	c, err := Combine(context.Background(), []string{"intake", "promote"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()

	digest := "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/distribution", strings.NewReader(`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+digest+`","repository":"team/hello","tag":"1.4.0"},"request":{"host":"registry.example.com"}}]}`))
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/webhooks/distribution", strings.NewReader(`{}`))
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 401 {
		t.Errorf("webhook without credentials: %d", resp.StatusCode)
	}

	pushed := sink.Events()
	if len(pushed) != 1 || pushed[0].Type() != eventing.TypeImagePushed {
		t.Fatalf("sink: %v", pushed)
	}
	client, _ := cloudevents.NewClientHTTP()
	reply, res := client.Request(cloudevents.ContextWithTarget(context.Background(), srv.URL), pushed[0])
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) || hr.StatusCode != 200 || reply == nil || reply.Type() != eventing.TypeManifestCommitted {
		t.Fatalf("event: %v %v", res, reply)
	}
	if got := testutil.Subjects(t, bare)[0]; got != "slipstream: deploy team/hello:1.4.0 to demo/hello" {
		t.Errorf("commit %q", got)
	}
	if err := c.Ready(context.Background()); err != nil {
		t.Errorf("Ready: %v", err)
	}
}

// TestCombinedServesTheFunctionsMetrics: a function's own metrics reach the
// all-in-one's /metrics (here notify's, once it posted).
func TestCombinedServesTheFunctionsMetrics(t *testing.T) {
	chat := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer chat.Close()
	url := filepath.Join(t.TempDir(), "url")
	os.WriteFile(url, []byte(chat.URL+"/hook"), 0o600)
	t.Setenv("SLIPSTREAM_NOTIFY_URL_FILE", url)
	t.Setenv("SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS", "true")
	c, err := Combine(context.Background(), []string{"notify"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c)
	defer srv.Close()
	e, err := eventing.New("rollout", &eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-b",
		Image: "registry.example.com/team/hello:1.4.0@sha256:" + strings.Repeat("3", 64)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	client, _ := cloudevents.NewClientHTTP()
	if res := client.Send(cloudevents.ContextWithTarget(context.Background(), srv.URL), e); !cloudevents.IsACK(res) {
		t.Fatalf("event: %v", res)
	}
	_, metrics := testutil.Get(t, srv.URL+"/metrics")
	if want := `slipstream_notifications_total{function="slipstream",outcome="sent"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}
