package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Figure is one measured figure, beside its baseline when it has one.
type Figure struct {
	Name string
	// Median, P99 and Runs are the figure as printed; a single value has
	// only Median.
	Median, P99 string
	Runs        int
	// Baseline names what it is compared with; BaseMedian and BaseP99 are
	// that measured in the same run; Ratio the figure's median over it.
	Baseline            string
	BaseMedian, BaseP99 string
	Ratio               string
	// Target is the claim, and Verdict whether this run met it.
	Target, Verdict string
}

// Timing is a figure of durations, compared with a baseline's (base.N == 0:
// none).
func Timing(name string, v Summary, baseline string, base Summary) Figure {
	f := Figure{Name: name, Median: Ms(v.Median), P99: Ms(v.P99), Runs: v.N}
	if base.N > 0 {
		f.Baseline, f.BaseMedian, f.BaseP99 = baseline, Ms(base.Median), Ms(base.P99)
		f.Ratio = fmt.Sprintf("%.2f×", Ratio(v, base))
	}
	return f
}

// Against sets the target and the verdict: met when ok, else missed with why.
func (f Figure) Against(target string, ok bool, why string) Figure {
	f.Target = target
	if ok {
		f.Verdict = "met"
	} else {
		f.Verdict = "missed: " + why
	}
	return f
}

// Section is one claim's figures with what a reader needs to read them.
type Section struct {
	Title   string
	Intro   string // markdown, before the table
	Figures []Figure
	Notes   string // markdown, after the table
}

// Machine describes where the figures were measured.
type Machine struct {
	Cores  int
	Memory string
	Go     string
	CPU    string
}

// ThisMachine reads the machine's cores, memory and CPU model.
func ThisMachine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Memory: "unknown", CPU: "unknown"}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.Atoi(f[1]); err == nil {
					m.Memory = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// Commit is the short hash of HEAD in dir, with "+changes" when the work
// tree differs from it, or "unknown".
func Commit(dir string) string {
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	c := strings.TrimSpace(string(out))
	if st, err := exec.Command("git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
		c += "+changes"
	}
	return c
}

// Report is one run of make bench.
type Report struct {
	Machine  Machine
	Date     time.Time
	Commit   string
	Took     time.Duration
	Sections []Section
}

// Markdown renders the report as docs/benchmarks.md.
func (r Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\n")
	fmt.Fprintf(&b, "Written by `make bench` (`go run ./bench/run`): every figure below comes from its last run, "+
		"each beside a baseline measured in the same run. Timings are never asserted in tests. From a fresh clone, "+
		"`make bench` first builds the control plane P2 runs (Kubernetes v1.29.2, Knative Serving v0.42.2 and kwok, into "+
		"the e2e cache that `make e2e` shares: about 20 minutes on two cores, once; `go run ./bench/run -peers=false` "+
		"skips it, and P2 then keeps only its fake-clientset rows); a run then takes the time below.\n\n")
	fmt.Fprintf(&b, "| machine | |\n|---|---|\n| cores | %d (%s) |\n| memory | %s |\n| Go | %s |\n| date | %s |\n| commit | %s |\n| run took | %s |\n\n",
		r.Machine.Cores, r.Machine.CPU, r.Machine.Memory, r.Machine.Go, r.Date.UTC().Format("2006-01-02 15:04 MST"), r.Commit, r.Took.Round(time.Second))
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "## %s\n\n", s.Title)
		if s.Intro != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Intro))
		}
		if len(s.Figures) > 0 {
			b.WriteString("| figure | median | p99 | runs | baseline | its median | its p99 | ratio | target | verdict |\n")
			b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
			for _, f := range s.Figures {
				runs := ""
				if f.Runs > 0 {
					runs = strconv.Itoa(f.Runs)
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					dash(f.Name), dash(f.Median), dash(f.P99), dash(runs), dash(f.Baseline), dash(f.BaseMedian), dash(f.BaseP99), dash(f.Ratio), dash(f.Target), dash(f.Verdict))
			}
			b.WriteString("\n")
		}
		if s.Notes != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(s.Notes))
		}
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return strings.ReplaceAll(s, "|", "\\|")
}

// Text renders the figures as a plain table for the terminal.
func (r Report) Text() string {
	var b strings.Builder
	for _, s := range r.Sections {
		fmt.Fprintf(&b, "%s\n", s.Title)
		for _, f := range s.Figures {
			fmt.Fprintf(&b, "  %-52s median %-10s p99 %-10s", f.Name, dash(f.Median), dash(f.P99))
			if f.Baseline != "" {
				fmt.Fprintf(&b, " | %s %s (%s)", f.Baseline, f.BaseMedian, f.Ratio)
			}
			if f.Target != "" {
				fmt.Fprintf(&b, " | %s: %s", f.Target, f.Verdict)
			}
			b.WriteString("\n")
		}
		if s.Notes != "" {
			fmt.Fprintf(&b, "  (%s)\n", strings.TrimSpace(s.Notes))
		}
	}
	return b.String()
}
