package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
	"k8s.io/client-go/tools/clientcmd"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/intake"
	"github.com/slipstream-cd/slipstream/functions/promote"
	"github.com/slipstream-cd/slipstream/functions/rollback"
	"github.com/slipstream-cd/slipstream/functions/rollout"
	"github.com/slipstream-cd/slipstream/infra"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/registry"
	"github.com/slipstream-cd/slipstream/local/broker"
	"github.com/slipstream-cd/slipstream/local/sim"
	"github.com/slipstream-cd/slipstream/policy"
)

// Options tune a local run. The zero value is the demo's defaults.
type Options struct {
	// StateDir holds the bare config repository. Default: a new temporary folder.
	StateDir string
	// Pause is each step's pause. Default 1s.
	Pause time.Duration
	// ReadyAfter is how long a new Revision takes to become Ready. Default 300ms.
	ReadyAfter time.Duration
	// Tick is the PingSource period. Default 500ms (a cluster ticks every minute).
	Tick time.Duration
	// Log receives the functions' logs. Default: discarded.
	Log *slog.Logger
	// GitURL is a real config repository for promote instead of the local
	// bare one (credentials from the URL's user, or none). Default: local.
	GitURL string
	// Kubeconfig points at a real cluster with Knative instead of the
	// simulated one; the simulated sync, traffic and alerts are then off.
	Kubeconfig string
}

func (o *Options) defaults() {
	if o.Pause == 0 {
		o.Pause = time.Second
	}
	if o.ReadyAfter == 0 {
		o.ReadyAfter = 300 * time.Millisecond
	}
	if o.Tick == 0 {
		o.Tick = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

const (
	intakeToken   = "demo-intake-token"
	rollbackToken = "demo-alertmanager-token"
	namespace     = "demo"
	service       = "hello"
)

// Env is a running local pipeline.
type Env struct {
	// Addresses of everything, for people.
	Broker, Intake, Promote, Rollout, Rollback, Registry, Repo string

	// Cluster and Traffic are nil with a real cluster.
	Cluster *sim.Cluster
	Traffic *sim.Traffic
	Bare    string
	// Serving is the Knative client the functions use (simulated or real).
	Serving servingclient.Interface

	opts    Options
	broker  *broker.Broker
	servers []*http.Server
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	mu        sync.Mutex
	log       []Line
	listeners []func(Line)
	refused   map[string]bool // digests of image.pushed events promote acknowledged without acting
}

// Line is one entry of the event log.
type Line struct {
	At   time.Time
	Text string
}

func (e *Env) note(format string, args ...any) {
	l := Line{At: time.Now(), Text: fmt.Sprintf(format, args...)}
	e.mu.Lock()
	e.log = append(e.log, l)
	ls := append([]func(Line){}, e.listeners...)
	e.mu.Unlock()
	for _, f := range ls {
		f(l)
	}
}

// OnLine registers a listener for the event log; listeners are called from
// several goroutines and must be safe for that.
func (e *Env) OnLine(f func(Line)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.listeners = append(e.listeners, f)
}

func serve(h http.Handler) (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return srv, "http://" + ln.Addr().String(), nil
}

// Start wires and starts everything; Close stops it.
func Start(ctx context.Context, opts Options) (*Env, error) {
	opts.defaults()
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "slipstream-demo-")
		if err != nil {
			return nil, err
		}
		opts.StateDir = dir
	}
	e := &Env{opts: opts, refused: map[string]bool{}}
	ctx, e.cancel = context.WithCancel(ctx)
	e.Bare = filepath.Join(opts.StateDir, "config.git")

	// The broker first: every function sends to it.
	bh := &lateHandler{}
	brokerSrv, brokerURL, err := serve(bh)
	if err != nil {
		return nil, err
	}
	e.servers = append(e.servers, brokerSrv)
	e.Broker = brokerURL
	shared := config.Shared{Port: 8080, LogLevel: "info", LogFormat: "json", Sink: brokerURL, MaxBodyBytes: 1 << 20, RequestTimeout: 30 * time.Second,
		ShutdownGrace: time.Second, SinkRetries: 3, SinkBackoff: 50 * time.Millisecond, SinkTimeout: 5 * time.Second}

	// Simulated Knative, whose changes reach the broker as ApiServerSource
	// events, or a real cluster.
	if opts.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig: %w", err)
		}
		if e.Serving, err = servingclient.NewForConfig(rc); err != nil {
			return nil, err
		}
	} else {
		e.Cluster = sim.NewCluster(opts.ReadyAfter, func(c sim.Change) { e.apiServerEvent(c) })
		e.Serving = e.Cluster.Serving
	}
	kc := kservice.New(e.Serving, 5*time.Second)

	newHost := func(name string) (*host.Host, *host.Sender, error) {
		h, err := host.New(name, shared, opts.Log)
		if err != nil {
			return nil, nil, err
		}
		s, err := h.Sender()
		return h, s, err
	}
	start := func(h *host.Host, fn host.Function) (string, error) {
		srv, url, err := serve(h.Handler(fn))
		if err != nil {
			return "", err
		}
		e.servers = append(e.servers, srv)
		return url, nil
	}

	// The registry notifies intake; intake needs the registry's host first.
	ih, isend, err := newHost(intake.Name)
	if err != nil {
		return nil, err
	}
	var in *intake.Intake
	intakeHandler := &lateHandler{}
	isrv, intakeURL, err := serve(intakeHandler)
	if err != nil {
		return nil, err
	}
	e.servers = append(e.servers, isrv)
	e.Intake = intakeURL
	reg, err := sim.NewRegistry(intakeURL+"/webhooks/distribution", "Bearer "+intakeToken)
	if err != nil {
		return nil, err
	}
	e.Registry = reg.Host
	resolver, _ := registry.New()
	in, err = intake.New(config.Intake{Formats: []string{"distribution"},
		Auth:              map[string]config.WebhookAuth{"distribution": {TokenFile: config.NewSecret([]byte(intakeToken))}},
		AllowedRegistries: []string{reg.Host}, ResolveTimeout: 5 * time.Second, DedupWindow: time.Second}, isend, resolver)
	if err != nil {
		return nil, err
	}
	intakeHandler.set(ih.Handler(in.Function()))

	// The config repository: a local one seeded with the example app, or yours.
	e.Repo = opts.GitURL
	if e.Repo == "" {
		if err := seed(e.Bare, reg.Host, opts.Pause); err != nil {
			return nil, err
		}
		e.Repo = "file://" + e.Bare
	}
	repo, err := gitrepo.New(e.Repo, "main", gitrepo.WithRetries(30, 10*time.Millisecond))
	if err != nil {
		return nil, err
	}
	ph, psend, err := newHost(promote.Name)
	if err != nil {
		return nil, err
	}
	p, _ := promote.New(repo, promote.WithPaths("apps"), promote.WithLive(kc), promote.WithSender(psend))
	if e.Promote, err = start(ph, p.Function()); err != nil {
		return nil, err
	}

	rh, rsend, err := newHost(rollout.Name)
	if err != nil {
		return nil, err
	}
	r, _ := rollout.New(kc, rollout.WithMaxWait(2*time.Second), rollout.WithSender(rsend), rollout.WithNamespaces([]string{namespace}))
	if e.Rollout, err = start(rh, r.Function()); err != nil {
		return nil, err
	}

	bkh, bksend, err := newHost(rollback.Name)
	if err != nil {
		return nil, err
	}
	var matchers policy.Matchers
	_ = matchers.Decode(`severity="critical"`)
	rb, err := rollback.New(config.Rollback{TokenFile: config.NewSecret([]byte(rollbackToken)), NamespaceLabels: []string{"namespace"},
		ServiceLabels: []string{"service_name"}, RevisionLabels: []string{"revision_name"}, DefaultRollbackOn: matchers, APITimeout: 5 * time.Second},
		kc, bksend)
	if err != nil {
		return nil, err
	}
	if e.Rollback, err = start(bkh, rb.Function()); err != nil {
		return nil, err
	}

	// The broker routes with the Trigger objects of infra/.
	urls := map[string]string{"intake": e.Intake, "promote": e.Promote, "rollout": e.Rollout, "rollback": e.Rollback}
	var manifests [][]byte
	files, _ := fs.Glob(infra.Files, "base/*.yaml")
	for _, f := range files {
		b, _ := fs.ReadFile(infra.Files, f)
		manifests = append(manifests, b)
	}
	spec, triggers, err := broker.LoadManifests("default", manifests...)
	if err != nil {
		return nil, err
	}
	e.broker, err = broker.New(spec, triggers, func(ref *duckv1.KReference) (string, error) {
		if u, ok := urls[ref.Name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no local %s %s", ref.Kind, ref.Name)
	}, broker.WithLogger(opts.Log), broker.WithObserver(e.observe))
	if err != nil {
		return nil, err
	}
	bh.set(e.broker)

	if e.Cluster != nil {
		e.Traffic = sim.NewTraffic(e.Cluster, e.Rollback+rollback.Route, "Bearer "+rollbackToken)
		e.loop(ctx, 50*time.Millisecond, func(ctx context.Context) error { return e.Cluster.Reconcile(ctx) })
		e.loop(ctx, 200*time.Millisecond, func(ctx context.Context) error { return e.Traffic.Step(ctx, 200) })
		if opts.GitURL == "" { // the local sync stands in for Argo CD on the local repository
			e.Cluster.MarkBroken(reg.Host + "/team/hello") // the seed names an image nobody has pushed yet
			sync := sim.NewSync(e.Bare, "apps", e.Cluster)
			if _, err := sync.Once(ctx); err != nil {
				return nil, err
			}
			e.loop(ctx, 100*time.Millisecond, func(ctx context.Context) error { _, err := sync.Once(ctx); return err })
		}
	}
	e.loop(ctx, opts.Tick, func(ctx context.Context) error {
		return e.publish(eventing.TypePing, "/apis/v1/namespaces/slipstream/pingsources/tick", "", map[string]any{})
	})
	return e, nil
}

// lateHandler lets a server start before its handler exists.
type lateHandler struct {
	mu sync.RWMutex
	h  http.Handler
}

func (l *lateHandler) set(h http.Handler) { l.mu.Lock(); l.h = h; l.mu.Unlock() }

func (l *lateHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	h := l.h
	l.mu.RUnlock()
	if h == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h.ServeHTTP(w, r)
}

func (e *Env) loop(ctx context.Context, every time.Duration, f func(context.Context) error) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
					e.opts.Log.Warn("local loop", "error", err.Error())
				}
			}
		}
	}()
}

// publish puts an event on the broker, as a Knative source would.
func (e *Env) publish(typ, source, subject string, data any) error {
	ev := cloudevents.NewEvent()
	ev.SetID(fmt.Sprintf("%s-%d", typ, time.Now().UnixNano()))
	ev.SetType(typ)
	ev.SetSource(source)
	if subject != "" {
		ev.SetSubject(subject)
	}
	ev.SetTime(time.Now())
	if err := ev.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return err
	}
	return e.broker.Publish(ev)
}

// apiServerEvent reports a cluster change like an ApiServerSource (Resource mode).
func (e *Env) apiServerEvent(c sim.Change) {
	if e.broker == nil {
		return
	}
	raw, _ := json.Marshal(c.Object)
	var obj map[string]any
	_ = json.Unmarshal(raw, &obj)
	obj["kind"], obj["apiVersion"] = c.Kind, "serving.knative.dev/v1"
	meta, _ := obj["metadata"].(map[string]any)
	_ = e.publish(eventing.TypeAPIServerPrefix+"update", "https://kubernetes.default.svc",
		fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%v/%ss/%v", meta["namespace"], lower(c.Kind), meta["name"]), obj)
}

func lower(s string) string {
	if s == "Service" {
		return "service"
	}
	return "revision"
}

// observe turns broker deliveries into the event log.
func (e *Env) observe(d broker.Delivered) {
	if d.Err != nil || d.Status/100 != 2 {
		return
	}
	typ := d.Event.Type()
	if typ == eventing.TypePing || len(typ) > len(eventing.TypeAPIServerPrefix) && typ[:len(eventing.TypeAPIServerPrefix)] == eventing.TypeAPIServerPrefix {
		return
	}
	short := typ[len("dev.slipstream.") : len(typ)-len(".v1")]
	switch {
	case d.Reply != nil:
		e.note("%-19s → %-8s replied %s", short, d.Trigger, d.Reply.Type()[len("dev.slipstream."):len(d.Reply.Type())-len(".v1")])
	case d.Status == 200:
		e.note("%-19s → %-8s acknowledged, nothing to do", short, d.Trigger)
		if typ == eventing.TypeImagePushed {
			if dg, ok := d.Event.Extensions()[eventing.ExtDigest].(string); ok {
				e.mu.Lock()
				e.refused[dg] = true
				e.mu.Unlock()
			}
		}
	default:
		e.note("%-19s → %-8s handled", short, d.Trigger)
	}
}

// seed makes the bare config repository with the example app.
func seed(bare, registryHost string, pause time.Duration) error {
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}}); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "slipstream-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo, err := git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		return err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{bare}}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(work, "apps", service), 0o755); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`# The demo app: slipstream manages it through these annotations.
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    slipstream.dev/track: "semver:^1.0.0"   # take every 1.x push
    slipstream.dev/steps: "10,25,50,100"
    slipstream.dev/pause: "%s"              # short for the demo; minutes in real life
    slipstream.dev/bake: "30s"
    slipstream.dev/rollback-on: 'severity="critical"'
spec:
  template:
    spec:
      containers:
        - image: %s/team/hello   # slipstream pins it by digest on the first push
`, service, namespace, pause, registryHost)
	if err := os.WriteFile(filepath.Join(work, "apps", service, "service.yaml"), []byte(manifest), 0o644); err != nil {
		return err
	}
	wt, _ := repo.Worktree()
	if _, err := wt.Add("apps"); err != nil {
		return err
	}
	sig := &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}
	if _, err := wt.Commit("add the hello app", &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		return err
	}
	return repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"}})
}

// Close stops everything.
func (e *Env) Close() {
	e.cancel()
	e.wg.Wait()
	if e.broker != nil {
		e.broker.Close()
	}
	for _, s := range e.servers {
		s.Close()
	}
}
