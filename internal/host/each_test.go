package host

import (
	"fmt"
	"sync"
	"testing"

	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestEachCallsEveryIndexOnceWithinTheLimit: every index is called once,
// never more than limit at once, and with a limit above 1 calls overlap.
func TestEachCallsEveryIndexOnceWithinTheLimit(t *testing.T) {
	for _, tc := range []struct{ n, limit, widest int }{
		{0, 4, 0}, {1, 4, 1}, {10, 1, 1}, {10, 0, 1}, {10, 3, 3}, {3, 16, 3},
	} {
		t.Run(fmt.Sprintf("%d by %d", tc.n, tc.limit), func(t *testing.T) {
			var o testutil.Overlap
			var mu sync.Mutex
			calls := map[int]int{}
			Each(tc.n, tc.limit, func(i int) {
				defer o.Enter()()
				mu.Lock()
				calls[i]++
				mu.Unlock()
			})
			for i := range tc.n {
				if calls[i] != 1 {
					t.Errorf("index %d called %d times", i, calls[i])
				}
			}
			if len(calls) != tc.n {
				t.Errorf("%d indices called, want %d", len(calls), tc.n)
			}
			if w := o.Widest(); w > max(tc.limit, 1) || (tc.widest > 1 && w < 2) {
				t.Errorf("%d calls at once; want at most %d, and overlap when allowed", w, max(tc.limit, 1))
			}
		})
	}
}
