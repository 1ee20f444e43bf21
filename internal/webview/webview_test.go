package webview

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func hello(phase policy.Phase, candidate int) *servingv1.Service {
	st := policy.State{Phase: phase, Stable: "hello-1", Candidate: "hello-2", Steps: []int{10, 25, 50, 100}, Step: 1, Reason: "step 1 of 4"}
	if phase == policy.RolledBack {
		st.Reason = `alert HighErrorRate{severity="critical"}`
	}
	return testutil.Service("demo", "hello", testutil.WithState(st), testutil.WithRouted(), testutil.WithTraffic(
		eventing.TrafficTarget{RevisionName: "hello-1", Percent: 100 - candidate, Tag: "stable"},
		eventing.TrafficTarget{RevisionName: "hello-2", Percent: candidate, Tag: "candidate"}))
}

func TestHistory(t *testing.T) {
	h := NewHistory()
	at := t0
	record := func(d time.Duration, services ...*servingv1.Service) []Service {
		at = at.Add(d)
		out, _ := h.Record(at, services)
		return out
	}
	record(0, hello(policy.Progressing, 10))
	record(time.Second, hello(policy.Progressing, 10)) // nothing changed: no point
	record(time.Second, hello(policy.Progressing, 25))
	out := record(time.Second, hello(policy.RolledBack, 0))
	pts := out[0].History
	if got := fmt.Sprintf("%d %d %d %d %s", len(pts), pts[0].Candidate, pts[1].Candidate, pts[2].Candidate, pts[2].Phase); got != "3 10 25 0 RolledBack" {
		t.Errorf("history %+v", pts)
	}
	if out[0].CandidatePercent != 0 || out[0].Key != "demo/hello" || out[0].Reason != `alert HighErrorRate{severity="critical"}` {
		t.Errorf("service %+v", out[0])
	}
	promoted := testutil.Service("demo", "hello", testutil.WithState(policy.State{Phase: policy.Promoted, Stable: "hello-2"}),
		testutil.WithTraffic(eventing.TrafficTarget{RevisionName: "hello-2", Percent: 100, Tag: "stable"}))
	if out := record(time.Second, promoted); out[0].History[3].Candidate != 100 || out[0].CandidatePercent != 0 {
		t.Errorf("promoted: the chart's point %+v (want 100: the new version has it all), the candidate's share %d (none now)", out[0].History[3], out[0].CandidatePercent)
	}
	if out := record(2*time.Minute, promoted); len(out[0].History) != 5 {
		t.Errorf("a minute without a point adds one, so the chart runs to now: %d points", len(out[0].History))
	}
	for i := 0; i < MaxPoints+10; i++ {
		record(time.Second, hello(policy.Progressing, i%2*10))
	}
	if out := record(0, hello(policy.Progressing, 0)); len(out[0].History) != MaxPoints {
		t.Errorf("%d points kept, want at most %d", len(out[0].History), MaxPoints)
	}
	if out := record(time.Second); len(out) != 0 || len(h.points) != 0 {
		t.Errorf("a Service no longer managed is still remembered: %d", len(h.points))
	}
	many := make([]*servingv1.Service, MaxServices+3)
	for i := range many {
		many[i] = testutil.Service("demo", fmt.Sprintf("svc-%04d", i), testutil.WithState(policy.State{Phase: policy.Promoted, Stable: "a"}))
	}
	if out, more := h.Record(at, many); len(out) != MaxServices || more != 3 || out[0].Service != "svc-0000" {
		t.Errorf("%d shown, %d more (first %s); want %d and 3", len(out), more, out[0].Service, MaxServices)
	}
}

// source is a Source whose Services a test sets.
type source struct {
	mu       sync.Mutex
	services []*servingv1.Service
	err      error
}

func (s *source) set(err error, services ...*servingv1.Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services, s.err = services, err
}

func (s *source) Services(context.Context) ([]*servingv1.Service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services, s.err
}

func serve(t *testing.T, src *source) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(Source{Services: src.Services, Where: "test cluster", Commits: func(context.Context, int) ([]Commit, error) {
		return []Commit{{Hash: "3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1", Subject: "slipstream: promote 1.4.0", Author: "slipstream", At: t0, URL: "https://git.example/c/3f2a"}}, nil
	}}, time.Hour, func() time.Time { return t0 }, slog.New(slog.DiscardHandler), HostsFor(ln.Addr())...)
	if err != nil {
		t.Fatal(err)
	}
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv}}
	hs.Start()
	t.Cleanup(hs.Close)
	return srv, hs.URL
}

func TestServer(t *testing.T) {
	src := &source{}
	src.set(nil, hello(policy.Progressing, 10))
	srv, url := serve(t, src)
	srv.Poll(context.Background())

	resp, body := testutil.Get(t, url+"/api/state")
	var st State
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/api/state: %d %v\n%s", resp.StatusCode, err, body)
	}
	if len(st.Services) != 1 || st.Services[0].CandidatePercent != 10 || st.Services[0].Phase != "Progressing" || len(st.Commits) != 1 || st.Where != "test cluster" {
		t.Errorf("state %+v", st)
	}
	for _, p := range []string{"/", "/app.js", "/app.css", "/favicon.svg"} {
		resp, body := testutil.Get(t, url+p)
		if resp.StatusCode != 200 || len(body) < 100 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") ||
			resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, %d bytes, headers %v", p, resp.StatusCode, len(body), resp.Header)
		}
	}
	if resp, _ := testutil.Get(t, url+"/nope"); resp.StatusCode != 404 {
		t.Errorf("/nope: %d", resp.StatusCode)
	}
	if resp, _ := testutil.Post(t, url+"/api/state", nil, strings.NewReader("{}")); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", resp.StatusCode)
	}
	// DNS rebinding: a page of evil.example resolving to 127.0.0.1 reads nothing.
	req, _ := http.NewRequest(http.MethodGet, url+"/api/state", nil)
	req.Host = "evil.example:80"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("another Host: %v %v, want 421", resp, err)
	}
	// A Source that fails keeps what was read, and says why.
	src.set(errors.New("the apiserver is down"))
	srv.Poll(context.Background())
	_, body = testutil.Get(t, url+"/api/state")
	if !strings.Contains(body, "the apiserver is down") || !strings.Contains(body, `"candidatePercent":10`) {
		t.Errorf("after a failed read: %s", body)
	}
}

func TestEventsAreLive(t *testing.T) {
	src := &source{}
	src.set(nil, hello(policy.Progressing, 10))
	srv, url := serve(t, src)
	srv.Poll(context.Background())
	resp, err := http.Get(url + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() State {
		t.Helper()
		for lines.Scan() {
			if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
				var st State
				if err := json.Unmarshal([]byte(data), &st); err != nil {
					t.Fatal(err)
				}
				return st
			}
		}
		t.Fatalf("the stream ended: %v", lines.Err())
		return State{}
	}
	if st := next(); st.Services[0].CandidatePercent != 10 {
		t.Errorf("first state %+v", st.Services[0])
	}
	src.set(nil, hello(policy.RolledBack, 0))
	srv.Poll(context.Background())
	if st := next(); st.Services[0].Phase != "RolledBack" || len(st.Services[0].History) != 2 {
		t.Errorf("after the rollback %+v", st.Services[0])
	}
}

func TestLivePagesAreBounded(t *testing.T) {
	src := &source{}
	srv, url := serve(t, src)
	srv.Poll(context.Background())
	var open []*http.Response
	defer func() {
		for _, r := range open {
			r.Body.Close()
		}
	}()
	for i := 0; i < MaxLive; i++ {
		resp, err := http.Get(url + "/api/events")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("live page %d: %v %v", i, resp, err)
		}
		open = append(open, resp)
	}
	resp, _ := testutil.Get(t, url+"/api/events")
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("one page too many: %d, want 503 with Retry-After", resp.StatusCode)
	}
}

func TestGitCommits(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"init", "-q"}, {"-c", "user.name=Ada", "-c", "user.email=a@example.com", "commit", "-q", "--allow-empty", "-m", "first"},
		{"-c", "user.name=slipstream", "-c", "user.email=s@example.com", "commit", "-q", "--allow-empty", "-m", "slipstream: promote 1.4.0 <b>"}} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commits, err := GitCommits(dir, "https://git.example/acme/config/commit/{commit}")(context.Background(), 10)
	if err != nil || len(commits) != 2 {
		t.Fatalf("%d commits, %v", len(commits), err)
	}
	c := commits[0]
	if c.Subject != "slipstream: promote 1.4.0 <b>" || c.Author != "slipstream" || len(c.Hash) != 40 || c.URL != "https://git.example/acme/config/commit/"+c.Hash || c.At.IsZero() {
		t.Errorf("newest commit %+v", c)
	}
	if _, err := GitCommits(t.TempDir(), "")(context.Background(), 10); err == nil || !strings.Contains(err.Error(), "git log in") {
		t.Errorf("not a repository: %v", err)
	}
}

func TestLiveStateIsTheDashboardsOwn(t *testing.T) {
	src := &source{}
	long := hello(policy.Progressing, 10)
	st, _ := policy.ParseState(long.Annotations[policy.AnnotationRollout])
	st.Reason = strings.Repeat("r", 5000)
	long.Annotations[policy.AnnotationRollout] = st.String()
	src.set(nil, long)
	srv, url := serve(t, src)
	old := heartbeatEvery
	heartbeatEvery = 20 * time.Millisecond
	t.Cleanup(func() { heartbeatEvery = old })
	srv.Poll(context.Background())
	_, body := testutil.Get(t, url+"/api/state")
	if strings.Contains(body, strings.Repeat("r", maxText)) || !strings.Contains(body, strings.Repeat("r", maxText-1)+"…") {
		t.Errorf("a 5000-character reason is not cut to %d", maxText)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/events", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("another site's page following the state: %v %v, want 403", resp, err)
	}
	if resp, err := http.Head(url + "/api/events"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("HEAD of the live state: %v %v, want 405", resp, err)
	}
	resp, err := http.Get(url + "/api/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		if lines.Text() == ": beat" {
			return // a quiet page hears a heartbeat
		}
	}
	t.Errorf("no heartbeat: %v", lines.Err())
}

// TestCommitsAreReadAtMostEveryTwoSeconds: the commits, a git process each
// read, are not read at every poll.
func TestCommitsAreReadAtMostEveryTwoSeconds(t *testing.T) {
	now, reads := t0, 0
	srv, err := NewServer(Source{Services: (&source{}).Services, Commits: func(context.Context, int) ([]Commit, error) {
		reads++
		return []Commit{{Hash: strings.Repeat("a", 40), Subject: fmt.Sprint("read ", reads)}}, nil
	}}, 250*time.Millisecond, func() time.Time { return now }, slog.New(slog.DiscardHandler), "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ { // two seconds of polls
		srv.Poll(context.Background())
		now = now.Add(250 * time.Millisecond)
	}
	srv.Poll(context.Background())
	state, _ := srv.current()
	if reads != 2 || !strings.Contains(string(state), `"subject":"read 2"`) {
		t.Errorf("%d reads over 9 polls in 2 s (want 2), state %s", reads, state)
	}
}
