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
	max       int // the most ids remembered; the oldest goes first
	now       func() time.Time
	sent      map[string]time.Time
	order     []sentID // sent ids, oldest first (entries may be stale)
	inflight  map[string]chan struct{}
	lastPrune time.Time
}

// sentID is one entry of the order ids were sent in.
type sentID struct {
	id string
	at time.Time
}

func newRecent(window time.Duration, max int, now func() time.Time) *recent {
	return &recent{window: window, max: max, now: now, sent: map[string]time.Time{}, inflight: map[string]chan struct{}{}, lastPrune: now()}
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
					at := r.now()
					r.sent[id] = at
					r.order = append(r.order, sentID{id, at})
					r.prune()
					r.bound()
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
	kept := r.order[:0]
	for _, e := range r.order {
		if at, ok := r.sent[e.id]; ok && at.Equal(e.at) {
			kept = append(kept, e)
		}
	}
	r.order = kept
	r.lastPrune = now
}

// bound forgets the oldest ids while more than max are remembered: a flood
// of distinct pushes cannot grow the memory without end. A retry of a push
// forgotten this way is sent again (promote's idempotency makes it no
// commit). r.mu is held.
func (r *recent) bound() {
	for len(r.sent) > r.max && len(r.order) > 0 {
		e := r.order[0]
		r.order = r.order[1:]
		if at, ok := r.sent[e.id]; ok && at.Equal(e.at) {
			delete(r.sent, e.id)
		}
	}
}
