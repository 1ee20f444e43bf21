package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/internal/status"
)

func TestViewLine(t *testing.T) {
	next := time.Date(2026, 11, 26, 8, 1, 0, 0, time.Local)
	for _, tc := range []struct {
		name string
		row  status.Row
		want []string
		not  []string
	}{
		{"before the first revision", status.Row{Namespace: "demo", Service: "hello", Phase: "Pending"},
			[]string{"demo/hello", "no traffic yet", "Pending"}, []string{"0%"}},
		{"mid-step", status.Row{Namespace: "demo", Service: "hello", Phase: "Progressing", Step: 2, Steps: 4, NextStep: &next,
			Traffic: []status.Share{{Revision: "a", Tag: "stable", Percent: 75}, {Revision: "b", Tag: "candidate", Percent: 25}}},
			[]string{"stable  75%", "candidate  25%", "Progressing, step 2/4, next at 08:01:00", strings.Repeat("#", 30) + strings.Repeat("=", 10)}, nil},
		{"promoted", status.Row{Namespace: "demo", Service: "hello", Phase: "Promoted", Traffic: []status.Share{{Revision: "b", Tag: "stable", Percent: 100}}},
			[]string{"stable 100%", "candidate   0%  Promoted"}, []string{"step"}},
	} {
		got := viewLine(tc.row)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q does not show %q", tc.name, got, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q shows %q", tc.name, got, n)
			}
		}
	}
}
