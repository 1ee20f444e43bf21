//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/functions/rollback"
)

// exporter serves a per-revision error ratio in Prometheus' text format:
// the synthetic metric the alert rule watches, set by the test.
type exporter struct {
	mu  sync.Mutex
	bad map[string]float64 // revision → error ratio
	ns  string
}

func (e *exporter) set(revision string, ratio float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.bad[revision] = ratio
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	revs := make([]string, 0, len(e.bad))
	for r := range e.bad {
		revs = append(revs, r)
	}
	sort.Strings(revs)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintln(w, "# TYPE e2e_revision_error_ratio gauge")
	for _, r := range revs {
		fmt.Fprintf(w, "e2e_revision_error_ratio{namespace=%q,service_name=%q,revision_name=%q} %g\n", e.ns, service, r, e.bad[r])
	}
}

// alerting is a real Prometheus scraping the exporter and evaluating an
// alert rule, and a real Alertmanager sending to rollback's webhook
// through a proxy that notes when each notification left.
type alerting struct {
	exporter *exporter
	mu       sync.Mutex
	sent     []time.Time // when Alertmanager's notifications reached the proxy
}

// Sent is when Alertmanager's notifications were sent, so far.
func (a *alerting) Sent() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.sent...)
}

// startAlerting runs Prometheus and Alertmanager for pipeline p.
func startAlerting(t *testing.T, p *pipeline) *alerting {
	t.Helper()
	a := &alerting{exporter: &exporter{bad: map[string]float64{}, ns: p.ns}}
	metrics := httptest.NewServer(a.exporter)
	t.Cleanup(metrics.Close)
	target, err := url.Parse(p.urls["rollback"])
	if err != nil {
		t.Fatal(err)
	}
	forward := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.sent = append(a.sent, time.Now())
		a.mu.Unlock()
		forward.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)

	ports, err := cluster.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	am, prom := cluster.Addr(ports[0]), cluster.Addr(ports[1])
	dir := filepath.Join(p.dir, "alerting")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	amConfig := write("alertmanager.yml", fmt.Sprintf(`route:
  receiver: slipstream
  group_by: [namespace, service_name]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: slipstream
    webhook_configs:
      - url: %s%s
        send_resolved: true
        http_config:
          authorization: {credentials: %s}
`, proxy.URL, rollback.Route, alertToken))
	rules := write("rules.yml", `groups:
  - name: slipstream-e2e
    interval: 250ms
    rules:
      - alert: RevisionErrors
        expr: e2e_revision_error_ratio > 0.05
        for: 500ms
        labels: {severity: critical}
        annotations: {summary: "{{ $labels.revision_name }} answers {{ $value }} errors"}
`)
	promConfig := fmt.Sprintf(`global:
  scrape_interval: 250ms
  evaluation_interval: 250ms
rule_files: [%s]
alerting:
  alertmanagers:
    - static_configs: [{targets: [%q]}]
scrape_configs:
  - job_name: revisions
    static_configs: [{targets: [%q]}]
`, rules, am, strings.TrimPrefix(metrics.URL, "http://"))

	amProc, err := cluster.StartProc(dir, "alertmanager", p.bin("alertmanager"), []string{
		"--config.file=" + amConfig, "--storage.path=" + filepath.Join(dir, "am-data"),
		"--web.listen-address=" + am, "--cluster.listen-address=",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { amProc.Stop(5 * time.Second) })
	promProc := startPrometheus(t, p, dir, prom, promConfig, "--rules.alert.resend-delay=250ms")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- alertmanager:\n%s\n--- prometheus:\n%s", amProc.Tail(20), promProc.Tail(20))
		}
	})
	return a
}

// startPrometheus runs the Prometheus peer on addr with config (the
// prometheus.yml content), its files in dir.
func startPrometheus(t *testing.T, p *pipeline, dir, addr, config string, args ...string) *cluster.Proc {
	t.Helper()
	path := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	proc, err := cluster.StartProc(dir, "prometheus", p.bin("prometheus"), append([]string{
		"--config.file=" + path, "--storage.tsdb.path=" + filepath.Join(dir, "prom-data"), "--web.listen-address=" + addr,
	}, args...), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Stop(5 * time.Second) })
	return proc
}
