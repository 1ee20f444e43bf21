//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
)

// metricsProm is a real Prometheus scraping rollout's and rollback's
// /metrics every 250 ms, for the dashboard's queries.
type metricsProm struct{ url string }

func startMetricsProm(t *testing.T, p *pipeline) *metricsProm {
	t.Helper()
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.dir, "metrics")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	var targets []string
	for _, f := range []string{"rollout", "rollback"} {
		targets = append(targets, strconv.Quote(strings.TrimPrefix(p.urls[f], "http://")))
	}
	addr := cluster.Addr(ports[0])
	startPrometheus(t, p, dir, addr, fmt.Sprintf(`global: {scrape_interval: 250ms}
scrape_configs:
  - job_name: slipstream
    static_configs: [{targets: [%s]}]
`, strings.Join(targets, ", ")))
	m := &metricsProm{url: "http://" + addr}
	// Up and scraping both before the test goes on: what happens next is
	// what the dashboard must show.
	waitFor(t, 60*time.Second, "Prometheus to scrape rollout and rollback", func() bool {
		res, err := m.query(`up{job="slipstream"} == 1`)
		return err == nil && len(res) == 2
	})
	return m
}

// sample is one series of an instant query's answer.
type sample struct {
	Metric map[string]string
	Value  float64
}

// query runs an instant query; a Prometheus not up yet answers nothing.
func (m *metricsProm) query(q string) ([]sample, error) {
	resp, err := http.Get(m.url + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", q, body.Error)
	}
	var out []sample
	for _, r := range body.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, sample{Metric: r.Metric, Value: v})
	}
	return out, nil
}

// dashboardQueries are the Grafana dashboard's queries by panel title,
// with its variables as Grafana fills them: every namespace and Service,
// the range the last 10 minutes.
func dashboardQueries(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "examples", "grafana", "slipstream-rollouts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out[p.Title] = strings.NewReplacer("$namespace", ".*", "$service", ".*", "$__range", "10m").Replace(tg.Expr)
		}
	}
	if len(out) < 5 {
		t.Fatalf("the dashboard has %d queries", len(out))
	}
	return out
}

// checkDashboard runs every query of the dashboard against Prometheus once
// a rollout of p's Service went to step 1 and was rolled back: each must
// answer for that Service (the analysis panel only with an analysis), and
// say what happened: the candidate's share reached the first step, the
// phase is RolledBack, one rollback is counted.
func checkDashboard(t *testing.T, m *metricsProm, p *pipeline) {
	t.Helper()
	queries := dashboardQueries(t)
	ours := func(s sample) bool { return s.Metric["namespace"] == p.ns && s.Metric["service"] == p.service }
	checks := map[string]struct {
		wrap string // the query inside it, when the check needs one
		ok   func(sample) bool
	}{
		"Candidate's share of the traffic": {wrap: "max_over_time((%s)[10m:250ms])", ok: func(s sample) bool { return ours(s) && s.Value >= 10 }},
		"Phase":                            {ok: func(s sample) bool { return ours(s) && s.Metric["phase"] == "RolledBack" }},
		"Rollbacks in the range":           {ok: func(s sample) bool { return ours(s) && s.Value >= 0.5 }},
		"Rollouts by phase now":            {ok: func(s sample) bool { return s.Metric["phase"] == "RolledBack" && s.Value >= 1 }},
	}
	for title, q := range queries {
		if title == "Last analysis value" {
			continue // this rollout has no analysis
		}
		c, ok := checks[title]
		if !ok {
			c.ok = ours
		}
		if c.wrap != "" {
			q = fmt.Sprintf(c.wrap, q)
		}
		var last []sample
		waitFor(t, 20*time.Second, "the dashboard's "+strconv.Quote(title)+" to show "+p.ns+"/"+p.service, func() bool {
			res, err := m.query(q)
			if err != nil {
				t.Logf("%s: %v", title, err)
				return false
			}
			last = res
			for _, s := range res {
				if c.ok(s) {
					return true
				}
			}
			return false
		})
		t.Logf("dashboard %q: %v", title, last)
	}
}
