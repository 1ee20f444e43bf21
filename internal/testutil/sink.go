package testutil

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// Sink is a real CloudEvents receiver over HTTP, standing in for a Broker's
// ingress. It answers 202, or the statuses queued with Fail, one per request.
type Sink struct {
	// URL is where the sink listens.
	URL string

	mu       sync.Mutex
	statuses []int
	header   http.Header
	events   []cloudevents.Event
	attempts int
}

// NewSink starts a sink that stops when the test ends.
func NewSink(t testing.TB) *Sink {
	s := &Sink{}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Fail queues the statuses of the next answers, sent with header.
func (s *Sink) Fail(header http.Header, statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses = append(s.statuses, statuses...)
	s.header = header
}

// Events returns the events received and accepted, in order.
func (s *Sink) Events() []cloudevents.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cloudevents.Event(nil), s.events...)
}

// Attempts counts every request, failed ones included.
func (s *Sink) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// ServeHTTP implements http.Handler.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(s.statuses) > 0 {
		code := s.statuses[0]
		s.statuses = s.statuses[1:]
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(code)
		return
	}
	s.events = append(s.events, *e)
	w.WriteHeader(http.StatusAccepted)
}
