package testutil

import (
	"sync"
	"time"
)

// Overlap measures how many calls run at once. The first call to Enter is
// held until another call enters or a second passes, so whether calls
// overlap is what the caller allowed, not how the scheduler ran them.
type Overlap struct {
	mu               sync.Mutex
	others           *sync.Cond
	inFlight, widest int
	held             bool
}

// Enter marks a call begun; the returned func marks it ended.
func (o *Overlap) Enter() (leave func()) {
	o.mu.Lock()
	if o.others == nil {
		o.others = sync.NewCond(&o.mu)
	}
	o.inFlight++
	o.widest = max(o.widest, o.inFlight)
	o.others.Broadcast()
	if !o.held {
		o.held = true
		deadline := time.AfterFunc(time.Second, func() { o.mu.Lock(); o.others.Broadcast(); o.mu.Unlock() })
		o.others.Wait()
		deadline.Stop()
	}
	o.mu.Unlock()
	return func() { o.mu.Lock(); o.inFlight--; o.mu.Unlock() }
}

// Widest is the most calls that were in flight at once.
func (o *Overlap) Widest() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.widest
}
