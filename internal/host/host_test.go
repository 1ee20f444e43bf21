package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// testSettings are the tests' shared settings with what the host tests are
// about: debug logs, 1 KiB bodies, longer timeouts, three send retries.
func testSettings() config.Shared {
	s := testutil.Shared("")
	s.LogLevel, s.MaxBodyBytes, s.RequestTimeout, s.ShutdownGrace, s.SinkRetries = "debug", 1024, 5*time.Second, 5*time.Second, 3
	return s
}

// testFunction is a function made for these tests: each event type exercises one path.
func testFunction(t *testing.T) (Function, *testState) {
	st := &testState{entered: make(chan struct{}, 1), release: make(chan struct{})}
	return Function{
		Name:       "test",
		FromBroker: true,
		Events: map[string]EventHandler{
			"test.echo": func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				Logger(ctx).Info("echoing")
				r := cloudevents.NewEvent()
				r.SetID("reply-" + e.ID())
				r.SetType("test.echoed")
				r.SetSource("/slipstream/test")
				r.SetSubject(e.Subject())
				_ = r.SetData(cloudevents.ApplicationJSON, map[string]string{"echo": string(e.Data())})
				return &r, nil
			},
			"test.accept": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) { return nil, nil },
			"test.malformed": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
				return nil, fmt.Errorf("%w: field x", ErrMalformed)
			},
			"test.conflict": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
				return nil, fmt.Errorf("%w: try again", ErrConflict)
			},
			"test.refuse": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
				return nil, fmt.Errorf("%w: not tracked", ErrRefused)
			},
			"test.fail": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) {
				return nil, errors.New("disk on fire")
			},
			"test.panic": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) { panic("boom") },
			"test.slow": func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				st.entered <- struct{}{}
				select {
				case <-st.release:
					return nil, nil
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			},
			"test.prefix.*": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) { return nil, nil },
			eventing.TypeImagePushed: func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				_, err := eventing.Decode[eventing.ImagePushed](e)
				return nil, err
			},
		},
		Webhooks: map[string]WebhookHandler{
			"/webhooks/test": func(ctx context.Context, r *http.Request, body []byte) (Response, error) {
				switch string(body) {
				case "pull":
					return Response{Status: http.StatusOK, Message: "ignored: a pull"}, nil
				case "bad":
					return Response{}, fmt.Errorf("%w: events[0].target.tag: required", ErrMalformed)
				case "panic":
					panic("webhook boom")
				}
				if r.Header.Get("Authorization") != "Bearer t" {
					return Response{}, fmt.Errorf("%w: wrong token", ErrUnauthorized)
				}
				return Response{Status: http.StatusAccepted, Message: "sent " + string(body)}, nil
			},
		},
		AuthorizeHeaders: func(route string, r *http.Request) error {
			if r.Header.Get("X-Test-Deny") != "" {
				return fmt.Errorf("%w: denied on %s", ErrUnauthorized, route)
			}
			return nil
		},
		Ready: func(context.Context) error {
			if st.notReady {
				return errors.New("git clone not done")
			}
			return nil
		},
	}, st
}

type testState struct {
	entered  chan struct{}
	release  chan struct{}
	notReady bool
}

func newTestServer(t *testing.T) (*Host, *httptest.Server, *testutil.Buffer, *testState) {
	t.Helper()
	logs := &testutil.Buffer{}
	h, err := New("test", testSettings(), NewLogger(logs, "debug", "json"))
	if err != nil {
		t.Fatal(err)
	}
	fn, st := testFunction(t)
	srv := httptest.NewServer(h.Handler(fn))
	t.Cleanup(srv.Close)
	return h, srv, logs, st
}

func newEvent(typ string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID("id-1")
	e.SetType(typ)
	e.SetSource("/test")
	e.SetSubject("demo/hello")
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"hello": "world"})
	return e
}

func TestEventsWithARealClient(t *testing.T) {
	_, srv, logs, _ := newTestServer(t)
	client, err := cloudevents.NewClientHTTP()
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name string
		ctx  func(context.Context) context.Context
	}{
		{
			name: "binary",
			ctx:  cloudevents.WithEncodingBinary,
		},
		{
			name: "structured",
			ctx:  cloudevents.WithEncodingStructured,
		},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			ctx := mode.ctx(cloudevents.ContextWithTarget(context.Background(), srv.URL))
			tests := []struct {
				typ    string
				status int
				reply  bool
			}{
				{
					typ:    "test.echo",
					status: 200,
					reply:  true,
				},
				{
					typ:    "test.accept",
					status: 202,
					reply:  false,
				},
				{
					typ:    "test.prefix.anything",
					status: 202,
					reply:  false,
				},
				{
					typ:    "test.refuse",
					status: 200,
					reply:  false,
				},
				{
					typ:    "test.unknown", // not a type of this function: refused, acknowledged
					status: 200,
					reply:  false,
				},
				{
					typ:    "test.malformed",
					status: 400,
					reply:  false,
				},
				{
					typ:    "test.conflict",
					status: 409,
					reply:  false,
				},
				{
					typ:    "test.fail",
					status: 500,
					reply:  false,
				},
				{
					typ:    "test.panic",
					status: 500,
					reply:  false,
				},
				{
					typ:    eventing.TypeImagePushed, // data is not an ImagePushed
					status: 400,
					reply:  false,
				},
			}
			for _, tc := range tests {
				reply, res := client.Request(ctx, newEvent(tc.typ))
				var hr *cehttp.Result
				if !cloudevents.ResultAs(res, &hr) {
					t.Fatalf("%s: result %v is not an HTTP result", tc.typ, res)
				}
				if hr.StatusCode != tc.status {
					t.Errorf("%s: status %d, want %d (%v)", tc.typ, hr.StatusCode, tc.status, res)
				}
				if (reply != nil) != tc.reply {
					t.Errorf("%s: reply %v, want reply=%v", tc.typ, reply, tc.reply)
				}
				if reply != nil {
					if reply.Type() != "test.echoed" || reply.ID() != "reply-id-1" || !strings.Contains(string(reply.Data()), "world") {
						t.Errorf("%s: unexpected reply %v", tc.typ, reply)
					}
				}
			}
		})
	}
	// The per-event logger carries the event's identity, and the panic is logged with its stack.
	var sawEcho, sawPanic, sawData bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if rec["msg"] == "echoing" && rec["ce.id"] == "id-1" && rec["ce.type"] == "test.echo" && rec["subject"] == "demo/hello" && rec["function"] == "test" {
			sawEcho = true
		}
		if rec["msg"] == "handler panicked" && strings.Contains(fmt.Sprint(rec["stack"]), "host_test.go") {
			sawPanic = true
		}
		if rec["msg"] == "event received" && rec["level"] == "DEBUG" && strings.Contains(fmt.Sprint(rec["data"]), `"hello":"world"`) {
			sawData = true
		}
	}
	if !sawEcho || !sawPanic || !sawData {
		t.Errorf("logs: per-event logger seen %v, panic with stack seen %v, event data at debug seen %v\n%s", sawEcho, sawPanic, sawData, logs)
	}
}

func binaryHeaders(typ string) http.Header {
	return http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"x"}, "Ce-Source": {"/t"}, "Ce-Type": {typ}}
}

// onlyReader hides a body's length so the request is sent chunked.
type onlyReader struct{ io.Reader }

func TestBadRequestsChangeNothing(t *testing.T) {
	_, srv, _, _ := newTestServer(t)
	big := strings.Repeat("x", 2048)
	noSource := binaryHeaders("test.accept")
	noSource.Del("Ce-Source")
	badVersion := binaryHeaders("test.accept")
	badVersion.Set("Ce-Specversion", "0.1")
	tests := []struct {
		name    string
		method  string
		path    string
		header  http.Header
		body    io.Reader
		status  int
		message string
	}{
		{
			name:    "plain JSON is not a CloudEvent",
			method:  "POST",
			path:    "/",
			header:  http.Header{"Content-Type": {"application/json"}},
			body:    strings.NewReader(`{"events":[]}`),
			status:  400,
			message: "not a CloudEvent: no ce-specversion header",
		},
		{
			name:    "missing ce-source",
			method:  "POST",
			path:    "/",
			header:  noSource,
			body:    strings.NewReader(`{}`),
			status:  400,
			message: "source",
		},
		{
			name:    "unknown specversion",
			method:  "POST",
			path:    "/",
			header:  badVersion,
			body:    strings.NewReader(`{}`),
			status:  400,
			message: "not a valid CloudEvent",
		},
		{
			name:    "structured, truncated",
			method:  "POST",
			path:    "/",
			header:  http.Header{"Content-Type": {"application/cloudevents+json"}},
			body:    strings.NewReader(`{"specversion":"1.0","id":`),
			status:  400,
			message: "not a valid CloudEvent",
		},
		{
			name:    "batch",
			method:  "POST",
			path:    "/",
			header:  http.Header{"Content-Type": {"application/cloudevents-batch+json"}},
			body:    strings.NewReader(`[]`),
			status:  415,
			message: "batched CloudEvents",
		},
		{
			name:    "structured XML",
			method:  "POST",
			path:    "/",
			header:  http.Header{"Content-Type": {"application/cloudevents+xml"}},
			body:    strings.NewReader(`<x/>`),
			status:  415,
			message: "must be application/cloudevents+json",
		},
		{
			name:    "oversized event",
			method:  "POST",
			path:    "/",
			header:  binaryHeaders("test.accept"),
			body:    strings.NewReader(big),
			status:  413,
			message: "2048 bytes, the limit is 1024",
		},
		{
			name:    "oversized event, chunked",
			method:  "POST",
			path:    "/",
			header:  binaryHeaders("test.accept"),
			body:    onlyReader{strings.NewReader(big)},
			status:  413,
			message: "more than 1024 bytes",
		},
		{
			name:    "oversized webhook",
			method:  "POST",
			path:    "/webhooks/test",
			header:  nil,
			body:    strings.NewReader(big),
			status:  413,
			message: "limit is 1024",
		},
		{
			name:    "webhook malformed",
			method:  "POST",
			path:    "/webhooks/test",
			header:  nil,
			body:    strings.NewReader("bad"),
			status:  400,
			message: "events[0].target.tag: required",
		},
		{
			name:    "webhook unauthorized",
			method:  "POST",
			path:    "/webhooks/test",
			header:  nil,
			body:    strings.NewReader("push"),
			status:  401,
			message: "wrong token",
		},
		{
			name:    "webhook panics",
			method:  "POST",
			path:    "/webhooks/test",
			header:  nil,
			body:    strings.NewReader("panic"),
			status:  500,
			message: "the handler panicked",
		},
		{
			name:    "webhook GET",
			method:  "GET",
			path:    "/webhooks/test",
			header:  nil,
			body:    nil,
			status:  405,
			message: "use POST",
		},
		{
			name:    "events GET",
			method:  "GET",
			path:    "/",
			header:  nil,
			body:    nil,
			status:  405,
			message: "use POST",
		},
		{
			name:    "unknown route",
			method:  "POST",
			path:    "/webhooks/nope",
			header:  nil,
			body:    strings.NewReader("x"),
			status:  404,
			message: "no route POST /webhooks/nope",
		},
		{
			name:    "metrics POST",
			method:  "POST",
			path:    "/metrics",
			header:  nil,
			body:    nil,
			status:  405,
			message: "use GET, HEAD",
		},
		{
			name:    "event not authorized",
			method:  "POST",
			path:    "/",
			header:  http.Header{"X-Test-Deny": {"1"}, "Content-Type": {"text/plain"}},
			body:    strings.NewReader("not even an event"),
			status:  401,
			message: "denied on /",
		},
		{
			name:    "webhook not authorized",
			method:  "POST",
			path:    "/webhooks/test",
			header:  http.Header{"X-Test-Deny": {"1"}},
			body:    strings.NewReader("bad"),
			status:  401,
			message: "denied on /webhooks/test",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, tc.body)
			for k, v := range tc.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var a answer
			if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
				t.Fatalf("body is not a JSON answer: %v", err)
			}
			if resp.StatusCode != tc.status || !strings.Contains(a.Message, tc.message) {
				t.Errorf("got %d %+v, want %d with %q", resp.StatusCode, a, tc.status, tc.message)
			}
			if tc.status == 405 && resp.Header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}
}

func TestWebhookAnswers(t *testing.T) {
	_, srv, _, _ := newTestServer(t)
	resp, body := testutil.Post(t, srv.URL+"/webhooks/test", http.Header{"Authorization": {"Bearer t"}}, strings.NewReader("push"))
	if resp.StatusCode != 202 || !strings.Contains(body, `"status":"accepted"`) || !strings.Contains(body, "sent push") {
		t.Errorf("push: %d %s", resp.StatusCode, body)
	}
	resp, body = testutil.Post(t, srv.URL+"/webhooks/test", nil, strings.NewReader("pull"))
	if resp.StatusCode != 200 || !strings.Contains(body, `"status":"ignored"`) || !strings.Contains(body, "a pull") {
		t.Errorf("pull: %d %s", resp.StatusCode, body)
	}
}

func TestWebhookHandshake(t *testing.T) {
	// The CloudEvents HTTP webhook spec's abuse protection: OPTIONS answers with the allowed origin.
	_, srv, _, _ := newTestServer(t)
	req, _ := http.NewRequest(http.MethodOptions, srv.URL, nil)
	req.Header.Set("WebHook-Request-Origin", "broker.example.com")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("WebHook-Allowed-Origin") != "*" || !strings.Contains(resp.Header.Get("Allow"), "POST") {
		t.Errorf("OPTIONS: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestRefusalIsAcknowledgedWithAnEmptyBody(t *testing.T) {
	// A broker treats a 2xx body that is not a CloudEvent as a broken reply (502).
	_, srv, _, _ := newTestServer(t)
	resp, body := testutil.Post(t, srv.URL, binaryHeaders("test.refuse"), strings.NewReader(`{}`))
	if resp.StatusCode != 200 || body != "" {
		t.Errorf("refusal: %d %q, want 200 and no body", resp.StatusCode, body)
	}
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	_, srv, _, st := newTestServer(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	st.notReady = true
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "git clone not done") {
		t.Errorf("/readyz when not ready = %d %s", code, body)
	}
	testutil.Post(t, srv.URL, binaryHeaders("test.accept"), strings.NewReader(`{}`))
	testutil.Post(t, srv.URL, binaryHeaders("test.refuse"), strings.NewReader(`{}`))
	testutil.Post(t, srv.URL, binaryHeaders("test.panic"), strings.NewReader(`{}`))
	testutil.Post(t, srv.URL, binaryHeaders("anything.else"), strings.NewReader(`{}`))
	testutil.Post(t, srv.URL+"/webhooks/test", nil, strings.NewReader("pull"))
	_, metrics := get("/metrics")
	for _, want := range []string{
		`slipstream_events_total{function="test",outcome="accepted",type="test.accept"} 1`,
		`slipstream_events_total{function="test",outcome="refused",type="test.refuse"} 1`,
		`slipstream_events_total{function="test",outcome="panic",type="test.panic"} 1`,
		`slipstream_events_total{function="test",outcome="refused",type="other"} 1`,
		`slipstream_event_duration_seconds_count{function="test",type="test.accept"} 1`,
		`slipstream_webhooks_total{function="test",outcome="ignored",route="/webhooks/test"} 1`,
		`slipstream_webhook_duration_seconds_bucket{function="test",route="/webhooks/test",le="+Inf"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestGracefulDrain(t *testing.T) {
	logs := &testutil.Buffer{}
	h, err := New("test", testSettings(), NewLogger(logs, "info", "json"))
	if err != nil {
		t.Fatal(err)
	}
	fn, st := testFunction(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln, fn) }()
	url := "http://" + ln.Addr().String()

	slow := sendSlow(t, url, st)
	stop() // SIGTERM
	// Readiness turns 503 as soon as the drain starts (the handler sees it directly).
	select {
	case <-h.drainStarted:
	case <-time.After(5 * time.Second):
		t.Fatal("the host never started draining")
	}
	rec := httptest.NewRecorder()
	h.Handler(fn).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	if rec.Code != 503 {
		t.Errorf("/readyz while draining = %d, want 503", rec.Code)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) while a request was in flight", err)
	default:
	}
	close(st.release)
	select {
	case code := <-slow:
		if code != 202 {
			t.Errorf("in-flight request finished with %d, want 202", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after a clean drain = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("the listener still accepts connections after the drain")
	}
}

func TestDrainGraceRunsOut(t *testing.T) {
	s := testSettings()
	s.ShutdownGrace = 20 * time.Millisecond
	h, err := New("test", s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fn, st := testFunction(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx, ln, fn) }()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String(), strings.NewReader(`{}`))
		req.Header = binaryHeaders("test.slow")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	<-st.entered
	stop()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "draining within 20ms") {
			t.Errorf("Run = %v, want a drain timeout error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not give up after the grace period")
	}
	close(st.release)
}

func TestNewRefusesBadSettings(t *testing.T) {
	s := testSettings()
	s.MaxBodyBytes = 0
	if _, err := New("test", s, nil); err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_MAX_BODY_BYTES") {
		t.Errorf("New with a zero body limit = %v", err)
	}
	if _, err := New("", testSettings(), nil); err == nil {
		t.Error("New accepted an empty function name")
	}
}
