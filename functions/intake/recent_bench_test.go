package intake

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkDedupMemoryAtBound measures the heap intake's dedup memory
// holds at SLIPSTREAM_INTAKE_DEDUP_MAX's default bound (100 000 ids of 32
// characters, as Distribution's event ids are), reported as MiB: the
// figure config/functions.go and docs/operations.md give.
func BenchmarkDedupMemoryAtBound(b *testing.B) {
	const bound = 100000
	var mib float64
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		r := newRecent(time.Hour, bound, time.Now)
		for i := range bound + bound/10 { // past the bound: the oldest are forgotten
			release, dup, err := r.claim(context.Background(), fmt.Sprintf("%032x", i))
			if err != nil || dup {
				b.Fatalf("claim %d: dup %v, %v", i, dup, err)
			}
			release(true)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if len(r.sent) != bound {
			b.Fatalf("%d ids remembered, want the bound %d", len(r.sent), bound)
		}
		mib = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(r)
	}
	b.ReportMetric(mib, "MiB")
}
