//go:build e2e

package e2e

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/e2e/peers"
)

// root is the repository's root; tests run in e2e/.
var root, _ = filepath.Abs("..")

// cache is where `make e2e-peers` built the peers; it fails the test when
// a binary of the control plane is missing.
func cache(t *testing.T) string {
	t.Helper()
	c := peers.Cache(root)
	for _, b := range []string{"kube-apiserver", "kube-controller-manager", "kwok", "controller", "webhook", "autoscaler"} {
		if _, err := peers.Bin(c, b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// startCluster runs a control plane for one test and stops it when the test
// ends, printing the tail of every peer's log when the test failed.
func startCluster(t *testing.T) *cluster.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	dir := t.TempDir()
	c, err := cluster.Start(ctx, cluster.Options{Root: root, Dir: dir, Cache: cache(t)})
	if err != nil {
		keepLogs(t, dir)
		t.Fatalf("starting the control plane: %v", err)
	}
	t.Logf("control plane up in %s", time.Since(start).Round(10*time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs(40))
			keepLogs(t, c.Dir())
		}
		c.Stop()
	})
	return c
}

// peersBin is a peer binary from the cache.
func peersBin(name string) (string, error) { return peers.Bin(peers.Cache(root), name) }

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// keepLogs copies the *.log files under dir to $E2E_KEEP/<test>/ when
// E2E_KEEP is set, since a test's TempDir goes when it ends.
func keepLogs(t *testing.T, dir string) {
	keep := os.Getenv("E2E_KEEP")
	if keep == "" {
		return
	}
	to := filepath.Join(keep, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".log" {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(to, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Logf("keeping logs: %v", err)
		return
	}
	t.Logf("logs kept in %s", to)
}
