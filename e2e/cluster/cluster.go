package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/e2e/peers"
)

// Cluster is a running control plane (see the package doc).
type Cluster struct {
	// Host is the kube-apiserver's URL; CA signed its certificate.
	Host string
	CA   *CA
	// Admin is a client configuration with every right, for the harness
	// only: slipstream's functions get their own ServiceAccounts' tokens.
	Admin *rest.Config
	// Kube and Serving are admin clients.
	Kube    kubernetes.Interface
	Serving servingclient.Interface

	root, dir, cache string
	adminToken       string
	adminKubeconfig  string
	procs            []*Proc
	cleanup          []func()
	stop             context.CancelFunc
	running          sync.WaitGroup // the harness loops
	loops            chan error

	mu      sync.Mutex
	failing map[string]bool // Ingresses (namespace/name) held failed
}

// Options says where a Cluster keeps its files and finds its binaries.
type Options struct {
	// Root is the repository's root (its e2e/tools modules pin Knative).
	Root string
	// Dir holds logs, certificates and kubeconfigs (a test's TempDir).
	Dir string
	// Cache is package peers' cache of built binaries.
	Cache string
}

// Start brings the control plane up: Kubernetes, the fake Node, Knative
// Serving and the ingress stand-in. On an error, what was started is
// stopped again.
func Start(ctx context.Context, o Options) (c *Cluster, err error) {
	c = &Cluster{root: o.Root, dir: o.Dir, cache: o.Cache, loops: make(chan error, 4)}
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w\n%s", err, c.Logs(30))
			c.Stop()
		}
	}()
	if err := c.startKube(ctx); err != nil {
		return c, err
	}
	if c.Kube, err = kubernetes.NewForConfig(c.Admin); err != nil {
		return c, err
	}
	if c.Serving, err = servingclient.NewForConfig(c.Admin); err != nil {
		return c, err
	}
	loopCtx, stop := context.WithCancel(context.Background())
	c.stop = stop
	if err := c.startNode(ctx, loopCtx); err != nil {
		return c, fmt.Errorf("fake node: %w", err)
	}
	if err := c.startKnative(ctx, loopCtx); err != nil {
		return c, fmt.Errorf("knative serving: %w", err)
	}
	return c, nil
}

// Stop ends every process (the last started first) and the harness loops.
func (c *Cluster) Stop() {
	if c.stop != nil {
		c.stop()
	}
	c.running.Wait()
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].Stop(5 * time.Second)
	}
	for _, f := range c.cleanup {
		f()
	}
}

// Logs is the tail of every peer's log, for a failure message.
func (c *Cluster) Logs(lines int) string {
	var b strings.Builder
	for _, p := range c.procs {
		fmt.Fprintf(&b, "--- %s (%s), last %d lines:\n%s\n", p.Name, p.Log, lines, p.Tail(lines))
	}
	return b.String()
}

// loop runs f in a goroutine that Stop ends and waits for.
func (c *Cluster) loop(ctx context.Context, f func(context.Context)) {
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		f(ctx)
	}()
}

// Dir is the folder holding the cluster's files.
func (c *Cluster) Dir() string { return c.dir }

// start runs one peer process and remembers it for Stop.
func (c *Cluster) start(name, bin string, args, env []string) (*Proc, error) {
	p, err := StartProc(c.dir, name, bin, args, env)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// exited is an error naming any peer that has ended.
func (c *Cluster) exited() error {
	var errs []error
	for _, p := range c.procs {
		if done, err := p.Exited(); done {
			errs = append(errs, fmt.Errorf("%s exited: %v", p.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Healthy is an error when a peer process or a harness loop has ended.
func (c *Cluster) Healthy() error {
	select {
	case err := <-c.loops:
		return err
	default:
	}
	return c.exited()
}

// Bins are the peer binaries Start runs (etcd aside, a Debian package):
// peers.Holding(Bins...) is what to build for a Cluster.
var Bins = []string{"kube-apiserver", "kube-controller-manager", "kwok", "webhook", "controller", "autoscaler"}

// bin is the path of a peer binary; Start has checked they all exist.
func (c *Cluster) bin(name string) string {
	if !slices.Contains(Bins, name) {
		return name + " (not in cluster.Bins: add it there, or peers.Holding(Bins...) builds without it)"
	}
	path, err := peers.Bin(c.cache, name)
	if err != nil {
		return name // exec then fails naming it; the check below said how to build it
	}
	return path
}

// randomToken is a bearer token nobody can guess.
func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
