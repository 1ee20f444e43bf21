package peers

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Peer is one program the e2e tier runs, and how to build it.
type Peer struct {
	// Name is the peer's folder in the cache: its name and version.
	Name string
	// Bins are the binaries the folder holds once built.
	Bins []string
	// Install, when set, is the `go install` argument (package@version),
	// for a peer whose module builds as published.
	Install string
	// Module, when Install is empty, is the tools module under e2e/tools
	// that builds the peer, and Packages what it builds there.
	Module   string
	Packages []string
	// LDFlags are the linker flags of the build.
	LDFlags string
}

// kubeVersion is the Kubernetes release the control plane runs; Knative
// v0.42 supports it, and k8s.io/* v0.29.2 in go.mod is its client.
const kubeVersion = "v1.29.2"

// All is every peer, in the order they are built (the longest first).
var All = []Peer{
	{
		Name:     "kube-" + kubeVersion,
		Bins:     []string{"kube-apiserver", "kube-controller-manager"},
		Module:   "kube",
		Packages: []string{"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager"},
		// Knative refuses an apiserver whose /version is the unstamped
		// v0.0.0-master of a plain `go build`.
		LDFlags: "-X k8s.io/component-base/version.gitVersion=" + kubeVersion +
			" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=29",
	},
	{
		Name:     "knative-serving-v0.42.2",
		Bins:     []string{"controller", "webhook", "autoscaler"},
		Module:   "knative",
		Packages: []string{"./controller", "knative.dev/serving/cmd/webhook", "knative.dev/serving/cmd/autoscaler"},
	},
	{Name: "kwok-v0.8.0", Bins: []string{"kwok"}, Install: "sigs.k8s.io/kwok/cmd/kwok@v0.8.0"},
	{Name: "registry-v3.1.2", Bins: []string{"registry"}, Install: "github.com/distribution/distribution/v3/cmd/registry@v3.1.2"},
	{Name: "alertmanager-v0.28.1", Bins: []string{"alertmanager"}, Install: "github.com/prometheus/alertmanager/cmd/alertmanager@v0.28.1"},
	{Name: "prometheus-v0.316.0", Bins: []string{"prometheus"}, Install: "github.com/prometheus/prometheus/cmd/prometheus@v0.316.0"},
	{Name: "crane-v0.22.1", Bins: []string{"crane"}, Install: "github.com/google/go-containerregistry/cmd/crane@v0.22.1"},
}

// Cache is the folder peers are built into: E2E_CACHE, else .cache/e2e
// under the repository root.
func Cache(root string) string {
	if c := os.Getenv("E2E_CACHE"); c != "" {
		return c
	}
	return filepath.Join(root, ".cache", "e2e")
}

// Bin is the path of one peer's binary in the cache, or an error saying how
// to build it when it is not there.
func Bin(cache, bin string) (string, error) {
	for _, p := range All {
		for _, b := range p.Bins {
			if b != bin {
				continue
			}
			path := filepath.Join(cache, p.Name, b)
			if _, err := os.Stat(path); err != nil {
				return "", fmt.Errorf("%s is not built in %s (run: make e2e-peers): %w", bin, cache, err)
			}
			return path, nil
		}
	}
	return "", fmt.Errorf("no peer has a binary named %q", bin)
}

// Holding is the peers that hold any of the named binaries, in All's order.
func Holding(bins ...string) []Peer {
	var out []Peer
	for _, p := range All {
		for _, b := range p.Bins {
			if slices.Contains(bins, b) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// Build builds every peer of ps (none given: All) that the cache does not
// hold yet, from the repository at root, printing one line per peer to out.
func Build(root, cache string, out io.Writer, ps ...Peer) error {
	if len(ps) == 0 {
		ps = All
	}
	var errs []error
	for _, p := range ps {
		dir := filepath.Join(cache, p.Name)
		if _, err := os.Stat(dir); err == nil {
			fmt.Fprintf(out, "peers: %s cached\n", p.Name)
			continue
		}
		start := time.Now()
		fmt.Fprintf(out, "peers: building %s (first run only)…\n", p.Name)
		if err := p.build(root, dir, out); err != nil {
			errs = append(errs, fmt.Errorf("building %s: %w", p.Name, err))
			continue
		}
		fmt.Fprintf(out, "peers: %s built in %s\n", p.Name, time.Since(start).Round(time.Second))
	}
	return errors.Join(errs...)
}

// build builds p into a temporary folder beside dir and renames it to dir.
func (p Peer) build(root, dir string, out io.Writer) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".building-"+p.Name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	var cmd *exec.Cmd
	if p.Install != "" {
		cmd = exec.Command("go", "install", "-p", "1", "-ldflags", p.LDFlags, p.Install)
		cmd.Env = append(os.Environ(), "GOBIN="+tmp)
	} else {
		args := append([]string{"build", "-p", "1", "-ldflags", p.LDFlags, "-o", tmp + string(filepath.Separator)}, p.Packages...)
		cmd = exec.Command("go", args...)
		cmd.Dir = filepath.Join(root, "e2e", "tools", p.Module)
		cmd.Env = os.Environ()
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		return err
	}
	for _, b := range p.Bins {
		if _, err := os.Stat(filepath.Join(tmp, b)); err != nil {
			return fmt.Errorf("the build made no %s: %w", b, err)
		}
	}
	return os.Rename(tmp, dir)
}
