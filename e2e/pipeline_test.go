//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/infra"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/broker"
	"github.com/slipstream-cd/slipstream/local/sim"
)

// binDir holds the binary under test; TestMain removes it.
var binDir string

// slipstreamBin is the binary under test, built once per run.
var slipstreamBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "slipstream-e2e-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "slipstream")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/slipstream")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building slipstream: %v\n%s", err, out)
	}
	return bin, nil
})

// GitOps modes: how the sync loop applies, as the tools do.
const (
	argoCD = "argocd" // kubectl's client-side apply, ignoreDifferences on traffic, ApplyOutOfSyncOnly
	flux   = "flux"   // server-side apply as kustomize-controller, forced, no ignore list
)

// pipeline is slipstream's four functions as processes, wired like infra/
// says, around a real cluster: a real registry notifying intake, promote
// committing to git http-backend, a GitOps loop applying Git to the
// cluster, the embedded broker routing with infra/'s Triggers, and
// stand-ins for the ApiServerSource and the PingSource.
type pipeline struct {
	t       *testing.T
	c       *cluster.Cluster
	ns      string
	service string // the app's Knative Service

	dir      string
	bare     string // the config repository, served over HTTP
	registry string // host:port of the registry
	ingress  string // the broker's ingress URL (K_SINK)
	broker   *broker.Broker
	// subscribers is what each function the Triggers deliver to verifies;
	// sinkTokens the file each function's SinkBinding token is in.
	subscribers map[string]broker.Subscriber
	sinkTokens  map[string]string
	fns         map[string]*cluster.Proc
	env         map[string][]string // each function's environment, without PORT
	urls        map[string]string
	gitDown     atomic.Bool // the Git server answers 503 while set

	mu         sync.Mutex
	syncErrors []error            // what the GitOps tool could not apply
	delivered  []broker.Delivered // every delivery the broker made
	ingressed  []string           // the subject of every event sent to the broker's ingress
}

// Delivered is every delivery the broker made so far.
func (p *pipeline) Delivered() []broker.Delivered {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]broker.Delivered(nil), p.delivered...)
}

// Secrets the peers share.
const (
	registryToken = "e2e-registry-token"
	alertToken    = "e2e-alertmanager-token"
	gitPassword   = "e2e-git-password"
	service       = "hello"
)

// functions are slipstream's functions, each with its infra/ ServiceAccount.
var functions = []string{"intake", "promote", "rollout", "rollback"}

// options shape one pipeline.
type options struct {
	// mode is how the GitOps loop applies: argoCD or flux.
	mode string
	// pause is the app's slipstream.dev/pause. Default 1s.
	pause string
	// service is the app's name. Default hello.
	service string
	// duplicate makes every registry notification reach intake twice, as
	// a registry retrying after a timeout sends it again.
	duplicate bool
	// extra are settings added to a function's environment.
	extra map[string][]string
}

// startPipeline wires everything for one test in namespace ns.
func startPipeline(t *testing.T, c *cluster.Cluster, ns string, o options) *pipeline {
	t.Helper()
	if o.pause == "" {
		o.pause = "1s"
	}
	if o.service == "" {
		o.service = service
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, err := slipstreamBin()
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline{t: t, c: c, ns: ns, service: o.service, dir: t.TempDir(), fns: map[string]*cluster.Proc{}, urls: map[string]string{}, env: map[string][]string{}}
	p.installInfra(ctx)

	ports, err := cluster.FreePorts(len(functions) + 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range functions {
		p.urls[f] = "http://" + cluster.Addr(ports[i])
	}
	p.registry = cluster.Addr(ports[len(functions)])
	p.startRegistry(o.duplicate)
	gitURL := p.startGit(o.pause)
	brokerURL := p.startBroker()
	p.ingress = brokerURL

	secret := func(name, value string) string {
		path := filepath.Join(p.dir, name)
		if err := os.WriteFile(path, []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	settings := map[string][]string{
		"intake": {"SLIPSTREAM_INTAKE_FORMATS=distribution", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES=" + p.registry,
			"SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE=" + secret("registry-token", registryToken)},
		"promote": {"SLIPSTREAM_PROMOTE_GIT_URL=" + gitURL, "SLIPSTREAM_PROMOTE_GIT_USERNAME=slipstream",
			"SLIPSTREAM_PROMOTE_GIT_PASSWORD_FILE=" + secret("git-password", gitPassword), "SLIPSTREAM_PROMOTE_PATHS=apps",
			"SLIPSTREAM_PROMOTE_GIT_TIMEOUT=5s"},
		"rollout":  {"SLIPSTREAM_ROLLOUT_NAMESPACES=" + ns, "SLIPSTREAM_ROLLOUT_MAX_WAIT=3s"},
		"rollback": {"SLIPSTREAM_ROLLBACK_TOKEN_FILE=" + secret("alert-token", alertToken)},
	}
	for i, f := range functions {
		env := append([]string{fmt.Sprintf("PORT=%d", ports[i]), "K_SINK=" + brokerURL, "SLIPSTREAM_SHUTDOWN_GRACE=1s", "SLIPSTREAM_DRAIN_DELAY=0s", "SLIPSTREAM_LOG_LEVEL=debug",
			"SLIPSTREAM_SINK_TOKEN_FILE=" + p.sinkTokens[f]}, settings[f]...)
		if f != "intake" {
			// Each function reads the cluster as its own ServiceAccount, with a
			// token the TokenRequest API minted, as a pod's projected token.
			token, err := c.Token(ctx, "slipstream", f, time.Hour)
			if err != nil {
				t.Fatalf("token for %s: %v", f, err)
			}
			kc, err := c.WriteKubeconfig(f, token)
			if err != nil {
				t.Fatal(err)
			}
			env = append(env, "SLIPSTREAM_"+strings.ToUpper(f)+"_KUBECONFIG="+kc)
			if sub, ok := p.subscribers[f]; ok {
				// The broker's deliveries: verified with the issuer discovered
				// from the cluster (as in a pod, here with the function's own
				// credentials), for the audience and identities of infra/'s Triggers.
				env = append(env, "KUBECONFIG="+kc, "SLIPSTREAM_OIDC_AUDIENCE="+sub.Audience, "SLIPSTREAM_OIDC_SUBJECTS="+strings.Join(sub.Subjects, ","))
			}
		}
		env = append(env, o.extra[f]...)
		p.env[f] = env[1:]
		proc, err := cluster.StartProc(p.dir, f, bin, []string{"serve", f}, env)
		if err != nil {
			t.Fatal(err)
		}
		p.fns[f] = proc
		t.Cleanup(func() { proc.Stop(5 * time.Second) })
	}
	for _, f := range functions {
		p.waitReady(ctx, f)
	}
	loops, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	for _, loop := range []func(context.Context){p.apiServerSource, p.pingSource, p.gitops(o.mode)} {
		wg.Add(1)
		go func() { defer wg.Done(); loop(loops) }()
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, f := range functions {
				t.Logf("--- %s, last 25 lines:\n%s", f, p.fns[f].Tail(25))
			}
			keepLogs(t, p.dir)
		}
	})
	return p
}

// installInfra applies infra/'s namespace and RBAC (the managed namespace's
// bindings for ns) and mints nothing: tokens come per function.
func (p *pipeline) installInfra(ctx context.Context) {
	p.t.Helper()
	var manifests []byte
	for _, f := range []string{"base/namespace.yaml", "base/rbac.yaml", "base/managed-namespace.yaml"} {
		b, err := fs.ReadFile(infra.Files, f)
		if err != nil {
			p.t.Fatal(err)
		}
		if f == "base/managed-namespace.yaml" {
			b = bytes.ReplaceAll(b, []byte("namespace: demo"), []byte("namespace: "+p.ns))
			b = bytes.ReplaceAll(b, []byte("name: demo"), []byte("name: "+p.ns))
		}
		manifests = append(append(manifests, b...), []byte("\n---\n")...)
	}
	if err := p.c.ApplyYAML(ctx, manifests, false); err != nil {
		p.t.Fatalf("applying infra/: %v", err)
	}
	// The rollback guard policy, at the beta version Kubernetes 1.29 serves.
	policy, err := os.ReadFile(filepath.Join(root, "infra", "policy", "rollback-sticks.yaml"))
	if err != nil {
		p.t.Fatal(err)
	}
	policy = bytes.ReplaceAll(policy, []byte("apiVersion: admissionregistration.k8s.io/v1\n"), []byte("apiVersion: admissionregistration.k8s.io/v1beta1\n"))
	if err := p.c.ApplyYAML(ctx, policy, false); err != nil {
		p.t.Fatalf("applying infra/policy: %v", err)
	}
	// kube-controller-manager makes each namespace's default ServiceAccount,
	// which the pods of Knative's Deployments need.
	waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cluster.Until(waitCtx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		_, err := p.c.Kube.CoreV1().ServiceAccounts(p.ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		p.t.Fatalf("no default ServiceAccount in %s: %v", p.ns, err)
	}
}

// waitReady waits for a function's /readyz.
func (p *pipeline) waitReady(ctx context.Context, f string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cluster.Until(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		if done, err := p.fns[f].Exited(); done {
			return false, cluster.Permanent(fmt.Errorf("%s exited: %v\n%s", f, err, p.fns[f].Tail(20)))
		}
		resp, err := http.Get(p.urls[f] + "/readyz")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		p.t.Fatalf("%s never ready: %v", f, err)
	}
}

// startRegistry runs the CNCF Distribution registry, notifying intake
// (each notification twice when duplicate).
func (p *pipeline) startRegistry(duplicate bool) {
	p.t.Helper()
	notify := p.urls["intake"] + "/webhooks/distribution"
	if duplicate {
		to := notify
		twice := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var status int
			for range 2 {
				req, _ := http.NewRequest(http.MethodPost, to, bytes.NewReader(body))
				req.Header = r.Header.Clone()
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadGateway)
					return
				}
				resp.Body.Close()
				status = resp.StatusCode
			}
			w.WriteHeader(status)
		}))
		p.t.Cleanup(twice.Close)
		notify = twice.URL
	}
	config := fmt.Sprintf(`version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
  secret: e2e
notifications:
  endpoints:
    - name: slipstream-intake
      url: %s
      headers: {Authorization: [Bearer %s]}
      timeout: 2s
      threshold: 3
      backoff: 200ms
`, filepath.Join(p.dir, "registry"), p.registry, notify, registryToken)
	path := filepath.Join(p.dir, "registry.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		p.t.Fatal(err)
	}
	proc, err := cluster.StartProc(p.dir, "registry", p.bin("registry"), []string{"serve", path}, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.t.Cleanup(func() { proc.Stop(5 * time.Second) })
	p.fns["registry"] = proc
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cluster.Until(ctx, 50*time.Millisecond, func(ctx context.Context) (bool, error) {
		resp, err := http.Get("http://" + p.registry + "/v2/")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	}); err != nil {
		p.t.Fatalf("registry never answered: %v\n%s", err, proc.Tail(20))
	}
}

// bin is a peer binary from the cache.
func (p *pipeline) bin(name string) string {
	p.t.Helper()
	path, err := peersBin(name)
	if err != nil {
		p.t.Fatal(err)
	}
	return path
}

// startGit seeds the config repository with the app and serves it with
// git http-backend, behind basic auth; it returns the clone URL.
func (p *pipeline) startGit(pause string) string {
	p.t.Helper()
	manifest := fmt.Sprintf(`# The app: slipstream manages it through these annotations.
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    slipstream.dev/track: "semver:^1.0.0"
    slipstream.dev/steps: "10,25,50,100"
    slipstream.dev/pause: "%s"
    slipstream.dev/rollback-on: 'severity="critical"'
spec:
  template:
    spec:
      containers:
        - image: %s/team/hello   # slipstream pins it by digest on the first push
`, p.service, p.ns, pause, p.registry)
	_, bare := testutil.NewGitRepo(p.t, map[string]string{p.file(): manifest})
	p.bare = bare
	backend, err := testutil.GitHTTPBackend(filepath.Dir(bare), "slipstream")
	if err != nil {
		p.t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.gitDown.Load() {
			http.Error(w, "git server down", http.StatusServiceUnavailable)
			return
		}
		if user, pass, ok := r.BasicAuth(); !ok || user != "slipstream" || pass != gitPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	p.t.Cleanup(srv.Close)
	return srv.URL + "/" + filepath.Base(bare)
}

// startBroker routes with infra/'s Broker and Triggers to the functions.
func (p *pipeline) startBroker() string {
	p.t.Helper()
	ctx := context.Background()
	manifests, err := infra.Base()
	if err != nil {
		p.t.Fatal(err)
	}
	spec, triggers, err := broker.LoadManifests("default", manifests...)
	if err != nil {
		p.t.Fatal(err)
	}
	if p.subscribers, err = broker.Subscribers(triggers); err != nil {
		p.t.Fatal(err)
	}
	// Knative Eventing's OIDC identities, as its reconcilers make them: a
	// ServiceAccount per Trigger (the broker mints each delivery's token
	// for it) and one for the SinkBinding (whose token the functions send
	// to the broker with).
	identities := []string{sinkBindingIdentity}
	for _, tr := range triggers {
		identities = append(identities, broker.Identity(tr))
	}
	var accounts []byte
	for _, id := range identities {
		ns, name, err := splitSubject(id)
		if err != nil {
			p.t.Fatal(err)
		}
		accounts = append(accounts, fmt.Sprintf("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, namespace: %s}\n---\n", name, ns)...)
	}
	if err := p.c.ApplyYAML(ctx, accounts, false); err != nil {
		p.t.Fatalf("the OIDC identities: %v", err)
	}
	tokens := &tokenCache{c: p.c, tokens: map[string]string{}}
	b, err := broker.New(spec, triggers, func(ref *duckv1.KReference) (string, error) {
		if u, ok := p.urls[ref.Name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no %s %s here", ref.Kind, ref.Name)
	}, broker.WithObserver(func(d broker.Delivered) {
		p.mu.Lock()
		p.delivered = append(p.delivered, d)
		p.mu.Unlock()
	}), broker.WithTokens(tokens.mint))
	if err != nil {
		p.t.Fatal(err)
	}
	p.broker = b
	// What the SinkBinding mounts at /oidc/token, one file per function.
	p.sinkTokens = map[string]string{}
	for _, f := range functions {
		tok, err := tokens.mint(ctx, sinkBindingIdentity, brokerAudience)
		if err != nil {
			p.t.Fatal(err)
		}
		p.sinkTokens[f] = filepath.Join(p.dir, f+"-oidc-token")
		if err := os.WriteFile(p.sinkTokens[f], []byte(tok), 0o600); err != nil {
			p.t.Fatal(err)
		}
	}
	// The ingress takes only the SinkBinding's token for the Broker's
	// audience, as Eventing's broker ingress does with OIDC on; the
	// apiserver reviews it.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		subject, err := p.review(r.Context(), r.Header.Get("Authorization"), brokerAudience)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.ingressed = append(p.ingressed, subject)
		p.mu.Unlock()
		b.ServeHTTP(w, r)
	}))
	p.t.Cleanup(func() { srv.Close(); b.Close() })
	return srv.URL
}

// The SinkBinding's OIDC identity and the Broker's audience, as Knative
// Eventing names them (auth.GetOIDCServiceAccountNameForResource,
// auth.GetAudience) for infra/'s SinkBinding functions-to-broker and
// Broker default.
const (
	sinkBindingIdentity = "system:serviceaccount:slipstream:functions-to-broker-oidc-sources.knative.dev-sinkbinding"
	brokerAudience      = "eventing.knative.dev/broker/slipstream/default"
)

// splitSubject splits system:serviceaccount:<ns>:<name>.
func splitSubject(subject string) (ns, name string, err error) {
	parts := strings.Split(subject, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" {
		return "", "", fmt.Errorf("%q is not a ServiceAccount's subject", subject)
	}
	return parts[2], parts[3], nil
}

// tokenCache mints tokens with the TokenRequest API, one per subject and
// audience for an hour, as Eventing's token provider caches them.
type tokenCache struct {
	c      *cluster.Cluster
	mu     sync.Mutex
	tokens map[string]string
}

func (tc *tokenCache) mint(ctx context.Context, subject, audience string) (string, error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	key := subject + " " + audience
	if tok, ok := tc.tokens[key]; ok {
		return tok, nil
	}
	ns, name, err := splitSubject(subject)
	if err != nil {
		return "", err
	}
	tok, err := tc.c.Token(ctx, ns, name, time.Hour, audience)
	if err != nil {
		return "", err
	}
	tc.tokens[key] = tok
	return tok, nil
}

// review asks the apiserver whether a bearer token is valid for audience
// and returns its subject.
func (p *pipeline) review(ctx context.Context, header, audience string) (string, error) {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || token == "" {
		return "", errors.New("a bearer token is required")
	}
	tr, err := p.c.Kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{audience}}}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	if !tr.Status.Authenticated {
		return "", fmt.Errorf("token refused: %s", tr.Status.Error)
	}
	return tr.Status.User.Username, nil
}

// apiServerSource stands in for infra/'s ApiServerSource (Resource mode):
// it watches the managed namespace's Services and Revisions with the
// events ServiceAccount's token and sends each change to the broker.
func (p *pipeline) apiServerSource(ctx context.Context) {
	token, err := p.c.Token(ctx, "slipstream", "events", time.Hour)
	if err != nil {
		p.t.Errorf("token for the ApiServerSource: %v", err)
		return
	}
	dyn, err := dynamic.NewForConfig(p.c.As(token))
	if err != nil {
		p.t.Errorf("ApiServerSource client: %v", err)
		return
	}
	var wg sync.WaitGroup
	for _, res := range []string{"services", "revisions"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := dyn.Resource(schema.GroupVersionResource{Group: "serving.knative.dev", Version: "v1", Resource: res}).Namespace(p.ns)
			for ctx.Err() == nil {
				w, err := r.Watch(ctx, metav1.ListOptions{})
				if err != nil {
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				for ev := range w.ResultChan() {
					obj, ok := ev.Object.(*unstructured.Unstructured)
					if !ok {
						continue
					}
					verb := map[watch.EventType]string{watch.Added: "add", watch.Modified: "update", watch.Deleted: "delete"}[ev.Type]
					if verb == "" {
						continue
					}
					subject := fmt.Sprintf("/apis/serving.knative.dev/v1/namespaces/%s/%s/%s", p.ns, res, obj.GetName())
					_ = p.broker.Emit(eventing.TypeAPIServerPrefix+verb, p.c.Host, subject, obj.Object)
				}
				w.Stop()
			}
		}()
	}
	wg.Wait()
}

// pingSource stands in for infra/'s PingSource, ticking every second
// (a cluster ticks every minute; rollout waits sub-minute pauses in-request).
func (p *pipeline) pingSource(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
			_ = p.broker.Emit(eventing.TypePing, "/apis/v1/namespaces/slipstream/pingsources/tick", "", map[string]any{})
		}
	}
}

// gitops is the sync loop: it applies Git's head to the cluster whenever
// Git changed or the live objects drifted from it, checked every 100 ms,
// as Argo CD with automated sync and selfHeal (docs/gitops.md's settings)
// or as Flux's kustomize-controller (server-side apply, forced). Every
// apply the cluster refuses is recorded.
func (p *pipeline) gitops(mode string) func(context.Context) {
	return func(ctx context.Context) {
		services := servingclient.NewForConfigOrDie(p.c.Admin).ServingV1()
		var s *sim.Sync
		switch mode {
		case argoCD:
			s = sim.NewSync(p.bare, "apps", sim.ClientSideApply{Services: services})
			s.Ignore, s.ApplyOutOfSyncOnly = []string{"/spec/traffic"}, true
		case flux:
			s = sim.NewSync(p.bare, "apps", sim.ServerSideApply{Services: services, FieldManager: sim.FluxFieldManager})
		default:
			p.t.Errorf("no GitOps mode %q", mode)
			return
		}
		for ctx.Err() == nil {
			head, err := s.Once(ctx)
			if err != nil && ctx.Err() == nil {
				p.mu.Lock()
				if msg := err.Error(); len(p.syncErrors) == 0 || p.syncErrors[len(p.syncErrors)-1].Error() != msg {
					p.syncErrors = append(p.syncErrors, fmt.Errorf("syncing %s: %w", head, err))
				}
				p.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// SyncErrors is every apply the cluster refused so far.
func (p *pipeline) SyncErrors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]error(nil), p.syncErrors...)
}

// push pushes a one-layer image under a tag with crane, as CI does, and
// returns its digest.
func (p *pipeline) push(repo, tag string) string {
	p.t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("version " + tag + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "version", Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		p.t.Fatal(err)
	}
	tw.Write(content)
	tw.Close()
	layer := filepath.Join(p.dir, "layer-"+tag+".tar")
	if err := os.WriteFile(layer, buf.Bytes(), 0o644); err != nil {
		p.t.Fatal(err)
	}
	ref := p.registry + "/" + repo + ":" + tag
	out, err := exec.Command(p.bin("crane"), "append", "--insecure", "-f", layer, "-t", ref).CombinedOutput()
	if err != nil {
		p.t.Fatalf("crane append %s: %v\n%s", ref, err, out)
	}
	digest, err := exec.Command(p.bin("crane"), "digest", "--insecure", ref).Output()
	if err != nil {
		p.t.Fatalf("crane digest %s: %v", ref, err)
	}
	return strings.TrimSpace(string(digest))
}

// tag gives an image in the registry another tag with crane, as a release
// job that re-tags a tested build does.
func (p *pipeline) tag(repo, from, to string) {
	p.t.Helper()
	ref := p.registry + "/" + repo + ":" + from
	if out, err := exec.Command(p.bin("crane"), "tag", "--insecure", ref, to).CombinedOutput(); err != nil {
		p.t.Fatalf("crane tag %s %s: %v\n%s", ref, to, err, out)
	}
}

// file is the app's manifest in the config repository.
func (p *pipeline) file() string { return "apps/" + p.service + "/service.yaml" }

// edit commits a change to the app's manifest as a person would, retrying
// when promote pushed first.
func (p *pipeline) edit(msg string, change func(svc map[string]any)) {
	p.t.Helper()
	var last error
	for range 10 {
		var svc map[string]any
		if err := sigsyaml.Unmarshal([]byte(testutil.Tree(p.t, p.bare)[p.file()]), &svc); err != nil {
			p.t.Fatal(err)
		}
		change(svc)
		b, err := sigsyaml.Marshal(svc)
		if err != nil {
			p.t.Fatal(err)
		}
		if last = testutil.Commit("file://"+p.bare, p.t.TempDir(), map[string]string{p.file(): string(b)}, msg, false); last == nil {
			return
		}
	}
	p.t.Fatalf("committing %q: %v", msg, last)
}

// commits is how many commits the config repository has.
func (p *pipeline) commits() int { return len(testutil.Subjects(p.t, p.bare)) }
