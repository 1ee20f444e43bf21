package notify

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// chat is an in-process chat webhook: it answers with status (200 unless
// set) after delay, and records every body.
type chat struct {
	mu       sync.Mutex
	status   int
	delay    time.Duration
	redirect string // answer 302 to it, when set
	bodies   []string
}

func (c *chat) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.bodies = append(c.bodies, string(b))
	status, delay, redirect := c.status, c.delay, c.redirect
	c.mu.Unlock()
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	select {
	case <-time.After(delay):
	case <-r.Context().Done():
		return
	}
	if status == 0 {
		status = http.StatusOK
	}
	http.Error(w, "answer "+http.StatusText(status), status)
}

// serveNotify runs notify behind its host, posting to a chat webhook whose
// URL carries a secret path, as Slack's do; it returns the function's URL
// and the logs.
func serveNotify(t *testing.T, c *chat, format string) (string, *testutil.Buffer) {
	t.Helper()
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(file, []byte(srv.URL+"/services/T000/B000/SECRETPATH\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLIPSTREAM_NOTIFY_URL_FILE", file)
	t.Setenv("SLIPSTREAM_NOTIFY_FORMAT", format)
	t.Setenv("SLIPSTREAM_NOTIFY_TIMEOUT", "300ms")
	var cfg config.Notify
	if err := config.Load(config.Prefix+"_NOTIFY", &cfg); err != nil {
		t.Fatal(err)
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.Buffer{}
	h, err := host.New(Name, testutil.Shared(""), slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	fn := httptest.NewServer(h.Handler(n.Function()))
	t.Cleanup(fn.Close)
	return fn.URL, logs
}

// deliver sends an event as the broker does and returns the answer's status.
func deliver(t *testing.T, url string, d eventing.Data) int {
	t.Helper()
	e, err := eventing.New("rollout", d, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	client, _ := cloudevents.NewClientHTTP()
	_, res := client.Request(cloudevents.ContextWithTarget(context.Background(), url), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) {
		t.Fatalf("result %v", res)
	}
	return hr.StatusCode
}

func TestNotifyPostsEachEvent(t *testing.T) {
	c := &chat{}
	url, _ := serveNotify(t, c, "slack")
	for _, d := range []eventing.Data{promoted, rolledBack} {
		if status := deliver(t, url, d); status/100 != 2 {
			t.Fatalf("%s: status %d", d.EventType(), status)
		}
	}
	shifted := &eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-aa11bb22cc", CandidateRevision: "hello-3f2a9c01b2",
		Step: 1, Steps: 4, Traffic: []eventing.TrafficTarget{{RevisionName: "hello-aa11bb22cc", Percent: 90, Tag: "stable"}, {RevisionName: "hello-3f2a9c01b2", Percent: 10, Tag: "candidate"}}}
	if status := deliver(t, url, shifted); status/100 != 2 {
		t.Errorf("an event notify does not take: %d", status)
	}
	if len(c.bodies) != 2 || !strings.Contains(c.bodies[0], "promoted") || !strings.Contains(c.bodies[1], "rolled back") {
		t.Errorf("posted %q, want the promotion then the rollback", c.bodies)
	}
	_, metrics := testutil.Get(t, url+"/metrics")
	if !strings.Contains(metrics, `slipstream_notifications_total{function="notify",outcome="sent"} 2`) {
		t.Errorf("metrics lack 2 sent:\n%s", metrics)
	}
}

func TestNotifyWhenTheWebhookFails(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		delay   time.Duration
		want    int    // the answer to the broker
		outcome string // the counter
		log     string
	}{
		{name: "a wrong or revoked URL: not retried", status: http.StatusNotFound, want: http.StatusOK, outcome: "rejected", log: "answered 404"},
		{name: "a bad payload: not retried", status: http.StatusBadRequest, want: http.StatusOK, outcome: "rejected", log: "answered 400"},
		{name: "throttled: retried later", status: http.StatusTooManyRequests, want: http.StatusTooManyRequests, outcome: "unavailable"},
		{name: "down: retried", status: http.StatusBadGateway, want: http.StatusServiceUnavailable, outcome: "unavailable"},
		{name: "too slow: retried", delay: 2 * time.Second, want: http.StatusServiceUnavailable, outcome: "unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &chat{status: tt.status, delay: tt.delay}
			url, logs := serveNotify(t, c, "teams")
			if status := deliver(t, url, rolledBack); status != tt.want {
				t.Errorf("status %d, want %d", status, tt.want)
			}
			_, metrics := testutil.Get(t, url+"/metrics")
			if want := `slipstream_notifications_total{function="notify",outcome="` + tt.outcome + `"} 1`; !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
			if !strings.Contains(logs.String(), tt.log) {
				t.Errorf("logs lack %q:\n%s", tt.log, logs)
			}
			if strings.Contains(logs.String(), "SECRETPATH") {
				t.Errorf("the webhook URL's secret reached the logs:\n%s", logs)
			}
		})
	}
}

func TestNotifySettings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "no URL", want: "SLIPSTREAM_NOTIFY_URL_FILE: required"},
		{name: "not a URL", env: map[string]string{"SLIPSTREAM_NOTIFY_URL_FILE": write("bad", "hooks.slack.com/services/x")}, want: "does not hold an http(s) URL"},
		{name: "an unknown format", env: map[string]string{"SLIPSTREAM_NOTIFY_URL_FILE": write("ok", "https://hooks.slack.com/services/x"), "SLIPSTREAM_NOTIFY_FORMAT": "pager"},
			want: `"pager" is not one of slack, googlechat, teams, json`},
		{name: "no time to post", env: map[string]string{"SLIPSTREAM_NOTIFY_URL_FILE": write("ok2", "https://hooks.slack.com/services/x"), "SLIPSTREAM_NOTIFY_TIMEOUT": "0s"},
			want: "SLIPSTREAM_NOTIFY_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{"SLIPSTREAM_NOTIFY_URL_FILE", "SLIPSTREAM_NOTIFY_FORMAT", "SLIPSTREAM_NOTIFY_TIMEOUT"} {
				t.Setenv(k, tt.env[k])
				if tt.env[k] == "" {
					os.Unsetenv(k)
				}
			}
			_, err := FromEnv(context.Background(), nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestNotifyFollowsNoRedirect: a webhook that redirects elsewhere is
// rejected, and the message goes nowhere the operator did not send it.
func TestNotifyFollowsNoRedirect(t *testing.T) {
	elsewhere := &chat{}
	other := httptest.NewServer(elsewhere)
	t.Cleanup(other.Close)
	moved := &chat{}
	url, _ := serveNotify(t, moved, "slack")
	moved.redirect = other.URL + "/stolen"
	if status := deliver(t, url, promoted); status != 200 {
		t.Errorf("status %d, want 200 (rejected: not retried)", status)
	}
	if len(elsewhere.bodies) != 0 || len(moved.bodies) != 1 {
		t.Errorf("posted %d times to the redirect's target, %d to the webhook; want 0 and 1", len(elsewhere.bodies), len(moved.bodies))
	}
	_, metrics := testutil.Get(t, url+"/metrics")
	if want := `slipstream_notifications_total{function="notify",outcome="rejected"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}
