package rollout

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// scrape is the function's /metrics, only the lines of rollout metrics.
func (w *world) scrape() string {
	w.t.Helper()
	_, body := testutil.Get(w.t, w.url+"/metrics")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, "slipstream_rollout") || strings.HasPrefix(l, "slipstream_rollbacks") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func TestRolloutMetrics(t *testing.T) {
	w := newWorld(t, map[string]string{policy.AnnotationAnalysisQuery: `sum(rate(errors{revision_name="{{.Revision}}"}[1m]))`,
		policy.AnnotationAnalysisMax: "0.01", policy.AnnotationAnalysisFailures: "1", policy.AnnotationAnalysisInterval: "10s"}, true)
	w.query.value = "0.25"
	const labels = `function="rollout",namespace="demo",service="hello"`
	has := func(when string, want ...string) {
		t.Helper()
		got := w.scrape()
		for _, l := range want {
			if !strings.Contains(got, l) {
				t.Errorf("%s: /metrics lacks %q:\n%s", when, l, got)
			}
		}
	}
	w.send(eventing.TypeManifestCommitted, committed) // step 1
	w.reconcile()
	w.serviceUpdated()
	w.reconcile()
	w.now = w.now.Add(61 * time.Second)
	w.tick() // the first failed check, within the limit
	w.reconcile()
	w.now = w.now.Add(5 * time.Second) // scraped later: time in phase grows with the clock
	has("mid-rollout",
		`slipstream_rollout_phase{function="rollout",namespace="demo",phase="Progressing",service="hello"} 1`,
		`slipstream_rollout_phase{function="rollout",namespace="demo",phase="Pending",service="hello"} 0`,
		`slipstream_rollout_candidate_weight_percent{`+labels+`} 10`,
		`slipstream_rollout_step{`+labels+`} 1`,
		`slipstream_rollout_steps{`+labels+`} 4`,
		`slipstream_rollout_analysis_value{`+labels+`} 0.25`,
		`slipstream_rollout_time_in_phase_seconds{function="rollout",namespace="demo",phase="Progressing",service="hello"} 66`)
	has("before a rollback: the counter at 0, so increase() sees the first", `slipstream_rollbacks_total{`+labels+`} 0`)
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile("`(slipstream_rollout_[a-z_]+)`").FindAllStringSubmatch(string(ops), -1) {
		has("every documented rollout metric", name[1]+"{")
	}
	w.now = w.now.Add(6 * time.Second)
	w.tick() // the second: rolled back
	w.reconcile()
	has("rolled back",
		`slipstream_rollout_phase{function="rollout",namespace="demo",phase="RolledBack",service="hello"} 1`,
		`slipstream_rollout_candidate_weight_percent{`+labels+`} 0`,
		`slipstream_rollbacks_total{`+labels+`} 1`,
		`slipstream_rollout_time_in_phase_seconds{function="rollout",namespace="demo",phase="RolledBack",service="hello"} 0`)
	w.tick() // a tick over a rolled-back Service: nothing more counted
	has("a tick later", `slipstream_rollbacks_total{`+labels+`} 1`)

	// A Service no longer managed leaves at the next tick.
	if err := w.cs.ServingV1().Services("demo").Delete(context.Background(), "hello", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.tick()
	if got := w.scrape(); strings.Contains(got, "slipstream_rollout_phase{") || strings.Contains(got, "slipstream_rollbacks_total{") {
		t.Errorf("a deleted Service is still reported:\n%s", got)
	}
}
