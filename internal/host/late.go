package host

import (
	"net/http"
	"sync"
)

// LateHandler lets a server start before its handler exists (a function
// whose address another part needs first): until Set, it answers 503
// "starting".
type LateHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

// Set sets the handler.
func (l *LateHandler) Set(h http.Handler) { l.mu.Lock(); l.h = h; l.mu.Unlock() }

func (l *LateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	h := l.h
	l.mu.RUnlock()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}
