package bench

import (
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100 … 1, unsorted
	}
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", ms(7), Summary{N: 1, Median: 7 * time.Millisecond, P99: 7 * time.Millisecond}},
		{"odd", ms(5, 1, 3), Summary{N: 3, Median: 3 * time.Millisecond, P99: 5 * time.Millisecond}},
		{"even: the lower middle", ms(4, 1, 3, 2), Summary{N: 4, Median: 2 * time.Millisecond, P99: 4 * time.Millisecond}},
		{"a hundred: p99 is the 99th", ms(hundred...), Summary{N: 100, Median: 50 * time.Millisecond, P99: 99 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.in); got != tc.want {
				t.Errorf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
	in := ms(3, 1, 2)
	Summarize(in)
	if in[0] != 3*time.Millisecond {
		t.Error("Summarize sorted its input")
	}
}

func TestRatioAndMs(t *testing.T) {
	a, b := Summary{N: 1, Median: 30 * time.Millisecond}, Summary{N: 1, Median: 120 * time.Millisecond}
	if r := Ratio(a, b); r != 0.25 {
		t.Errorf("Ratio = %v, want 0.25", r)
	}
	if r := Ratio(a, Summary{}); r != 0 {
		t.Errorf("Ratio over nothing = %v, want 0", r)
	}
	for d, want := range map[time.Duration]string{0: "—", 250 * time.Microsecond: "0.250 ms", 12340 * time.Microsecond: "12.3 ms", 1500 * time.Millisecond: "1500 ms"} {
		if got := Ms(d); got != want {
			t.Errorf("Ms(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestModuleOf(t *testing.T) {
	for sym, want := range map[string]string{
		"k8s.io/client-go/kubernetes.(*Clientset).CoreV1":                        "k8s.io/client-go",
		"knative.dev/serving/pkg/apis/serving/v1.(*Service).Validate":            "knative.dev/serving",
		"github.com/go-git/go-git/v5/plumbing.NewHash":                           "github.com/go-git/go-git",
		"gopkg.in/yaml.v3.(*parser).parse":                                       "gopkg.in/yaml.v3",
		"type:*k8s.io/api/core/v1.Pod":                                           "k8s.io/api",
		"go:itab.*k8s.io/api/core/v1.Pod,k8s.io/apimachinery/pkg/runtime.Object": "k8s.io/api",
		"runtime.mallocgc":       "Go runtime tables (pclntab, types) and standard library",
		"net/http.(*conn).serve": "Go runtime tables (pclntab, types) and standard library",
		"github.com/slipstream-cd/slipstream/functions/promote.New": "github.com/slipstream-cd/slipstream",
	} {
		if got := moduleOf(sym); got != want {
			t.Errorf("moduleOf(%q) = %q, want %q", sym, got, want)
		}
	}
}
