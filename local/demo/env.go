package demo

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
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
	"github.com/slipstream-cd/slipstream/internal/webview"
	"github.com/slipstream-cd/slipstream/local/broker"
	"github.com/slipstream-cd/slipstream/local/issuer"
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
	// MaxWait is how long rollout may wait within one request for a pause
	// that ends soon (SLIPSTREAM_ROLLOUT_MAX_WAIT). Default 2s.
	MaxWait time.Duration
	// Log receives the functions' logs. Default: discarded.
	Log *slog.Logger
	// GitURL is a real config repository for promote instead of the local
	// bare one (credentials from the URL's user, or none). Default: local.
	GitURL string
	// Kubeconfig points at a real cluster with Knative instead of the
	// simulated one; the simulated sync, traffic and alerts are then off.
	Kubeconfig string
	// Ports is the first of PortCount fixed loopback ports, in the order of
	// PortNames, so the addresses stay the same from run to run. Default 0:
	// free ports, new each run.
	Ports int

	// listen opens each server's socket; tests watch it. Default: a free
	// port on 127.0.0.1.
	listen func() (net.Listener, error)
}

func (o *Options) defaults() {
	if o.Pause == 0 {
		o.Pause = time.Second
	}
	if o.MaxWait == 0 {
		o.MaxWait = 2 * time.Second
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
	if o.listen == nil && o.Ports > 0 {
		next := o.Ports
		o.listen = func() (net.Listener, error) {
			port := next
			next++
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return nil, fmt.Errorf("port %d (of %d–%d: %s): %w", port, o.Ports, o.Ports+PortCount-1, strings.Join(PortNames, ", "), err)
			}
			return ln, nil
		}
	}
	if o.listen == nil {
		o.listen = func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
	}
}

// PortNames are the local servers in the order they take their ports.
var PortNames = []string{"broker", "token issuer", "intake", "registry", "promote", "rollout", "rollback", "dashboard", "kube api"}

// PortCount is how many ports Options.Ports takes from its first.
var PortCount = len(PortNames)

// CheckPorts says what is wrong with a first port for Options.Ports.
func CheckPorts(first int) error {
	if first != 0 && (first < 1024 || first > 65535-PortCount+1) {
		return fmt.Errorf("%d: the first of %d ports must be between 1024 and %d (or 0 for free ports)", first, PortCount, 65535-PortCount+1)
	}
	return nil
}

const (
	intakeToken   = "demo-intake-token"
	rollbackToken = "demo-alertmanager-token"
	namespace     = Namespace
	service       = Service
	// dedupWindow is how long the demo's intake remembers a sent push.
	dedupWindow = time.Second
)

// Env is a running local pipeline.
type Env struct {
	// Addresses of everything, for people.
	Broker, Intake, Promote, Rollout, Rollback, Registry, Repo string
	// Dashboard is the live web view of the rollouts (internal/webview).
	Dashboard string
	// Kubeconfig points slipstream's commands (status, dashboard, the
	// steering commands) at the simulated cluster's Services; "" with a real
	// cluster.
	Kubeconfig string

	// Cluster and Traffic are nil with a real cluster.
	Cluster *sim.Cluster
	Traffic *sim.Traffic
	Bare    string
	// Serving is the Knative client the functions use (simulated or real).
	Serving servingclient.Interface

	opts     Options
	shared   config.Shared     // the functions' shared settings
	services *kservice.Client  // the functions' Knative adapter
	intake   *host.LateHandler // intake's server, which starts before the registry it needs
	clock    *clock            // intake's clock, which the story moves on
	broker   *broker.Broker    // nil until the Triggers are loaded
	ingress  *host.LateHandler // the broker's server, which starts first
	issuer   *issuer.Issuer    // signs the broker's deliveries, which promote and rollout verify
	// triggers and spec are infra/'s Triggers and Broker; subscribers what
	// each function verifies of their deliveries.
	triggers    []eventingv1.Trigger
	spec        eventingv1.BrokerSpec
	subscribers map[string]broker.Subscriber
	registry    *sim.Registry  // nil with a real registry
	tempDir     string         // the state folder Start made, removed by Close
	servers     []*http.Server // every server started, closed by Close
	sockets     []net.Listener // their sockets
	cancel      context.CancelFunc
	wg          sync.WaitGroup

	mu        sync.Mutex
	log       []Line
	listeners []func(Line)
	refused   map[string]bool // digests of image.pushed events promote acknowledged without acting
	told      map[string]bool // event IDs and lines the log has told (observe)
}

// Namespace and Service name the demo's app.
const (
	Namespace = "demo"
	Service   = "hello"
)

// Push pushes a new image of the demo's app to the local registry, tagged
// tag, and returns its digest: the registry then notifies intake.
func (e *Env) Push(tag string) (string, error) {
	return push(e.Registry+"/team/"+service, tag)
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

// Start wires and starts everything, one step after another; Close stops it.
// When a step fails, everything already started is stopped and the error
// names the step.
func Start(ctx context.Context, opts Options) (_ *Env, err error) {
	opts.defaults()
	e := &Env{opts: opts, refused: map[string]bool{}, told: map[string]bool{}, clock: &clock{}}
	ctx, e.cancel = context.WithCancel(ctx)
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	steps := []struct {
		name string
		run  func(context.Context) error
	}{
		{"the broker's ingress", e.startIngress},
		{"the cluster", e.connectCluster},
		{"intake and the registry", e.startIntake},
		{"the config repository and promote", e.startPromote},
		{"rollout", e.startRollout},
		{"rollback", e.startRollback},
		{"the broker's Triggers", e.routeTriggers},
		{"the simulated cluster, sync and traffic", e.startSimulation},
		{"the PingSource", e.startTicks},
		{"the dashboard", e.startDashboard},
		{"the Kubernetes API of the simulated cluster", e.startKubeAPI},
	}
	for _, s := range steps {
		if err := s.run(ctx); err != nil {
			return nil, fmt.Errorf("starting %s: %w", s.name, err)
		}
	}
	return e, nil
}

// serve starts a server for h on a new loopback port and returns its URL.
func (e *Env) serve(h http.Handler) (string, error) {
	ln, err := e.opts.listen()
	if err != nil {
		return "", err
	}
	return e.serveOn(ln, h), nil
}

// startDashboard serves the live web view of the pipeline's rollouts: the
// Services as the functions see them, the local config repository's commits.
func (e *Env) startDashboard(ctx context.Context) error {
	ln, err := e.opts.listen()
	if err != nil {
		return err
	}
	src := webview.Source{Where: "slipstream dev", Services: webview.Services(e.Serving, metav1.NamespaceAll)}
	if e.Bare != "" {
		src.Commits = webview.GitCommits(e.Bare, "")
	}
	view, err := webview.NewServer(src, 250*time.Millisecond, time.Now, e.opts.Log, webview.HostsFor(ln.Addr())...)
	if err != nil {
		ln.Close()
		return err
	}
	e.Dashboard = e.serveOn(ln, view)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		view.Run(ctx)
	}()
	return nil
}

// startKubeAPI serves the simulated cluster's Services as the Kubernetes
// API does, for slipstream's own commands, and writes their kubeconfig
// into the state folder.
func (e *Env) startKubeAPI(context.Context) error {
	if e.Cluster == nil {
		return nil // a real cluster: its own kubeconfig
	}
	token, err := newToken()
	if err != nil {
		return err
	}
	cert, ca, err := selfSigned()
	if err != nil {
		return err
	}
	ln, err := e.opts.listen()
	if err != nil {
		return err
	}
	e.serveOn(tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), &kubeAPI{serving: e.Serving, token: token})
	e.Kubeconfig, err = writeKubeconfig(e.opts.StateDir, "https://"+ln.Addr().String(), ca, token)
	return err
}

// serveOn serves h on ln and returns its URL.
func (e *Env) serveOn(ln net.Listener, h http.Handler) string {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	e.servers = append(e.servers, srv)
	e.sockets = append(e.sockets, ln) // closed by Close even if Serve has not started yet
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			e.opts.Log.Error("local server stopped", "address", ln.Addr().String(), "error", err.Error())
		}
	}()
	return "http://" + ln.Addr().String()
}

// startIngress starts the broker's server first, since every function
// sends to it, and the local token issuer, whose tokens the broker's
// deliveries carry, as Knative Eventing's OIDC delivery does in a cluster.
func (e *Env) startIngress(context.Context) error {
	e.ingress = &host.LateHandler{}
	url, err := e.serve(e.ingress)
	if err != nil {
		return err
	}
	e.Broker = url
	if e.spec, e.triggers, err = infraTriggers(); err != nil {
		return err
	}
	if e.subscribers, err = broker.Subscribers(e.triggers); err != nil {
		return err
	}
	issuing := &host.LateHandler{}
	issuerURL, err := e.serve(issuing)
	if err != nil {
		return err
	}
	if e.issuer, err = issuer.New(issuerURL, time.Now); err != nil {
		return err
	}
	issuing.Set(e.issuer.Handler())
	e.shared = config.Shared{Port: 8080, LogLevel: "info", LogFormat: "json", Sink: url, MaxBodyBytes: 1 << 20, RequestTimeout: 30 * time.Second,
		ShutdownGrace: time.Second, SinkRetries: 3, SinkBackoff: 50 * time.Millisecond, SinkTimeout: 5 * time.Second,
		ReadTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxInFlight: 64, OidcIssuer: issuerURL, KubeQPS: 50, KubeBurst: 100}
	return nil
}

// infraTriggers reads the Broker and Trigger objects of infra/base.
func infraTriggers() (eventingv1.BrokerSpec, []eventingv1.Trigger, error) {
	manifests, err := infra.Base()
	if err != nil {
		return eventingv1.BrokerSpec{}, nil, err
	}
	return broker.LoadManifests("default", manifests...)
}

// connectCluster starts the simulated Knative, whose changes reach the
// broker as ApiServerSource events, or connects to a real cluster.
func (e *Env) connectCluster(context.Context) error {
	if e.opts.Kubeconfig != "" {
		rc, err := clientcmd.BuildConfigFromFlags("", e.opts.Kubeconfig)
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
		if e.Serving, err = servingclient.NewForConfig(rc); err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
	} else {
		e.Cluster = sim.NewCluster(e.opts.ReadyAfter, e.apiServerEvent)
		e.Serving = e.Cluster.Serving
	}
	e.services = kservice.New(e.Serving, 5*time.Second)
	return nil
}

// function builds one function on its own host, sending to the broker, and
// returns the handler that serves it. A function the Triggers deliver to
// verifies their tokens: the audience and identities infra/ gives them.
func (e *Env) function(name string, build func(send *host.Sender) (host.Function, error)) (http.Handler, error) {
	s := e.shared
	if sub, ok := e.subscribers[name]; ok {
		s.OidcAudience, s.OidcSubjects = sub.Audience, sub.Subjects
	}
	log := slog.New(why{next: e.opts.Log.Handler(), function: name, note: func(fn, reason string) {
		if fn == rollout.Name {
			return // its refusals are of its own plumbing (an event before the sync); its reasons are in the state
		}
		reason = strings.TrimPrefix(reason, host.ErrRefused.Error()+": ")
		e.note("%-8s did not take it: %s", fn, strings.TrimPrefix(reason, "nothing to change: "))
	}})
	h, err := host.New(name, s, log)
	if err != nil {
		return nil, err
	}
	send, err := h.Sender()
	if err != nil {
		return nil, err
	}
	fn, err := build(send)
	if err != nil {
		return nil, err
	}
	if err := h.CheckDeliveries(fn); err != nil {
		return nil, err
	}
	return h.Handler(fn), nil
}

// start builds one function and serves it on a new port.
func (e *Env) start(name string, build func(send *host.Sender) (host.Function, error)) (string, error) {
	h, err := e.function(name, build)
	if err != nil {
		return "", err
	}
	return e.serve(h)
}

// startIntake starts intake's server, then the registry that notifies it,
// then intake itself, which needs the registry's host in its allowlist.
func (e *Env) startIntake(context.Context) error {
	e.intake = &host.LateHandler{}
	url, err := e.serve(e.intake)
	if err != nil {
		return err
	}
	e.Intake = url
	ln, err := e.opts.listen()
	if err != nil {
		return err
	}
	if e.registry, err = sim.NewRegistry(ln, url+"/webhooks/distribution", "Bearer "+intakeToken); err != nil {
		return err
	}
	e.Registry = e.registry.Host
	resolver, err := registry.New()
	if err != nil {
		return err
	}
	cfg := config.Intake{Formats: []string{"distribution"},
		Auth:              map[string]config.WebhookAuth{"distribution": {TokenFile: config.NewSecret([]byte(intakeToken))}},
		AllowedRegistries: []string{e.Registry}, ResolveTimeout: 5 * time.Second, DedupWindow: dedupWindow, DedupMax: 10000}
	h, err := e.function(intake.Name, func(send *host.Sender) (host.Function, error) {
		in, err := intake.New(cfg, send, resolver, intake.WithClock(e.clock.Now))
		if err != nil {
			return host.Function{}, err
		}
		return in.Function(), nil
	})
	if err != nil {
		return err
	}
	e.intake.Set(h)
	return nil
}

// startPromote seeds the local config repository with the example app (or
// takes yours) and starts promote on it.
func (e *Env) startPromote(context.Context) error {
	if e.opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "slipstream-demo-")
		if err != nil {
			return err
		}
		e.opts.StateDir, e.tempDir = dir, dir
	}
	e.Bare = filepath.Join(e.opts.StateDir, "config.git")
	e.Repo = e.opts.GitURL
	if _, err := os.Stat(e.Bare); e.Repo == "" && err == nil {
		// The cluster, registry and ports of that run are gone with it: its
		// commits name images and addresses this run does not have.
		return fmt.Errorf("%s holds the config repository of an earlier run, which cannot be resumed: "+
			"pass a new or empty folder as the state, or remove %s", e.opts.StateDir, e.Bare)
	}
	if e.Repo == "" {
		if err := seed(e.Bare, e.Registry, e.opts.Pause); err != nil {
			return fmt.Errorf("seeding %s: %w", e.Bare, err)
		}
		e.Repo = "file://" + e.Bare
	}
	repo, err := gitrepo.New(e.Repo, "main", gitrepo.WithRetries(30, 10*time.Millisecond))
	if err != nil {
		return err
	}
	e.Promote, err = e.start(promote.Name, func(send *host.Sender) (host.Function, error) {
		p, err := promote.New(repo, promote.WithPaths("apps"), promote.WithLive(e.services), promote.WithSender(send))
		if err != nil {
			return host.Function{}, err
		}
		return p.Function(), nil
	})
	return err
}

func (e *Env) startRollout(context.Context) (err error) {
	e.Rollout, err = e.start(rollout.Name, func(send *host.Sender) (host.Function, error) {
		r, err := rollout.New(e.services, rollout.WithMaxWait(e.opts.MaxWait), rollout.WithSender(send), rollout.WithNamespaces([]string{namespace}))
		if err != nil {
			return host.Function{}, err
		}
		return r.Function(), nil
	})
	return err
}

// rollbackConfig is rollback's settings in the local pipeline: the
// cluster's defaults (the alert labels docs/alerts.md names: an alert
// written for a cluster works here too), the local token, and a longer
// API time limit for a busy laptop.
func rollbackConfig() (config.Rollback, error) {
	matchers, err := policy.ParseMatchers(`severity="critical"`)
	if err != nil {
		return config.Rollback{}, err
	}
	return config.Rollback{TokenFile: config.NewSecret([]byte(rollbackToken)), NamespaceLabels: []string{"namespace", "namespace_name"},
		ServiceLabels: []string{"service_name", "knative_service", "service"}, RevisionLabels: []string{"revision_name", "revision"},
		DefaultRollbackOn: matchers, APITimeout: 5 * time.Second, Concurrency: 16}, nil
}

func (e *Env) startRollback(context.Context) (err error) {
	cfg, err := rollbackConfig()
	if err != nil {
		return err
	}
	e.Rollback, err = e.start(rollback.Name, func(send *host.Sender) (host.Function, error) {
		rb, err := rollback.New(cfg, e.services, send)
		if err != nil {
			return host.Function{}, err
		}
		return rb.Function(), nil
	})
	return err
}

// routeTriggers makes the broker route with the Broker and Trigger objects
// of infra/, to the functions started here.
func (e *Env) routeTriggers(context.Context) error {
	urls := map[string]string{intake.Name: e.Intake, promote.Name: e.Promote, rollout.Name: e.Rollout, rollback.Name: e.Rollback}
	mint := func(_ context.Context, subject, audience string) (string, error) {
		return e.issuer.Mint(subject, audience, 10*time.Minute)
	}
	b, err := broker.New(e.spec, e.triggers, func(ref *duckv1.KReference) (string, error) {
		if u, ok := urls[ref.Name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no local %s %s", ref.Kind, ref.Name)
	}, broker.WithLogger(e.opts.Log), broker.WithObserver(e.observe), broker.WithTokens(mint))
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.broker = b
	e.mu.Unlock()
	e.ingress.Set(b)
	return nil
}

// startSimulation runs the simulated cluster's reconciler, the traffic
// that fires alerts and, on the local repository, the sync loop standing in
// for Argo CD. Nothing of it runs against a real cluster.
func (e *Env) startSimulation(ctx context.Context) error {
	if e.Cluster == nil {
		return nil
	}
	e.Traffic = sim.NewTraffic(e.Cluster, e.Rollback+rollback.Route, "Bearer "+rollbackToken)
	e.loop(ctx, 50*time.Millisecond, e.Cluster.Reconcile)
	e.loop(ctx, 200*time.Millisecond, func(ctx context.Context) error { return e.Traffic.Step(ctx, 200) })
	if e.opts.GitURL != "" {
		return nil
	}
	e.Cluster.MarkBroken(e.Registry + "/team/hello") // the seed names an image nobody has pushed yet
	sync := sim.NewSync(e.Bare, "apps", e.Cluster)
	// Argo CD as docs/gitops.md sets it up for the git writer.
	sync.Ignore, sync.ApplyOutOfSyncOnly = []string{"/spec/traffic"}, true
	if _, err := sync.Once(ctx); err != nil {
		return err
	}
	e.loop(ctx, 100*time.Millisecond, func(ctx context.Context) error { _, err := sync.Once(ctx); return err })
	return nil
}

// startTicks stands in for the PingSource that wakes rollout.
func (e *Env) startTicks(ctx context.Context) error {
	e.loop(ctx, e.opts.Tick, func(ctx context.Context) error {
		return e.publish(eventing.TypePing, "/apis/v1/namespaces/slipstream/pingsources/tick", "", map[string]any{})
	})
	return nil
}

// clock is intake's clock: real time, moved on when the story means
// "later" — a second push of the same image is then a new push, not a
// registry's retry that intake's dedup window absorbs.
type clock struct {
	mu   sync.Mutex
	skew time.Duration
}

// Now is the real time plus every Advance so far.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.skew)
}

// Advance moves the clock on by d.
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.skew += d
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
	e.mu.Lock()
	b := e.broker
	e.mu.Unlock()
	if b == nil {
		return errors.New("the broker is not routing yet")
	}
	return b.Emit(typ, source, subject, data)
}

// apiServerEvent reports a cluster change like an ApiServerSource (Resource
// mode). Changes before the broker routes are not reported: nothing
// subscribes yet.
func (e *Env) apiServerEvent(c sim.Change) {
	e.mu.Lock()
	routing := e.broker != nil
	e.mu.Unlock()
	if !routing {
		return
	}
	raw, err := json.Marshal(c.Object)
	var obj map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &obj)
	}
	if err != nil {
		e.opts.Log.Warn("local ApiServerSource", "kind", c.Kind, "error", err.Error())
		return
	}
	obj["kind"], obj["apiVersion"] = c.Kind, "serving.knative.dev/v1"
	meta, _ := obj["metadata"].(map[string]any)
	subject := fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%v/%ss/%v", meta["namespace"], strings.ToLower(c.Kind), meta["name"])
	if err := e.publish(eventing.TypeAPIServerPrefix+"update", "https://kubernetes.default.svc", subject, obj); err != nil {
		e.opts.Log.Warn("local ApiServerSource", "subject", subject, "error", err.Error())
	}
}

// observe turns broker deliveries into the event log, told as a person
// tells it (narrate): each event once, when a function took it, and a
// line the log already holds since the last push is not repeated (rollout
// tells a step again after each commit of it).
func (e *Env) observe(d broker.Delivered) {
	if d.Err != nil || d.Status/100 != 2 {
		return
	}
	if d.Status == http.StatusOK && d.Reply == nil && d.Event.Type() == eventing.TypeImagePushed {
		// promote did not take the push: its reason is in the log (why).
		if dg, ok := d.Event.Extensions()[eventing.ExtDigest].(string); ok {
			e.mu.Lock()
			e.refused[dg] = true
			e.mu.Unlock()
		}
	}
	line, ok := narrate(d.Event)
	if !ok {
		return
	}
	// A line is told once per chapter, whatever its commit: the git writer
	// commits a step, then when it went live — one step to a person.
	key, _, _ := strings.Cut(line, " (commit ")
	if c, ok := eventing.Decode[eventing.ManifestCommitted](d.Event); ok == nil && c.CauseType == eventing.TypeTrafficShifted {
		key = "recorded " + c.CauseID // each step's record, once
		e.mu.Lock()
		step := e.told["step of "+c.CauseID]
		e.mu.Unlock()
		if !step {
			return // the step it records was not told (a repeat of one that was)
		}
	}
	e.mu.Lock()
	if e.told[d.Event.ID()] || e.told[key] {
		e.mu.Unlock()
		return
	}
	e.told[d.Event.ID()], e.told[key] = true, true
	if d.Event.Type() == eventing.TypeTrafficShifted {
		e.told["step of "+d.Event.ID()] = true
	}
	e.mu.Unlock()
	e.note("%s", line)
}

// chapter starts a part of the story: a line, after which what was told
// before may be told again.
func (e *Env) chapter(format string, args ...any) {
	e.mu.Lock()
	e.told = map[string]bool{}
	e.mu.Unlock()
	e.note(format, args...)
}

// Close stops everything that was started, in reverse: the loops, the
// broker (waiting for deliveries in flight), the registry and the servers.
func (e *Env) Close() {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	e.mu.Lock()
	b := e.broker
	e.mu.Unlock()
	if b != nil {
		b.Close()
	}
	if e.registry != nil {
		e.registry.Close()
	}
	for _, s := range e.servers {
		s.Close()
	}
	for _, ln := range e.sockets {
		ln.Close() // already closed by its server, unless Serve had not started
	}
	if e.tempDir != "" { // a folder of its own (no state folder given): nothing in it outlives the run
		os.RemoveAll(e.tempDir)
	}
}
