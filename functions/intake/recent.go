package intake

import (
	"context"
	"sync"
	"time"
)

// recent remembers the ids of events sent within a window, so a re-sent
// webhook is not sent twice. Two requests for the same id at once are
// serialised: the second waits for the first and then sees its outcome.
type recent struct {
	mu        sync.Mutex
	window    time.Duration
	now       func() time.Time
	sent      map[string]time.Time
	inflight  map[string]chan struct{}
	lastPrune time.Time
}

func newRecent(window time.Duration, now func() time.Time) *recent {
	return &recent{window: window, now: now, sent: map[string]time.Time{}, inflight: map[string]chan struct{}{}, lastPrune: now()}
}

// claim reserves id for sending. It returns dup=true when id was sent within
// the window; otherwise the caller sends and then calls release(sent).
func (r *recent) claim(ctx context.Context, id string) (release func(sent bool), dup bool, err error) {
	for {
		r.mu.Lock()
		r.prune()
		if at, ok := r.sent[id]; ok && r.now().Sub(at) < r.window {
			r.mu.Unlock()
			return nil, true, nil
		}
		ch, busy := r.inflight[id]
		if !busy {
			ch = make(chan struct{})
			r.inflight[id] = ch
			r.mu.Unlock()
			return func(sent bool) {
				r.mu.Lock()
				defer r.mu.Unlock()
				delete(r.inflight, id)
				if sent {
					r.sent[id] = r.now()
					r.prune()
				}
				close(ch)
			}, false, nil
		}
		r.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
}

// prune drops expired ids, at most once a window; r.mu is held.
func (r *recent) prune() {
	now := r.now()
	if now.Sub(r.lastPrune) < r.window {
		return
	}
	for id, at := range r.sent {
		if now.Sub(at) >= r.window {
			delete(r.sent, id)
		}
	}
	r.lastPrune = now
}
