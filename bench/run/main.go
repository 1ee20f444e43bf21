// Command run is make bench: it runs every scenario of package bench,
// prints the figures and rewrites docs/benchmarks.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/bench"
	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/e2e/peers"
)

func main() {
	doc := flag.String("doc", "docs/benchmarks.md", "the document to rewrite; empty: none")
	only := flag.String("only", "", "comma-separated scenarios to run (P1,P2,P3,P4,P5,broker); empty: all")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the run here")
	build := flag.Bool("peers", true, "build the control plane P2 runs (Kubernetes, Knative Serving, kwok) into the e2e cache when it lacks them: about 20 minutes, once")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *doc, *only, *build); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// p1Sizes are P1's repository sizes; SLIPSTREAM_BENCH_P1_SIZES changes
// them (for a quick look).
var p1Sizes = sizes(os.Getenv("SLIPSTREAM_BENCH_P1_SIZES"), []int{1, 500, 5000})

func sizes(s string, def []int) []int {
	if s == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

func run(ctx context.Context, doc, only string, build bool) error {
	work, err := os.MkdirTemp("", "slipstream-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	started := time.Now()
	r := bench.Report{Machine: bench.ThisMachine(), Date: started, Commit: bench.Commit(".")}
	scenarios := []struct {
		name string
		run  func() (bench.Section, error)
	}{
		{"P1", func() (bench.Section, error) { return bench.P1(ctx, work, p1Sizes, 3, 20, 5) }},
		{"P3", func() (bench.Section, error) { return bench.P3(ctx, work, root, 20) }},
		{"broker", func() (bench.Section, error) { return bench.Broker(ctx, 5000, 8) }},
		{"P4", func() (bench.Section, error) { return bench.P4(ctx, work, []int{1, 2, 4}) }},
		{"P5", func() (bench.Section, error) { return bench.P5(ctx, work) }},
		{"P2", func() (bench.Section, error) {
			cache := peers.Cache(root)
			if build { // a failed build leaves P2 on the fake clientset, saying why
				if err := peers.Build(root, cache, os.Stderr, peers.Holding(cluster.Bins...)...); err != nil {
					fmt.Fprintln(os.Stderr, "bench: building P2's control plane:", err)
				}
			}
			return bench.P2(ctx, work, root, cache, 20)
		}},
	}
	for _, s := range scenarios {
		if only != "" && !strings.Contains(","+only+",", ","+s.name+",") {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s…\n", s.name)
		sec, err := s.run()
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		r.Sections = append(r.Sections, sec)
		fmt.Print(bench.Report{Sections: []bench.Section{sec}}.Text())
	}
	r.Took = time.Since(started)
	if doc == "" {
		return nil
	}
	return os.WriteFile(doc, []byte(r.Markdown()), 0o644)
}
