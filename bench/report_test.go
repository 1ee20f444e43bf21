package bench

import (
	"strings"
	"testing"
	"time"
)

// TestMarkdownHasEveryFigureBesideItsBaseline: the document names the
// machine, and each figure's row carries its baseline, the ratio, the
// target and the verdict.
func TestMarkdownHasEveryFigureBesideItsBaseline(t *testing.T) {
	v := Summary{N: 20, Median: 30 * time.Millisecond, P99: 45 * time.Millisecond}
	base := Summary{N: 5, Median: 120 * time.Millisecond, P99: 150 * time.Millisecond}
	r := Report{Machine: Machine{Cores: 2, Memory: "24 GiB", Go: "go1.26.8", CPU: "test cpu"}, Date: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC),
		Commit: "abc1234", Took: 3 * time.Minute, Sections: []Section{{
			Title: "P1 push → commit", Intro: "what it is",
			Figures: []Figure{
				Timing("warm, 500 manifests", v, "git CLI", base).Against("p99 ≤ 100 ms", true, ""),
				Timing("warm, 5000 manifests", Summary{N: 3, Median: 200 * time.Millisecond, P99: 300 * time.Millisecond}, "", Summary{}).Against("p99 ≤ 100 ms", false, "by 200 ms"),
				{Name: "binary | stripped", Median: "40 MB"},
			},
			Notes: "why",
		}}}
	md := r.Markdown()
	for _, want := range []string{
		"| cores | 2 (test cpu) |", "| commit | abc1234 |", "## P1 push → commit", "what it is", "why",
		"| warm, 500 manifests | 30.0 ms | 45.0 ms | 20 | git CLI | 120 ms | 150 ms | 0.25× | p99 ≤ 100 ms | met |",
		"| warm, 5000 manifests | 200 ms | 300 ms | 3 | — | — | — | — | p99 ≤ 100 ms | missed: by 200 ms |",
		"| binary \\| stripped | 40 MB | — | — |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the document lacks %q:\n%s", want, md)
		}
	}
	if txt := r.Text(); !strings.Contains(txt, "git CLI 120 ms (0.25×)") {
		t.Errorf("the terminal table lacks the baseline:\n%s", txt)
	}
}
