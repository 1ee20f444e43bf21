package bench

import (
	"fmt"
	"slices"
	"time"
)

// Summary is a sample's median, 99th percentile (nearest rank) and size.
type Summary struct {
	N      int
	Median time.Duration
	P99    time.Duration
}

// Summarize summarizes durations; an empty sample is the zero Summary.
func Summarize(ds []time.Duration) Summary {
	if len(ds) == 0 {
		return Summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return Summary{N: len(s), Median: rank(s, 50), P99: rank(s, 99)}
}

// rank is the nearest-rank percentile of a sorted sample.
func rank(sorted []time.Duration, pct int) time.Duration {
	i := (pct*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// Ratio is a's median over b's, or 0 when b has none.
func Ratio(a, b Summary) float64 {
	if b.Median == 0 {
		return 0
	}
	return float64(a.Median) / float64(b.Median)
}

// Ms formats a duration in milliseconds, to a precision that suits it.
func Ms(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "—"
	case ms < 1:
		return fmt.Sprintf("%.3f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}
