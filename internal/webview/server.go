package webview

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/internal/status"
)

//go:embed static
var static embed.FS

// Commit is one commit of the config repository.
type Commit struct {
	Hash    string    `json:"hash"`
	Subject string    `json:"subject"`
	Author  string    `json:"author"`
	At      time.Time `json:"at"`
	// URL is the commit's page (from the link template), "" without one.
	URL string `json:"url,omitempty"`
}

// Source is what the page shows: the managed Services, and the config
// repository's newest commits (nil Commits: none to show).
type Source struct {
	Services func(ctx context.Context) ([]*servingv1.Service, error)
	Commits  func(ctx context.Context, n int) ([]Commit, error)
	// Where says what is shown, for the page's title ("cluster kind-dev, all namespaces").
	Where string
}

// Services is a Source's Services: the managed Services of namespace
// (every one when it is ""), as slipstream status lists them.
func Services(serving servingclient.Interface, namespace string) func(ctx context.Context) ([]*servingv1.Service, error) {
	return func(ctx context.Context) ([]*servingv1.Service, error) {
		services, _, err := status.List(ctx, serving, namespace, "")
		return services, err
	}
}

// State is what the page draws, as /api/state answers it.
type State struct {
	Where    string    `json:"where"`
	At       time.Time `json:"at"`
	Services []Service `json:"services"`
	// More counts the managed Services beyond MaxServices, not shown.
	More    int      `json:"more,omitempty"`
	Commits []Commit `json:"commits"`
	// Problem says what the last poll could not read ("" when it read all).
	Problem string `json:"problem,omitempty"`
}

// Limits of a Server.
const (
	// MaxCommits is how many commits the page lists.
	MaxCommits = 30
	// MaxLive is how many pages may follow the state live at once.
	MaxLive = 16
	// writeTimeout bounds one write to a live page: a reader that stops
	// reading is dropped, not waited for.
	writeTimeout = 5 * time.Second
)

// Server polls a Source and serves the page.
type Server struct {
	src     Source
	every   time.Duration
	now     func() time.Time
	log     *slog.Logger
	hosts   map[string]bool
	history *History
	mu      sync.Mutex
	state   []byte        // the last State as JSON
	content []byte        // the last State as JSON without its time: what a change changes
	changed chan struct{} // closed and replaced at every change
	live    int

	// lastServices and lastMore are the last Services read, lastCommits the
	// last commits, read at commitsAt with commitsProblem (Poll's alone).
	lastServices   []Service
	lastMore       int
	lastCommits    []Commit
	commitsAt      time.Time
	commitsProblem string
}

// commitsEvery is how often a Server reads the commits.
const commitsEvery = 2 * time.Second

// NewServer returns a server polling src every interval; hosts are the
// Host header values it answers (its listening address and names for it).
func NewServer(src Source, every time.Duration, now func() time.Time, log *slog.Logger, hosts ...string) (*Server, error) {
	if src.Services == nil || every <= 0 || now == nil || log == nil || len(hosts) == 0 {
		return nil, errors.New("webview: a Services source, a positive interval, a clock, a logger and the hosts it answers are required")
	}
	s := &Server{src: src, every: every, now: now, log: log, hosts: map[string]bool{}, history: NewHistory(), changed: make(chan struct{})}
	for _, h := range hosts {
		s.hosts[strings.ToLower(h)] = true
	}
	s.state, _ = json.Marshal(State{Where: src.Where, Services: []Service{}, Commits: []Commit{}, Problem: "not read yet"})
	return s, nil
}

// HostsFor are the Host values a server on addr answers: the address, and
// localhost with its port when it listens on a loopback address.
func HostsFor(addr net.Addr) []string {
	hosts := []string{addr.String()}
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsLoopback() {
		hosts = append(hosts, fmt.Sprintf("localhost:%d", tcp.Port))
	}
	return hosts
}

// Run polls until ctx ends.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		s.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the Source once and, if the state changed, tells the live
// pages. Run calls it; it must not run twice at once.
func (s *Server) Poll(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, max(s.every, 5*time.Second))
	defer cancel()
	st := State{Where: s.src.Where, At: s.now().UTC(), Services: []Service{}, Commits: []Commit{}}
	services, err := s.src.Services(ctx)
	if err != nil {
		st.Problem = "reading the Services: " + err.Error()
	}
	if s.src.Commits != nil && st.At.Sub(s.commitsAt) >= commitsEvery {
		// Commits move with pushes, not with every poll (dev polls four times
		// a second, and each read is a git process): read at most every commitsEvery.
		commits, err := s.src.Commits(ctx, MaxCommits)
		s.commitsProblem = ""
		if err != nil {
			s.commitsProblem = "reading the commits: " + err.Error()
		}
		if commits != nil {
			s.lastCommits = commits
		}
		s.commitsAt = st.At
	}
	if s.lastCommits != nil {
		st.Commits = s.lastCommits
	}
	if st.Problem == "" {
		st.Problem = s.commitsProblem
	}
	if err == nil {
		st.Services, st.More = s.history.Record(st.At, services)
		s.lastServices, s.lastMore = st.Services, st.More
	} else {
		st.Services, st.More = s.lastServices, s.lastMore // what was last read, with the problem
	}
	// Encoded outside the lock: pages read the last state meanwhile.
	at := st.At
	st.At = time.Time{}
	content, merr := json.Marshal(st)
	if merr != nil {
		s.log.Error("webview: encoding the state", "error", merr.Error())
		return
	}
	st.At = at
	b, _ := json.Marshal(st)
	s.mu.Lock()
	defer s.mu.Unlock()
	if bytes.Equal(content, s.content) {
		return
	}
	s.state, s.content = b, content
	close(s.changed)
	s.changed = make(chan struct{})
}

// current is the last state and the channel closed at the next change.
func (s *Server) current() ([]byte, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.changed
}

// ServeHTTP serves the page (/), its files, /api/state and /api/events.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	if !s.hosts[strings.ToLower(r.Host)] && !s.hosts[strings.ToLower(r.Host)+":80"] {
		http.Error(w, fmt.Sprintf("host %q is not this dashboard's address; open it by the address it printed", r.Host), http.StatusMisdirectedRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the dashboard only reads: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case "/api/state":
		b, _ := s.current()
		h.Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	case "/api/events":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "the live state is GET only", http.StatusMethodNotAllowed)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			http.Error(w, "the live state is for the dashboard's own page", http.StatusForbidden)
			return
		}
		s.events(w, r)
	case "/", "/index.html", "/app.js", "/app.css", "/favicon.svg":
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" {
			name = "index.html"
		}
		b, err := fs.ReadFile(static, "static/"+name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", map[string]string{".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
			".svg": "image/svg+xml"}[name[strings.LastIndex(name, "."):]])
		_, _ = w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

// events streams the state as Server-Sent Events: now, and at every change.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.live >= MaxLive {
		s.mu.Unlock()
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("%d pages already follow this dashboard live", MaxLive), http.StatusServiceUnavailable)
		return
	}
	s.live++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.live--
		s.mu.Unlock()
	}()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		b, changed := s.current()
		_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
		if _, err := fmt.Fprintf(w, "event: state\ndata: %s\n\n", b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		for waiting := true; waiting; {
			select {
			case <-changed:
				waiting = false
			case <-heartbeat.C:
				// A comment line: a reader that went away is found out
				// within a beat, and its slot freed.
				_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
				if _, err := fmt.Fprint(w, ": beat\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-r.Context().Done():
				return
			}
		}
	}
}

// heartbeatEvery is how often a live page with nothing new gets a comment.
var heartbeatEvery = 20 * time.Second
