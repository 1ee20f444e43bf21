package host

import "sync"

// Each calls f(0) … f(n-1), at most limit of them at once (limit < 1: one
// at a time), and returns when every call has returned: how a handler acts
// on many Services of one event, each waiting for no other. f must not
// panic (a handler's own recovery is per call).
func Each(n, limit int, f func(i int)) {
	limit = max(1, min(limit, n))
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}
