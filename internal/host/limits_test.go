package host

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// running is Run serving the test function on a loopback port.
type running struct {
	h    *Host
	addr string
	st   *testState
	stop context.CancelFunc // SIGTERM
	done chan struct{}      // closed when Run returned, with err
	err  error
}

// runWith serves the test function with settings s through Run (the
// server's own timeouts), mutate changing the host first; the test's end
// stops it.
func runWith(t *testing.T, s config.Shared, mutate func(*Host)) *running {
	t.Helper()
	h, err := New("test", s, NewLogger(&testutil.Buffer{}, "info", "json"))
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(h)
	}
	fn, st := testFunction(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	r := &running{h: h, addr: ln.Addr().String(), st: st, stop: stop, done: make(chan struct{})}
	go func() { r.err = h.Run(ctx, ln, fn); close(r.done) }()
	t.Cleanup(func() { stop(); <-r.done })
	return r
}

// runHost is runWith the test settings.
func runHost(t *testing.T, mutate func(*Host)) (addr string, st *testState) {
	t.Helper()
	r := runWith(t, testSettings(), mutate)
	return r.addr, r.st
}

// sendSlow posts a test.slow event, whose handler waits for st.release, and
// returns once the handler was entered; its status (-1: the request
// failed) arrives on the channel.
func sendSlow(t *testing.T, url string, st *testState) <-chan int {
	t.Helper()
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
		req.Header = binaryHeaders("test.slow")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- -1
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	select {
	case <-st.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow request never reached its handler")
	}
	return status
}

// rawRequest writes a request's head (and part of a body) on a new
// connection and returns it, the body left unsent.
func rawRequest(t *testing.T, addr, head string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	return conn
}

// TestCredentialsAreCheckedBeforeTheBody: a sender without credentials who
// announces a body and never sends it is answered 401 at once: the body is
// not read, held or waited for.
func TestCredentialsAreCheckedBeforeTheBody(t *testing.T) {
	addr, _ := runHost(t, nil) // a 5 s read timeout: an answer within 1 s did not wait for the body
	for _, path := range []string{"/webhooks/test", "/"} {
		// A small body too: net/http would read (and wait for) up to 256 KiB
		// of an unread body before answering, unless the connection closes.
		for _, length := range []int{100, 1000000} {
			t.Run(fmt.Sprintf("%s %d bytes", path, length), func(t *testing.T) {
				conn := rawRequest(t, addr, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nX-Test-Deny: 1\r\nContent-Type: application/json\r\n"+
					"Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Type: test.accept\r\nCe-Source: /t\r\nContent-Length: %d\r\n\r\n{", path, length))
				start := time.Now()
				_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatalf("no answer while the body is pending: %v", err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("status %d, want 401", resp.StatusCode)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("answered after %s: the server waited for the body", took)
				}
			})
		}
	}
}

// TestSlowBodiesDoNotTakeSlots: senders trickling bodies hold connections
// (until the read timeout), not the handler slots: a whole request still
// gets through with every slot's worth of slow senders connected.
func TestSlowBodiesDoNotTakeSlots(t *testing.T) {
	addr, _ := runHost(t, func(h *Host) { h.inFlight = make(chan struct{}, 2) })
	for range 4 {
		rawRequest(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"+
			"Ce-Specversion: 1.0\r\nCe-Id: 1\r\nCe-Type: test.accept\r\nCe-Source: /t\r\nContent-Length: 100\r\n\r\n{")
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr, strings.NewReader(`{}`))
	req.Header = binaryHeaders("test.accept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("a whole request beside four slow ones: %d, want 2xx", resp.StatusCode)
	}
}

// TestASlowBodyIsCutOff: a body trickled past SLIPSTREAM_READ_TIMEOUT does
// not hold the connection: the server gives up on it.
func TestASlowBodyIsCutOff(t *testing.T) {
	addr, _ := runHost(t, func(h *Host) { h.settings.ReadTimeout = 300 * time.Millisecond })
	conn := rawRequest(t, addr, "POST /webhooks/test HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nslow")
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	b, err := io.ReadAll(conn) // the server answers and closes, or closes
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the connection was still open after 3 s with a body pending (read %q)", b)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the server held the slow body for %s", took)
	}
	if status, _, _ := strings.Cut(string(b), "\r\n"); strings.HasPrefix(status, "HTTP/1.1 2") || (len(b) > 0 && !strings.Contains(string(b), "SLIPSTREAM_READ_TIMEOUT")) {
		t.Errorf("a cut-off body: %q, want no answer or one naming SLIPSTREAM_READ_TIMEOUT", b)
	}
}

// TestRequestsBeyondMaxInFlightGet503: with every slot taken, a POST is
// answered 503 with Retry-After at once and unread; health still answers.
func TestRequestsBeyondMaxInFlightGet503(t *testing.T) {
	addr, st := runHost(t, func(h *Host) { h.inFlight = make(chan struct{}, 1) })
	url := "http://" + addr
	first := sendSlow(t, url, st)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header = binaryHeaders("test.accept")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("second request: %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	health, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	health.Body.Close()
	if health.StatusCode != http.StatusOK {
		t.Errorf("/healthz with every slot taken: %d", health.StatusCode)
	}
	close(st.release)
	if code := <-first; code/100 != 2 {
		t.Errorf("the first request: %d", code)
	}
	// Its slot is free again.
	req, _ = http.NewRequest(http.MethodPost, url, strings.NewReader(`{}`))
	req.Header = binaryHeaders("test.accept")
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Errorf("after the slot was released: %d", resp.StatusCode)
	}
}

// TestReadinessAnswers503WhileDraining: after SIGTERM the function still
// accepts connections for the drain delay and answers /readyz 503, then
// stops listening and returns.
func TestReadinessAnswers503WhileDraining(t *testing.T) {
	s := testSettings()
	s.DrainDelay = 2 * time.Second // testSettings' grace is 5 s: the delay is not cut
	r := runWith(t, s, nil)
	r.stop() // SIGTERM
	stopped := time.Now()
	<-r.h.drainStarted
	resp, err := http.Get("http://" + r.addr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz during the drain delay: %v, want an answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain delay = %d, want 503", resp.StatusCode)
	}
	select {
	case <-r.done:
		if r.err != nil {
			t.Errorf("Run = %v", r.err)
		}
		if took := time.Since(stopped); took < s.DrainDelay {
			t.Errorf("Run returned %s after SIGTERM, before the %s drain delay", took, s.DrainDelay)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain delay")
	}
	if c, err := net.DialTimeout("tcp", r.addr, time.Second); err == nil {
		c.Close()
		t.Error("still listening after the drain")
	}
}
