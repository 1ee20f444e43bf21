package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/slipstream-cd/slipstream/config"
)

// Host serves one function. Create it with New, take a Sender from it when the
// function sends to K_SINK, then Run the function.
type Host struct {
	name     string
	settings config.Shared
	log      *slog.Logger
	metrics  *metrics
	draining atomic.Bool
	// drainStarted is closed when Run starts draining.
	drainStarted chan struct{}
	// inFlight holds a token per POST request being handled (MaxInFlight).
	inFlight chan struct{}
	// tokens verifies POST /'s bearer tokens; nil: not authenticated.
	tokens *tokens
}

// New returns a host for the named function with validated shared settings.
func New(name string, settings config.Shared, log *slog.Logger) (*Host, error) {
	if name == "" {
		return nil, errors.New("host: function name is empty")
	}
	if err := settings.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	tokens, err := newTokens(settings, time.Now)
	if err != nil {
		return nil, err
	}
	return &Host{name: name, settings: settings, log: log.With("function", name), metrics: newMetrics(name), drainStarted: make(chan struct{}),
		inFlight: make(chan struct{}, settings.MaxInFlight), tokens: tokens}, nil
}

// Settings returns the shared settings the host was made with.
func (h *Host) Settings() config.Shared { return h.settings }

// Rollbacks is the host's slipstream_rollbacks_total, served on /metrics.
func (h *Host) Rollbacks() *prometheus.CounterVec { return h.metrics.rollbacks }

// Logger returns the host's logger (with the function name).
func (h *Host) Logger() *slog.Logger { return h.log }

// Handler returns the HTTP handler that serves fn: POST / for CloudEvents,
// POST on each webhook route, GET /healthz, /readyz and /metrics, and a JSON
// 404 for anything else.
//
// fn's Collectors join the host's metrics, with its function label.
func (h *Host) Handler(fn Function) http.Handler {
	reg := prometheus.WrapRegistererWith(prometheus.Labels{"function": h.name}, h.metrics.registry)
	for _, c := range fn.Collectors {
		if err := reg.Register(c); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			h.log.Error("a function's metrics were not registered", "error", err.Error())
		}
	}
	metricsHandler := promhttp.HandlerFor(h.metrics.registry, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch path := r.URL.Path; {
		case path == "/healthz":
			if allow(w, r, http.MethodGet, http.MethodHead) {
				writeJSON(w, http.StatusOK, "ok", "alive")
			}
		case path == "/readyz":
			if allow(w, r, http.MethodGet, http.MethodHead) {
				h.ready(w, r, fn)
			}
		case path == "/metrics":
			if allow(w, r, http.MethodGet, http.MethodHead) {
				metricsHandler.ServeHTTP(w, r)
			}
		case path == "/" && len(fn.Events) > 0:
			if r.Method == http.MethodOptions {
				// CloudEvents HTTP webhook abuse protection handshake.
				w.Header().Set("Allow", "POST, OPTIONS")
				w.Header().Set("WebHook-Allowed-Origin", "*")
				w.WriteHeader(http.StatusOK)
				return
			}
			if allow(w, r, http.MethodPost) {
				h.serveEvent(w, r, fn)
			}
		case fn.Webhooks[path] != nil:
			if allow(w, r, http.MethodPost) {
				h.serveWebhook(w, r, path, fn.Webhooks[path], fn)
			}
		default:
			writeJSON(w, http.StatusNotFound, "not_found", fmt.Sprintf("no route %s %s; this function serves %s", r.Method, path, routes(fn)))
		}
	})
}

// admit takes an in-flight token for a request whose credentials and body
// have been read, before its handler runs, and returns the release; it
// refuses with ErrBusy when MaxInFlight requests are being handled. A slot
// is taken only after the body: senders that trickle bodies hold
// connections (bounded by the read timeout), never handler slots.
func (h *Host) admit(w http.ResponseWriter) (release func(), err error) {
	select {
	case h.inFlight <- struct{}{}:
		return func() { <-h.inFlight }, nil
	default:
		w.Header().Set("Retry-After", "1")
		return nil, fmt.Errorf("%w: %d requests in flight, the most this function handles at once; retry", ErrBusy, cap(h.inFlight))
	}
}

// CheckDeliveries refuses a function whose POST / takes the broker's
// deliveries when nothing would verify them: no audience to check tokens
// for and no explicit opt-out. It logs the opt-out as a warning. Run calls
// it before listening; so must anything that serves Handler(fn) itself.
func (h *Host) CheckDeliveries(fn Function) error {
	if !fn.FromBroker || len(fn.Events) == 0 || h.tokens != nil {
		return nil
	}
	if h.settings.AllowUnauthenticatedEvents {
		h.log.Warn("POST / accepts events without a token: anyone who reaches this function can make it act",
			"setting", config.Prefix+"_ALLOW_UNAUTHENTICATED_EVENTS")
		return nil
	}
	return config.SettingError(config.Prefix+"_OIDC_AUDIENCE", fmt.Errorf(
		"required: %s's POST / takes the broker's deliveries, which must carry Knative Eventing's OIDC token "+
			"for this audience (the Triggers' subscriber.audience); set %s_ALLOW_UNAUTHENTICATED_EVENTS=true to accept any sender instead (never on a reachable address)",
		fn.Name, config.Prefix))
}

// checkDelivery verifies a delivery's token (see CheckDeliveries).
func (h *Host) checkDelivery(r *http.Request) error {
	switch {
	case h.tokens != nil:
		return h.tokens.check(r)
	case h.settings.AllowUnauthenticatedEvents:
		return nil
	}
	return fmt.Errorf("%w: this function has no audience to verify the broker's tokens for (%s_OIDC_AUDIENCE)", ErrUnauthorized, config.Prefix)
}

// authorizeHeaders runs the checks of what a request carries in its
// headers, before the body is read: the broker's OIDC token on POST / of a
// function that takes its deliveries, then the function's own. A refused request's connection is closed after
// the answer, so net/http does not read (and wait for) the unread body.
func (h *Host) authorizeHeaders(w http.ResponseWriter, r *http.Request, fn Function, route string) error {
	err := func() error {
		if route == "/" && fn.FromBroker {
			if err := h.checkDelivery(r); err != nil {
				return err
			}
		}
		if fn.AuthorizeHeaders != nil {
			return fn.AuthorizeHeaders(route, r)
		}
		return nil
	}()
	if err != nil {
		w.Header().Set("Connection", "close")
	}
	return err
}

func routes(fn Function) string {
	s := "GET /healthz, /readyz, /metrics"
	if len(fn.Events) > 0 {
		s += ", POST / (CloudEvents)"
	}
	paths := make([]string, 0, len(fn.Webhooks))
	for p := range fn.Webhooks {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		s += ", POST " + p
	}
	return s
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	list := methods[0]
	for _, m := range methods[1:] {
		list += ", " + m
	}
	w.Header().Set("Allow", list)
	writeJSON(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("method %s not allowed; use %s", r.Method, list))
	return false
}

func (h *Host) ready(w http.ResponseWriter, r *http.Request, fn Function) {
	if h.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, "draining", "shutting down")
		return
	}
	if fn.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := fn.Ready(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, "not_ready", err.Error())
			return
		}
	}
	writeJSON(w, http.StatusOK, "ok", "ready")
}

// body reads the request body within the size limit; a larger body is ErrTooLarge.
func (h *Host) body(r *http.Request, w http.ResponseWriter) ([]byte, error) {
	limit := h.settings.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, r.ContentLength, limit)
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	var slow net.Error
	if errors.As(err, &slow) && slow.Timeout() {
		return nil, fmt.Errorf("%w: the body did not arrive within %s (SLIPSTREAM_READ_TIMEOUT)", ErrMalformed, h.settings.ReadTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", ErrMalformed, err)
	}
	return b, nil
}

// recovered turns a handler panic into an error, logging the stack.
func (h *Host) recovered(log *slog.Logger, errp *error) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler {
			panic(v)
		}
		log.Error("handler panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		*errp = errPanic
	}
}

var errPanic = errors.New("internal error: the handler panicked")

// answer is the JSON body of every non-event answer.
type answer struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, status, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(answer{Status: status, Message: message})
}

// Run serves fn on ln until ctx is done (SIGTERM), then answers /readyz with
// 503 while still accepting connections for the drain delay (endpoints stop
// sending it requests), then stops accepting and lets in-flight requests
// finish within the rest of the shutdown grace. It returns nil after a clean
// drain, and an error when serving failed or the grace ran out.
func (h *Host) Run(ctx context.Context, ln net.Listener, fn Function) error {
	if err := h.CheckDeliveries(fn); err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h.Handler(fn),
		ReadHeaderTimeout: min(10*time.Second, h.settings.ReadTimeout),
		ReadTimeout:       h.settings.ReadTimeout,
		IdleTimeout:       h.settings.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	h.log.Info("serving", "address", ln.Addr().String(), "routes", routes(fn))

	select {
	case err := <-served:
		return fmt.Errorf("serving %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	h.draining.Store(true)
	close(h.drainStarted)
	h.log.Info("draining", "grace", h.settings.ShutdownGrace.String(), "delay", h.settings.DrainDelay.String())
	drainCtx, cancel := context.WithTimeout(context.Background(), h.settings.ShutdownGrace)
	defer cancel()
	select {
	case <-time.After(min(h.settings.DrainDelay, h.settings.ShutdownGrace/2)):
	case err := <-served:
		return fmt.Errorf("serving %s: %w", ln.Addr(), err)
	}
	if err := srv.Shutdown(drainCtx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("draining within %s: %w", h.settings.ShutdownGrace, err)
	}
	h.log.Info("stopped")
	return nil
}
