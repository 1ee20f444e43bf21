package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Prefix is the prefix of every slipstream environment variable.
const Prefix = "SLIPSTREAM"

// Shared holds the settings every function reads.
type Shared struct {
	// Port is the HTTP port; SLIPSTREAM_PORT, else Knative's PORT. Default 8080.
	Port int `envconfig:"PORT" default:"8080" desc:"HTTP port; Knative sets PORT"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `split_words:"true" default:"info" desc:"debug, info, warn or error"`
	// LogFormat is json or text. Default json.
	LogFormat string `split_words:"true" default:"json" desc:"json or text"`
	// Sink is where functions called by outside systems send events; Knative's
	// SinkBinding injects K_SINK. Empty: those functions cannot send.
	Sink string `envconfig:"K_SINK" desc:"event sink URL, injected by a SinkBinding"`
	// CEOverrides is the SinkBinding's K_CE_OVERRIDES: extensions added to every sent event.
	CEOverrides CEOverrides `envconfig:"K_CE_OVERRIDES" desc:"JSON {\"extensions\":{…}} added to sent events, injected by a SinkBinding"`
	// MaxBodyBytes is the largest request body accepted; larger ones get 413. Default 1 MiB.
	MaxBodyBytes int64 `split_words:"true" default:"1048576" desc:"largest request body in bytes; larger gets 413"`
	// RequestTimeout bounds the handling of one request. Default 30s.
	RequestTimeout time.Duration `split_words:"true" default:"30s" desc:"time limit for handling one request"`
	// ShutdownGrace is how long in-flight requests may finish after SIGTERM.
	// Default 25s: below the 30 s timeoutSeconds (and so the termination
	// grace) of infra/'s shortest Services, so draining ends before a kill.
	ShutdownGrace time.Duration `split_words:"true" default:"25s" desc:"time in-flight requests get to finish after SIGTERM"`
	// DrainDelay is how long, after SIGTERM, a function keeps accepting
	// connections with /readyz answering 503, so endpoints stop sending it
	// new requests before it stops listening. It is part of ShutdownGrace
	// and at most half of it (a longer one is cut to half). Default 3s.
	DrainDelay time.Duration `split_words:"true" default:"3s" desc:"after SIGTERM, time still accepting with /readyz 503; part of the grace"`
	// ReadTimeout bounds reading one whole request, headers and body: a
	// sender trickling a body cannot hold a connection longer. Default 15s.
	ReadTimeout time.Duration `split_words:"true" default:"15s" desc:"time limit for reading one request, headers and body"`
	// IdleTimeout closes a keep-alive connection with no request for this
	// long. Default 60s.
	IdleTimeout time.Duration `split_words:"true" default:"60s" desc:"idle keep-alive connections are closed after this"`
	// MaxInFlight is how many POST requests are handled at once; more are
	// answered 503 at once (the broker and registries retry). Default 64.
	MaxInFlight int `split_words:"true" default:"64" desc:"POST requests handled at once; more get 503"`
	// OidcIssuer is the issuer of the tokens POST / requires when it takes
	// the broker's deliveries (promote, rollout): Knative Eventing's OIDC
	// delivery, whose tokens the cluster's ServiceAccount issuer signs for
	// the Trigger's subscriber audience. Empty (the default): discovered
	// from the cluster, as Knative Eventing's own verifier does — the
	// apiserver's /.well-known/openid-configuration and /openid/v1/jwks,
	// read with the pod's credentials (or $KUBECONFIG's outside a pod).
	OidcIssuer string `split_words:"true" desc:"issuer of the tokens POST / requires; empty: the cluster's, discovered"`
	// OidcAudience is the audience the tokens must carry: the Trigger's
	// subscriber audience. Required where POST / takes the broker's
	// deliveries, unless AllowUnauthenticatedEvents.
	OidcAudience string `split_words:"true" desc:"audience the tokens must be minted for (the Triggers' subscriber.audience)"`
	// OidcJwksURL is where an explicit issuer's signing keys are. Default:
	// the issuer's /openid/v1/jwks (Kubernetes' path).
	OidcJwksURL string `split_words:"true" desc:"the issuer's JWKS, with SLIPSTREAM_OIDC_ISSUER; default <issuer>/openid/v1/jwks"`
	// OidcCAFile is a PEM bundle to trust when fetching an explicit
	// issuer's keys (the cluster's CA); empty: the system's.
	OidcCAFile string `split_words:"true" desc:"PEM CA bundle for fetching the JWKS, with SLIPSTREAM_OIDC_ISSUER; empty: the system's"`
	// OidcSubjects, when set, is the allow-list of token subjects (the
	// Triggers' identities, system:serviceaccount:<ns>:<name>); an entry
	// ending in * allows every subject with that prefix, as Knative's
	// EventPolicy does. Empty: any subject the issuer signed for the audience.
	OidcSubjects Subjects `split_words:"true" desc:"token subjects allowed (a trailing * matches a prefix); empty: any"`
	// AllowUnauthenticatedEvents turns the token check of POST / off: any
	// sender that reaches the function can make it act. Logged as a warning
	// at start-up. For a cluster without Eventing's OIDC feature; never
	// with the function reachable from outside.
	AllowUnauthenticatedEvents bool `split_words:"true" default:"false" desc:"accept the broker's deliveries without a token (logged as a warning)"`
	// Kubeconfig is the standard KUBECONFIG: outside a pod, the cluster
	// whose issuer is discovered. Inside a pod: the pod's credentials.
	Kubeconfig string `envconfig:"KUBECONFIG" desc:"outside a pod: the cluster whose OIDC issuer is discovered"`
	// KubeQPS and KubeBurst are the client-side rate limit of a function's
	// Kubernetes client. client-go's default (5 a second, bursts of 10)
	// throttled the rollback path: on a real apiserver, the 20th Service of
	// an alert storm was restored after ~12 s. The apiserver's priority and
	// fairness protects it from a busy client. Default 50 and 100.
	KubeQPS   float32 `split_words:"true" default:"50" desc:"Kubernetes API requests a second a function may make"`
	KubeBurst int     `split_words:"true" default:"100" desc:"Kubernetes API requests a function may make at once above KUBE_QPS"`
	// SinkTokenFile is the OIDC token sent with every event to K_SINK
	// ("Authorization: Bearer …"): where a SinkBinding mounts the token for
	// the sink's audience when Knative Eventing's OIDC feature is on, and
	// keeps it fresh. Read before each send, so a rotated token is used at
	// once. A file that does not exist: events go without a token (the
	// feature is off).
	SinkTokenFile string `split_words:"true" default:"/oidc/token" desc:"OIDC token for K_SINK, mounted by a SinkBinding; absent: none sent"`
	// SinkRetries is how many times a failed send to K_SINK is retried. Default 3.
	SinkRetries int `split_words:"true" default:"3" desc:"retries of a failed send to K_SINK"`
	// SinkBackoff is the first retry delay; each retry doubles it. Default 100ms.
	SinkBackoff time.Duration `split_words:"true" default:"100ms" desc:"first retry delay, doubled on each retry"`
	// SinkTimeout bounds one send attempt. Default 2s.
	SinkTimeout time.Duration `split_words:"true" default:"2s" desc:"time limit for one send attempt"`
}

// Validate implements Validator.
func (s *Shared) Validate() error {
	var p problems
	if s.Port < 1 || s.Port > 65535 {
		p.env("PORT", "%d is not a TCP port (1-65535)", s.Port)
	}
	switch s.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.env(Prefix+"_LOG_LEVEL", "%q is not one of debug, info, warn, error", s.LogLevel)
	}
	switch s.LogFormat {
	case "json", "text":
	default:
		p.env(Prefix+"_LOG_FORMAT", "%q is not one of json, text", s.LogFormat)
	}
	if s.Sink != "" {
		if err := httpURL(s.Sink); err != nil {
			p.env("K_SINK", "%v", err)
		}
	}
	p.positive(Prefix+"_MAX_BODY_BYTES", s.MaxBodyBytes)
	p.positiveDuration(Prefix+"_REQUEST_TIMEOUT", s.RequestTimeout)
	p.nonNegativeDuration(Prefix+"_SHUTDOWN_GRACE", s.ShutdownGrace)
	p.nonNegativeDuration(Prefix+"_DRAIN_DELAY", s.DrainDelay)
	if s.OidcIssuer != "" {
		if err := httpURL(s.OidcIssuer); err != nil {
			p.env(Prefix+"_OIDC_ISSUER", "%v", err)
		}
		if s.OidcJwksURL != "" {
			if err := httpURL(s.OidcJwksURL); err != nil {
				p.env(Prefix+"_OIDC_JWKS_URL", "%v", err)
			}
		}
	} else if s.OidcJwksURL != "" || s.OidcCAFile != "" {
		p.env(Prefix+"_OIDC_ISSUER", "required by %s_OIDC_JWKS_URL and _CA_FILE (a discovered issuer's keys come from the cluster)", Prefix)
	}
	for i, sub := range s.OidcSubjects {
		switch strings.TrimSpace(sub) {
		case "":
			p.env(Prefix+"_OIDC_SUBJECTS", "entry %d is empty (a stray comma?): it would allow a token without a subject", i+1)
		case "*":
			p.env(Prefix+"_OIDC_SUBJECTS", "%q allows every subject; leave the setting empty for that, or list the Triggers' identities", sub)
		}
	}
	if s.AllowUnauthenticatedEvents && (s.OidcIssuer != "" || s.OidcAudience != "" || len(s.OidcSubjects) > 0) {
		p.env(Prefix+"_ALLOW_UNAUTHENTICATED_EVENTS", "contradicts the %s_OIDC_* settings also set: choose one", Prefix)
	}
	if s.KubeQPS <= 0 || s.KubeBurst < 1 {
		p.env(Prefix+"_KUBE_QPS", "%v with burst %d: both must be positive", s.KubeQPS, s.KubeBurst)
	}
	p.positiveDuration(Prefix+"_READ_TIMEOUT", s.ReadTimeout)
	p.positiveDuration(Prefix+"_IDLE_TIMEOUT", s.IdleTimeout)
	if s.MaxInFlight < 1 {
		p.env(Prefix+"_MAX_IN_FLIGHT", "%d: must be 1 or more", s.MaxInFlight)
	}
	if s.SinkRetries < 0 {
		p.env(Prefix+"_SINK_RETRIES", "%d: must be 0 or more", s.SinkRetries)
	}
	p.positiveDuration(Prefix+"_SINK_BACKOFF", s.SinkBackoff)
	p.positiveDuration(Prefix+"_SINK_TIMEOUT", s.SinkTimeout)
	return p.err()
}

// Subjects is a comma-separated list of token subjects. Entries are
// trimmed and kept even when empty, so Validate can refuse a stray comma
// or a blank value instead of reading it as "no list: any subject".
type Subjects []string

// Decode implements envconfig.Decoder.
func (s *Subjects) Decode(value string) error {
	*s = nil
	if value == "" {
		return nil
	}
	for _, e := range strings.Split(value, ",") {
		*s = append(*s, strings.TrimSpace(e))
	}
	return nil
}

// CEOverrides is Knative's K_CE_OVERRIDES: {"extensions": {"name": "value"}}.
type CEOverrides struct {
	// Extensions are set on every event sent to the sink.
	Extensions map[string]string `json:"extensions"`
}

// Decode implements envconfig.Decoder.
func (o *CEOverrides) Decode(value string) error {
	if err := json.Unmarshal([]byte(value), o); err != nil {
		return fmt.Errorf(`expected JSON {"extensions":{"name":"value"}}: %v`, err)
	}
	return nil
}

// Validator is a settings struct that checks itself after parsing.
type Validator interface {
	Validate() error
}

// Error is a start-up settings error. Each line names one variable.
type Error struct {
	// Problems lists one problem per line, each starting with the variable name.
	Problems []string
}

// Error implements error.
func (e *Error) Error() string {
	return "invalid settings:\n  " + strings.Join(e.Problems, "\n  ")
}

// Load reads spec from the environment with the given prefix (Prefix for
// Shared, Prefix+"_<FUNCTION>" for a function's settings), then validates it.
// Every error is an *Error naming the variable.
func Load(prefix string, spec Validator) error {
	if err := process(prefix, spec); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return e
		}
		return &Error{Problems: []string{err.Error()}}
	}
	return nil
}

// process reads spec from the environment; a value that does not parse is
// an *Error naming the variable.
func process(prefix string, spec any) error {
	err := envconfig.Process(prefix, spec)
	if err == nil {
		return nil
	}
	var pe *envconfig.ParseError
	if errors.As(err, &pe) {
		return &Error{Problems: []string{fmt.Sprintf("%s: %q is not a valid %s: %v", pe.KeyName, pe.Value, describeType(pe.TypeName), unwrapParse(pe.Err))}}
	}
	// envconfig's other error is "required key X missing value".
	return &Error{Problems: []string{strings.TrimPrefix(err.Error(), "envconfig.Process: ")}}
}

// SettingError is the start-up error of one setting: its variable and the problem.
func SettingError(key string, err error) error {
	return &Error{Problems: []string{key + ": " + err.Error()}}
}

func describeType(t string) string {
	switch t {
	case "time.Duration":
		return "duration (e.g. 500ms, 30s, 5m)"
	case "int", "int64":
		return "whole number"
	case "bool":
		return "boolean (true or false)"
	case "config.Secret":
		return "secret file"
	}
	return t
}

func unwrapParse(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

// problems collects settings problems, one line each.
type problems []string

func (p *problems) env(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

func (p *problems) positive(key string, v int64) {
	if v <= 0 {
		p.env(key, "%d: must be greater than 0", v)
	}
}

func (p *problems) positiveDuration(key string, d time.Duration) {
	if d <= 0 {
		p.env(key, "%s: must be greater than 0", d)
	}
}

func (p *problems) nonNegativeDuration(key string, d time.Duration) {
	if d < 0 {
		p.env(key, "%s: must not be negative", d)
	}
}

// Join merges settings errors into one *Error listing every problem of
// each; it returns nil when all are nil.
func Join(errs ...error) error {
	var p problems
	for _, err := range errs {
		p.merge(err)
	}
	return p.err()
}

// merge adds the problems of a settings error (every line of an *Error).
func (p *problems) merge(err error) {
	var e *Error
	switch {
	case err == nil:
	case errors.As(err, &e):
		*p = append(*p, e.Problems...)
	default:
		*p = append(*p, err.Error())
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &Error{Problems: p}
}

// httpURL checks an absolute http or https URL with a host.
func httpURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a parseable URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", redactURL(u))
	}
	if u.User != nil {
		return fmt.Errorf("%q carries credentials in the URL; use the *_FILE settings", redactURL(u))
	}
	return nil
}

func redactURL(u *url.URL) string {
	if u.User != nil {
		c := *u
		c.User = url.User("REDACTED")
		return c.String()
	}
	return u.String()
}
