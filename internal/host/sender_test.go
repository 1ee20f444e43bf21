package host

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	promtestutil "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

func newSender(t *testing.T, target string, retries int, overrides map[string]string) (*Sender, *[]time.Duration) {
	t.Helper()
	s := testSettings()
	s.Sink = target
	s.SinkRetries = retries
	s.SinkBackoff = 10 * time.Millisecond
	s.CEOverrides = config.CEOverrides{Extensions: overrides}
	h, err := New("test", s, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	snd, err := h.Sender()
	if err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	snd.wait = func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() }
	return snd, &waits
}

func TestSenderRetriesUntilTheSinkRecovers(t *testing.T) {
	sk := testutil.NewSink(t)
	sk.Fail(nil, 503, 500, 429)
	snd, waits := newSender(t, sk.URL, 3, map[string]string{"team": "shop"})
	e := newEvent("test.accept")
	if err := snd.Send(context.Background(), e); err != nil {
		t.Fatalf("Send = %v, want success on the 4th attempt", err)
	}
	if sk.Attempts() != 4 || len(sk.Events()) != 1 {
		t.Fatalf("attempts %d, received %d; want 4 and 1", sk.Attempts(), len(sk.Events()))
	}
	got := sk.Events()[0]
	if got.ID() != e.ID() || got.Type() != e.Type() || got.Extensions()["team"] != "shop" {
		t.Errorf("received %v; want the event with the K_CE_OVERRIDES extension", got)
	}
	if _, ok := e.Extensions()["team"]; ok {
		t.Error("Send changed the caller's event")
	}
	if n := promtestutil.ToFloat64(snd.metrics.sends.WithLabelValues("sent")); n != 1 {
		t.Errorf("slipstream_sink_sends_total{outcome=sent} = %v, want 1", n)
	}
	want := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond}
	if len(*waits) != 3 || (*waits)[0] != want[0] || (*waits)[1] != want[1] || (*waits)[2] != want[2] {
		t.Errorf("waits %v, want exponential %v", *waits, want)
	}
}

func TestSenderGivesUp(t *testing.T) {
	sk := testutil.NewSink(t)
	sk.Fail(nil, 503, 503, 503, 503, 503)
	snd, _ := newSender(t, sk.URL, 2, nil)
	err := snd.Send(context.Background(), newEvent("test.accept"))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Send = %v, want ErrUnavailable", err)
	}
	if sk.Attempts() != 3 {
		t.Errorf("attempts %d, want 1 + 2 retries", sk.Attempts())
	}
	if n := promtestutil.ToFloat64(snd.metrics.sends.WithLabelValues("unavailable")); n != 1 {
		t.Errorf("slipstream_sink_sends_total{outcome=unavailable} = %v, want 1", n)
	}
	if code, _ := Classify(err); code != http.StatusServiceUnavailable {
		t.Errorf("a sink outage classifies as %d, want 503 so the caller's sender retries", code)
	}
}

func TestSenderDoesNotRetryARefusal(t *testing.T) {
	sk := testutil.NewSink(t)
	sk.Fail(nil, 400)
	snd, _ := newSender(t, sk.URL, 3, nil)
	err := snd.Send(context.Background(), newEvent("test.accept"))
	if err == nil || errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "status 400") {
		t.Fatalf("Send = %v, want a permanent refusal", err)
	}
	if sk.Attempts() != 1 {
		t.Errorf("attempts %d, want 1", sk.Attempts())
	}
}

func TestSenderHonoursRetryAfter(t *testing.T) {
	sk := testutil.NewSink(t)
	sk.Fail(http.Header{"Retry-After": {"2"}}, 429)
	snd, waits := newSender(t, sk.URL, 1, nil)
	if err := snd.Send(context.Background(), newEvent("test.accept")); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] != 2*time.Second {
		t.Errorf("waits %v, want the sink's Retry-After of 2s", *waits)
	}
}

func TestSenderSinkDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more
	snd, _ := newSender(t, url, 1, nil)
	if err := snd.Send(context.Background(), newEvent("test.accept")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Send to a closed port = %v, want ErrUnavailable", err)
	}
}

func TestSenderNeedsASink(t *testing.T) {
	h, err := New("test", testSettings(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Sender(); !errors.Is(err, ErrNoSink) {
		t.Errorf("Sender without K_SINK = %v, want ErrNoSink", err)
	}
}

// TestSenderSendsTheMountedTokenAsItRotates: with the SinkBinding's token
// file present, every send carries it, read afresh (a renewed token is sent
// at once); without the file, none; a file that is not one token fails the
// send and sends nothing.
func TestSenderSendsTheMountedTokenAsItRotates(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer sink.Close()
	snd, _ := newSender(t, sink.URL, 0, nil)
	snd.tokenFile = filepath.Join(t.TempDir(), "token")
	send := func() error { return snd.Send(context.Background(), newEvent("test.accept")) }
	write := func(s string) {
		if err := os.WriteFile(snd.tokenFile, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(); err != nil { // no file yet: OIDC off
		t.Fatal(err)
	}
	write("first.token.jwt\n")
	if err := send(); err != nil {
		t.Fatal(err)
	}
	write("second.token.jwt")
	if err := send(); err != nil {
		t.Fatal(err)
	}
	write("one two")
	if err := send(); err == nil || !strings.Contains(err.Error(), "not one token") {
		t.Errorf("a file of two words: %v, want an error", err)
	}
	write("  \n")
	if err := send(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("an empty token file: %v, want an error", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	snd.tokenFile = fifo // nothing writes to it: opening it would block
	if err := send(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a FIFO: %v, want an error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"", "Bearer first.token.jwt", "Bearer second.token.jwt"}
	if !slices.Equal(seen, want) {
		t.Errorf("Authorization headers %q, want %q", seen, want)
	}
}

// TestSenderDoesNotFollowRedirects: a sink answering 307 does not get the
// event (and its token) sent on to where it points.
func TestSenderDoesNotFollowRedirects(t *testing.T) {
	var reached atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached.Store(true) }))
	defer elsewhere.Close()
	sink := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
	defer sink.Close()
	snd, _ := newSender(t, sink.URL, 0, nil)
	snd.tokenFile = filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(snd.tokenFile, []byte("secret.token.jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(context.Background(), newEvent("test.accept")); err == nil || !strings.Contains(err.Error(), "307") {
		t.Errorf("Send = %v, want a refusal naming status 307", err)
	}
	if reached.Load() {
		t.Error("the redirect was followed")
	}
}
