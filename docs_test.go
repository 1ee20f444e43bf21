package slipstream

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdLink is a markdown link's target: [text](target).
var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinksStayInTheRepository: every relative link in the README and
// docs/ names a file of this repository (a clone has nothing beside it).
func TestDocLinksStayInTheRepository(t *testing.T) {
	files, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "README.md")
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(prose(string(raw)), -1) {
			target, _, _ := strings.Cut(m[1], "#")
			if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, err := filepath.Abs(filepath.Join(filepath.Dir(f), target))
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if !strings.HasPrefix(path, root+string(filepath.Separator)) {
				t.Errorf("%s links %s, outside the repository", f, m[1])
				continue
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links %s: %v", f, m[1], err)
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d links checked; the README and docs/ have more", checked)
	}
}

// prose is markdown without its fenced code blocks (code is not links).
func prose(md string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestDashboardChartsDocumentedMetrics: the Grafana dashboard in examples/
// is valid JSON whose every query names only metrics docs/operations.md
// documents (and rollout's tests check rollout exports each of them; the
// e2e tier runs the queries against a real Prometheus).
func TestDashboardChartsDocumentedMetrics(t *testing.T) {
	raw, err := os.ReadFile("examples/grafana/slipstream-rollouts.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	ops, err := os.ReadFile("docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	metric := regexp.MustCompile(`slipstream_[a-z_]+`)
	queries := 0
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			queries++
			names := metric.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no slipstream metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !strings.Contains(string(ops), "`"+n+"`") {
					t.Errorf("panel %q: %s is not documented in docs/operations.md", p.Title, n)
				}
			}
		}
	}
	if d.UID == "" || queries < 5 {
		t.Errorf("uid %q, %d queries: not the dashboard", d.UID, queries)
	}
}
