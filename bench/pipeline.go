package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	duckv1 "knative.dev/pkg/apis/duck/v1"
	fakeserving "knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/intake"
	"github.com/slipstream-cd/slipstream/functions/promote"
	"github.com/slipstream-cd/slipstream/infra"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/registry"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/broker"
	"github.com/slipstream-cd/slipstream/local/issuer"
)

// Names the push pipeline uses.
const (
	registryHost = "registry.bench.local"
	intakeToken  = "bench-intake-token"
)

// gitServer serves a config repository with git http-backend over
// loopback and reports when each push has been taken.
type gitServer struct {
	URL string
	// pushed gets the time each receive-pack request finished.
	pushed chan time.Time
	// receives counts receive-pack requests, refused ones included.
	receives atomic.Int64
	srv      *httptest.Server
}

func startGit(bare string) (*gitServer, error) {
	backend, err := testutil.GitHTTPBackend(filepath.Dir(bare), "slipstream")
	if err != nil {
		return nil, err
	}
	g := &gitServer{pushed: make(chan time.Time, 1024)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backend.ServeHTTP(w, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			g.receives.Add(1)
			select {
			case g.pushed <- time.Now():
			default:
			}
		}
	}))
	g.URL = g.srv.URL + "/" + filepath.Base(bare)
	return g, nil
}

func (g *gitServer) Close() { g.srv.Close() }

// pushPipeline is intake, the embedded broker with infra/'s Triggers and
// OIDC tokens, and one or more promote instances behind one address (as a
// Knative Service's pods are), each with its own clone: a registry's
// webhook becomes a commit pushed to the Git server. rollout is a stub that
// takes manifest.committed and does nothing.
type pushPipeline struct {
	Intake   string
	servers  []*httptest.Server
	broker   *broker.Broker
	promotes []*gitrepo.Repo
}

// startPushPipeline starts the pipeline on loopback for the repository at
// gitURL with n promote instances.
func startPushPipeline(gitURL string, n int) (*pushPipeline, error) {
	p := &pushPipeline{}
	serve := func(h http.Handler) string {
		s := httptest.NewServer(h)
		p.servers = append(p.servers, s)
		return s.URL
	}
	fail := func(err error) (*pushPipeline, error) { p.Close(); return nil, err }
	log := slog.New(slog.DiscardHandler)

	manifests, err := infra.Base()
	if err != nil {
		return fail(err)
	}
	spec, triggers, err := broker.LoadManifests("default", manifests...)
	if err != nil {
		return fail(err)
	}
	subs, err := broker.Subscribers(triggers)
	if err != nil {
		return fail(err)
	}
	late := &host.LateHandler{}
	issuerURL := serve(late)
	iss, err := issuer.New(issuerURL, time.Now)
	if err != nil {
		return fail(err)
	}
	late.Set(iss.Handler())
	ingress := &host.LateHandler{}
	brokerURL := serve(ingress)

	shared := testutil.Shared(brokerURL)
	shared.LogLevel, shared.MaxInFlight, shared.RequestTimeout = "error", 256, time.Minute
	shared.AllowUnauthenticatedEvents, shared.OidcIssuer = false, issuerURL
	newHost := func(name string) (*host.Host, *host.Sender, error) {
		s := shared
		if sub, ok := subs[name]; ok {
			s.OidcAudience, s.OidcSubjects = sub.Audience, sub.Subjects
		}
		h, err := host.New(name, s, log)
		if err != nil {
			return nil, nil, err
		}
		send, err := h.Sender()
		return h, send, err
	}
	serveFn := func(h *host.Host, fn host.Function) (string, error) {
		if err := h.CheckDeliveries(fn); err != nil {
			return "", err
		}
		return serve(h.Handler(fn)), nil
	}

	// promote: n instances, one address.
	live := kservice.New(fakeserving.NewSimpleClientset(), 5*time.Second)
	var backends []*url.URL
	for range n {
		h, send, err := newHost(promote.Name)
		if err != nil {
			return fail(err)
		}
		repo, err := gitrepo.New(gitURL, "main", gitrepo.WithRetries(30, 10*time.Millisecond), gitrepo.WithTimeout(time.Minute))
		if err != nil {
			return fail(err)
		}
		pr, err := promote.New(repo, promote.WithPaths("apps"), promote.WithLive(live), promote.WithSender(send))
		if err != nil {
			return fail(err)
		}
		u, err := serveFn(h, pr.Function())
		if err != nil {
			return fail(err)
		}
		pu, _ := url.Parse(u)
		backends = append(backends, pu)
		p.promotes = append(p.promotes, repo)
	}
	var next atomic.Int64
	balancer := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(backends[int(next.Add(1)-1)%len(backends)])
	}, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}
	promoteURL := serve(balancer)
	rolloutURL := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))

	// intake
	h, send, err := newHost(intake.Name)
	if err != nil {
		return fail(err)
	}
	resolver, err := registry.New()
	if err != nil {
		return fail(err)
	}
	cfg := config.Intake{Formats: []string{"distribution"},
		Auth:              map[string]config.WebhookAuth{"distribution": {TokenFile: config.NewSecret([]byte(intakeToken))}},
		AllowedRegistries: []string{registryHost}, ResolveTimeout: 5 * time.Second, DedupWindow: 10 * time.Minute, DedupMax: 100000}
	in, err := intake.New(cfg, send, resolver)
	if err != nil {
		return fail(err)
	}
	if p.Intake, err = serveFn(h, in.Function()); err != nil {
		return fail(err)
	}

	urls := map[string]string{promote.Name: promoteURL, "rollout": rolloutURL}
	p.broker, err = broker.New(spec, triggers, func(ref *duckv1.KReference) (string, error) {
		if u, ok := urls[ref.Name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no %s here", ref.Name)
	}, broker.WithLogger(log), broker.WithTokens(func(_ context.Context, subject, audience string) (string, error) {
		return iss.Mint(subject, audience, 10*time.Minute)
	}))
	if err != nil {
		return fail(err)
	}
	ingress.Set(p.broker)
	return p, nil
}

// Push posts a Distribution notification of repository:tag at digest to
// intake, as the registry does.
func (p *pushPipeline) Push(ctx context.Context, repository, tag, digest string) error {
	body := fmt.Sprintf(`{"events":[{"id":%q,"timestamp":%q,"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"repository":%q,"tag":%q},"request":{"host":%q}}]}`,
		digest[7:23], time.Now().UTC().Format(time.RFC3339Nano), digest, repository, tag, registryHost)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Intake+"/webhooks/distribution", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v1+json")
	req.Header.Set("Authorization", "Bearer "+intakeToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("intake answered %d: %s", resp.StatusCode, msg)
	}
	return nil
}

// Wait waits until no delivery is in flight.
func (p *pushPipeline) Wait() { p.broker.Wait() }

// Close stops everything.
func (p *pushPipeline) Close() {
	if p.broker != nil {
		p.broker.Close()
	}
	for _, s := range p.servers {
		s.Close()
	}
}

var errTimeout = errors.New("timed out")
