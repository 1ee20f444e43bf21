package bench

import (
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// helloServer is the baseline of P3: the smallest Go HTTP server.
const helloServer = `package main

import (
	"net/http"
	"os"
)

func main() {
	http.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), nil)
}
`

// depsProbe is helloServer with the packages it is given linked in (blank
// imports): what those dependencies cost by themselves.
func depsProbe(pkgs []string) string {
	var b strings.Builder
	b.WriteString("package main\n\nimport (\n\t\"net/http\"\n\t\"os\"\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	_, body, _ := strings.Cut(helloServer, ")\n")
	b.WriteString(")\n" + body)
	return b.String()
}

// clusterPackages are the Kubernetes and Knative packages slipstream's own
// packages import (what its binary links of them, with their imports).
func clusterPackages(ctx context.Context, root string) ([]string, error) {
	out, err := goCmd(ctx, root, "list", "-deps", "-f",
		`{{if .Module}}{{if eq .Module.Path "github.com/slipstream-cd/slipstream"}}{{join .Imports "\n"}}{{end}}{{end}}`, "./cmd/slipstream")
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, out)
	}
	seen := map[string]bool{}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		if (strings.HasPrefix(p, "k8s.io/") || strings.HasPrefix(p, "knative.dev/")) && !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	sort.Strings(pkgs)
	return pkgs, nil
}

// buildProbe builds depsProbe(pkgs) to out inside the module at root (its
// go.mod pins the versions), from a file in work laid over a package
// directory that does not exist (go build -overlay): nothing is written
// into the repository.
func buildProbe(ctx context.Context, work, root, out string, pkgs []string) error {
	src := filepath.Join(work, "deps-probe.go")
	if err := os.WriteFile(src, []byte(depsProbe(pkgs)), 0o644); err != nil {
		return err
	}
	overlay := filepath.Join(work, "deps-probe-overlay.json")
	js, err := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, "bench", "depsprobe", "main.go"): src}})
	if err != nil {
		return err
	}
	if err := os.WriteFile(overlay, js, 0o644); err != nil {
		return err
	}
	if b, err := goCmd(ctx, root, "build", "-overlay", overlay, "-o", out, "./bench/depsprobe"); err != nil {
		return fmt.Errorf("building the dependency probe: %v: %s", err, b)
	}
	return nil
}

// P3 measures cold start: exec of `slipstream serve <function>` until its
// first 2xx (GET /readyz), for each function, and the resident memory then;
// and the binary's size, stripped too. The baseline is the smallest Go HTTP
// server, started the same way.
func P3(ctx context.Context, work, root string, runs int) (Section, error) {
	sec := Section{Title: "P3 cold start and size",
		Intro: "`exec` of `slipstream serve <function>` until its first 2xx (`GET /readyz`, polled every 0.5 ms), on loopback, " +
			"with the settings each needs (OIDC on for promote and rollout; a kubeconfig for rollout and rollback, which " +
			"they do not call at start); the resident memory (VmRSS) right after that first answer. The baseline is the " +
			"smallest Go HTTP server (`net/http`, one handler), started the same way."}
	bin := filepath.Join(work, "slipstream")
	stripped := filepath.Join(work, "slipstream-stripped")
	hello := filepath.Join(work, "hello", "hello")
	for _, b := range []struct {
		out, dir string
		args     []string
	}{
		{bin, root, []string{"build", "-o", bin, "./cmd/slipstream"}},
		{stripped, root, []string{"build", "-ldflags=-s -w", "-o", stripped, "./cmd/slipstream"}},
	} {
		if out, err := goCmd(ctx, b.dir, b.args...); err != nil {
			return sec, fmt.Errorf("go %s: %v: %s", strings.Join(b.args, " "), err, out)
		}
	}
	if err := os.MkdirAll(filepath.Dir(hello), 0o755); err != nil {
		return sec, err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(hello), "main.go"), []byte(helloServer), 0o644); err != nil {
		return sec, err
	}
	if err := os.WriteFile(filepath.Join(filepath.Dir(hello), "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		return sec, err
	}
	if out, err := goCmd(ctx, filepath.Dir(hello), "build", "-o", hello, "."); err != nil {
		return sec, fmt.Errorf("building the baseline: %v: %s", err, out)
	}

	pkgs, err := clusterPackages(ctx, root)
	if err != nil {
		return sec, err
	}
	probe := filepath.Join(work, "deps-probe")
	if err := buildProbe(ctx, work, root, probe, pkgs); err != nil {
		return sec, err
	}

	env, err := p3Env(work)
	if err != nil {
		return sec, err
	}
	baseTimes, baseRSS, err := coldStarts(ctx, hello, nil, nil, runs)
	if err != nil {
		return sec, fmt.Errorf("baseline: %w", err)
	}
	base := Summarize(baseTimes)
	probeTimes, probeRSS, err := coldStarts(ctx, probe, nil, nil, runs)
	if err != nil {
		return sec, fmt.Errorf("dependency probe: %w", err)
	}
	var fnMem []int64 // each function's median
	for _, fn := range []string{"intake", "promote", "rollout", "rollback"} {
		times, rss, err := coldStarts(ctx, bin, []string{"serve", fn}, env[fn], runs)
		if err != nil {
			return sec, fmt.Errorf("%s: %w", fn, err)
		}
		s := Summarize(times)
		f := Timing("first 2xx, "+fn, s, "smallest Go server", base).Against("p99 < 100 ms", s.P99 < 100*time.Millisecond, fmt.Sprintf("by %s", Ms(s.P99-100*time.Millisecond)))
		sec.Figures = append(sec.Figures, f)
		mem := medianInt(rss)
		fnMem = append(fnMem, mem)
		sec.Figures = append(sec.Figures, Figure{Name: "resident memory after it, " + fn, Median: mib(mem), Runs: runs, Baseline: "smallest Go server",
			BaseMedian: mib(medianInt(baseRSS)), Ratio: fmt.Sprintf("%.1f×", float64(mem)/float64(medianInt(baseRSS)))}.
			Against("< 40 MiB", mem < 40<<20, fmt.Sprintf("by %s", mib(mem-40<<20))))
	}
	size, ssize, hsize, psize := fileSize(bin), fileSize(stripped), fileSize(hello), fileSize(probe)
	baseMem, probeMem := medianInt(baseRSS), medianInt(probeRSS)
	const withDeps = "the smallest Go server + slipstream's Kubernetes and Knative packages"
	sec.Figures = append(sec.Figures,
		Timing("first 2xx, "+withDeps, Summarize(probeTimes), "smallest Go server", base),
		Figure{Name: "resident memory after it, " + withDeps, Median: mib(probeMem), Runs: runs, Baseline: "smallest Go server",
			BaseMedian: mib(baseMem), Ratio: fmt.Sprintf("%.1f×", float64(probeMem)/float64(baseMem))},
		Figure{Name: "binary size, " + withDeps, Median: mb(psize), Baseline: "smallest Go server", BaseMedian: mb(hsize), Ratio: fmt.Sprintf("%.0f×", float64(psize)/float64(hsize))},
		Figure{Name: "binary size", Median: mb(size), Baseline: "smallest Go server", BaseMedian: mb(hsize), Ratio: fmt.Sprintf("%.0f×", float64(size)/float64(hsize))}.
			Against("< 40 MB", size < 40e6, fmt.Sprintf("by %s", mb(size-40e6))),
		Figure{Name: "binary size, -ldflags=-s -w", Median: mb(ssize), Baseline: "binary size", BaseMedian: mb(size), Ratio: fmt.Sprintf("%.2f×", float64(ssize)/float64(size))}.
			Against("< 40 MB", ssize < 40e6, fmt.Sprintf("by %s", mb(ssize-40e6))))
	mods, err := moduleSizes(bin)
	if err != nil {
		return sec, err
	}
	var b strings.Builder
	b.WriteString("What the binary's code and data are made of, by module (symbol sizes; the rest is runtime tables and debug data):\n\n| module | size |\n|---|---|\n")
	for _, m := range mods[:min(12, len(mods))] {
		fmt.Fprintf(&b, "| %s | %s |\n", m.name, mb(m.size))
	}
	fmt.Fprintf(&b, "\nThe %d Kubernetes and Knative packages slipstream's own code imports (%s), linked into the smallest Go "+
		"server by blank imports, make it %s larger and %s heavier in memory after its first answer (rows above). "+
		"Isolating them from the functions that do not need them would save at most that: such a function would be no "+
		"smaller than about %s (%s resident), as what they share with the rest of the binary stays.\n\n", len(pkgs), strings.Join(pkgs, ", "), mb(psize-hsize), mib(probeMem-baseMem),
		mb(size-(psize-hsize)), mib(medianInt(fnMem)-(probeMem-baseMem)))
	b.WriteString(p3Notes)
	sec.Notes = b.String()
	return sec, nil
}

// p3Notes reads the size and memory figures.
const p3Notes = `Cold start is met: a function answers in a few tens of milliseconds. Size and memory are not: one binary serves
all four functions (and ` + "`slipstream dev`" + `), so each carries the Kubernetes and Knative packages measured above — most
of its size, of its memory and of its start-up time beyond the smallest server's (k8s.io/api alone is the largest
module by symbol size; their init functions register every API type). What would close it: a binary per function,
each linking only what it uses. intake, the internet-facing function, reads no Kubernetes object: its only path to
them is the host's OIDC discovery (client-go's rest and clientcmd, for promote's and rollout's token checks, which
intake does not make): moved out of internal/host, a build of intake alone would leave them all out; rollout and
rollback need the serving client. That split (one image per
function in infra/, ko building four commands) is not made yet; -ldflags=-s -w alone drops the debug data.`

// p3Env is each function's environment for P3: what it needs to start.
func p3Env(work string) (map[string][]string, error) {
	secret := func(name, v string) (string, error) {
		p := filepath.Join(work, name)
		return p, os.WriteFile(p, []byte(v), 0o600)
	}
	tok, err := secret("p3-token", "bench-token")
	if err != nil {
		return nil, err
	}
	kc, err := secret("p3-kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`)
	if err != nil {
		return nil, err
	}
	shared := []string{"K_SINK=http://127.0.0.1:1", "SLIPSTREAM_LOG_LEVEL=error"}
	oidc := []string{"SLIPSTREAM_OIDC_ISSUER=https://issuer.bench.local", "SLIPSTREAM_OIDC_AUDIENCE=bench"}
	return map[string][]string{
		"intake": append(shared, "SLIPSTREAM_INTAKE_FORMATS=distribution", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES="+registryHost,
			"SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE="+tok),
		"promote":  append(append(shared, oidc...), "SLIPSTREAM_PROMOTE_GIT_URL=https://git.bench.local/config.git"),
		"rollout":  append(append(shared, oidc...), "SLIPSTREAM_ROLLOUT_KUBECONFIG="+kc),
		"rollback": append(shared, "SLIPSTREAM_ROLLBACK_KUBECONFIG="+kc, "SLIPSTREAM_ROLLBACK_TOKEN_FILE="+tok),
	}, nil
}

// coldStart execs bin on a free loopback port and returns the time to its
// first 2xx on /readyz and its resident memory then; then it stops it.
func coldStart(ctx context.Context, bin string, args, env []string) (time.Duration, int64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append(os.Environ(), env...), "PORT="+strconv.Itoa(port))
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for time.Since(start) < 10*time.Second {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				d := time.Since(start)
				return d, rss(cmd.Process.Pid), nil
			}
		}
		time.Sleep(500 * time.Microsecond)
	}
	return 0, 0, fmt.Errorf("%s %v: no 2xx from %s within 10 s", bin, args, url)
}

// coldStarts is coldStart runs times: the times to the first 2xx and the
// resident memories then.
func coldStarts(ctx context.Context, bin string, args, env []string, runs int) ([]time.Duration, []int64, error) {
	var times []time.Duration
	var mem []int64
	for range runs {
		d, r, err := coldStart(ctx, bin, args, env)
		if err != nil {
			return nil, nil, err
		}
		times, mem = append(times, d), append(mem, r)
	}
	return times, mem, nil
}

// rss is a process's resident memory in bytes (VmRSS), or 0.
func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

type moduleSize struct {
	name string
	size int64
}

// moduleSizes sums the binary's symbol sizes by module (the first three
// path elements of a dotted import path, else the standard library),
// largest first.
func moduleSizes(bin string) ([]moduleSize, error) {
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		return nil, err
	}
	by := map[string]int64{}
	for _, s := range syms {
		by[moduleOf(s.Name)] += int64(s.Size)
	}
	out := make([]moduleSize, 0, len(by))
	for n, sz := range by {
		out = append(out, moduleSize{n, sz})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].size > out[j].size })
	return out, nil
}

// moduleOf names the module a symbol belongs to, roughly: for
// "k8s.io/client-go/kubernetes.(*Clientset).X" it is "k8s.io/client-go".
func moduleOf(sym string) string {
	for _, p := range []string{"type:.eq.", "type:*", "type:", "go:itab.*", "go:itab.", "go:string.", "go:"} {
		if rest, ok := strings.CutPrefix(sym, p); ok {
			sym = strings.TrimLeft(rest, "*[]")
			break
		}
	}
	if i := strings.IndexAny(sym, "("); i > 0 {
		sym = sym[:i]
	}
	if m := gopkgIn.FindString(sym); m != "" {
		return m
	}
	parts := strings.Split(sym, "/")
	if len(parts) == 1 || !strings.Contains(parts[0], ".") {
		return "Go runtime tables (pclntab, types) and standard library"
	}
	n := 2
	switch parts[0] {
	case "github.com", "gitlab.com", "go.opentelemetry.io":
		n = 3
	}
	if len(parts) < n {
		n = len(parts)
	}
	m := strings.Join(parts[:n], "/")
	if i := strings.Index(m, "."); i > 0 && n == len(parts) {
		// the last element carries the package's symbol: cut it there
		last := parts[n-1]
		if j := strings.Index(last, "."); j > 0 {
			m = strings.Join(append(parts[:n-1], last[:j]), "/")
		}
	}
	return m
}

// gopkgIn matches a gopkg.in module, whose name ends in its version.
var gopkgIn = regexp.MustCompile(`^gopkg\.in/([^/]+/)?[^/.]+\.v\d+`)

func goCmd(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func medianInt(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]int64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)/2]
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func mb(b int64) string  { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
