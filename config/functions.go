package config

import (
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/policy"
)

// WebhookAuth is how one webhook format authenticates, read from
// SLIPSTREAM_INTAKE_<FORMAT>_*. Every configured mechanism must pass; with
// none configured the format is refused at start-up unless
// AllowUnauthenticated is true.
type WebhookAuth struct {
	// TokenFile holds the shared secret expected in the Authorization header:
	// "Bearer <token>", the bare token, or basic auth whose password is the token.
	TokenFile Secret `split_words:"true" desc:"file holding the shared secret expected in the Authorization header"`
	// HMACSecretFile holds the key of an HMAC-SHA256 signature of the body,
	// sent in the header the format names (X-Hub-Signature-256 for GitHub,
	// X-Slipstream-Signature otherwise) as sha256=<hex>.
	HMACSecretFile Secret `split_words:"true" desc:"file holding the HMAC-SHA256 key of the body signature"`
	// AllowUnauthenticated accepts this format without credentials (logged as a warning at start-up).
	AllowUnauthenticated bool `split_words:"true" default:"false" desc:"accept this format without credentials"`
}

// Configured reports whether any mechanism is configured.
func (a WebhookAuth) Configured() bool { return a.TokenFile.Set() || a.HMACSecretFile.Set() }

// Intake holds the settings of the intake function (prefix SLIPSTREAM_INTAKE_).
// The formats themselves are intake's (its registration table); LoadIntake
// takes their names.
type Intake struct {
	// Formats lists the webhook formats to accept. Required.
	Formats []string `desc:"comma-separated webhook formats to accept"`
	// Auth holds each enabled format's authentication, by format name,
	// read from SLIPSTREAM_INTAKE_<FORMAT>_* (LoadIntake).
	Auth map[string]WebhookAuth `ignored:"true"`
	// AllowedRegistries lists the registry hosts (host or host:port) intake
	// accepts pushes from and may contact to resolve a digest. Required.
	AllowedRegistries []string `split_words:"true" desc:"comma-separated registry hosts (host or host:port) pushes are accepted from"`
	// DockerConfigFile is a Docker config.json with registry credentials for digest resolution.
	DockerConfigFile string `split_words:"true" desc:"Docker config.json with credentials for digest look-ups"`
	// ResolveTimeout bounds one digest look-up. Default 5s.
	ResolveTimeout time.Duration `split_words:"true" default:"5s" desc:"time limit for one digest look-up"`
	// DedupWindow is how long a sent event id is remembered so a re-sent webhook is not sent twice. Default 10m.
	DedupWindow time.Duration `split_words:"true" default:"10m" desc:"how long sent event ids are remembered"`
	// DedupMax is the most sent event ids remembered; past it the oldest is
	// forgotten first. Default 100000 (14 MiB at the bound with 32-character ids:
	// BenchmarkDedupMemoryAtBound in functions/intake).
	DedupMax int `split_words:"true" default:"100000" desc:"the most sent event ids remembered; the oldest is forgotten first"`
}

// FormatPrefix is the prefix of a format's settings: SLIPSTREAM_INTAKE_<FORMAT>.
func FormatPrefix(format string) string { return Prefix + "_INTAKE_" + strings.ToUpper(format) }

// LoadIntake reads intake's settings: SLIPSTREAM_INTAKE_*, then
// SLIPSTREAM_INTAKE_<FORMAT>_* for every format intake knows (enabled or
// not, so a bad setting never waits for the day its format is enabled), and
// validates them against those formats. A value that does not parse stops
// there, naming its variable; otherwise every problem is reported at once.
func LoadIntake(known []string) (Intake, error) {
	var c Intake
	if err := process(Prefix+"_INTAKE", &c); err != nil {
		return c, err
	}
	c.Auth = make(map[string]WebhookAuth, len(known))
	for _, f := range known {
		var a WebhookAuth
		if err := process(FormatPrefix(f), &a); err != nil {
			return c, err
		}
		c.Auth[f] = a
	}
	return c, Join(c.ValidateFormats(known), c.Validate())
}

// ValidateFormats checks that every enabled format is one of known and has
// credentials, or is allowed without them.
func (c *Intake) ValidateFormats(known []string) error {
	var p problems
	if len(c.Formats) == 0 {
		p.env(Prefix+"_INTAKE_FORMATS", "required: the webhook formats to accept, from %s", strings.Join(known, ", "))
	}
	for _, f := range c.Formats {
		if !slices.Contains(known, f) {
			p.env(Prefix+"_INTAKE_FORMATS", "%q is not one of %s", f, strings.Join(known, ", "))
			continue
		}
		if a := c.Auth[f]; !a.Configured() && !a.AllowUnauthenticated {
			key := FormatPrefix(f)
			p.env(key+"_TOKEN_FILE", "format %s has no credentials: set it or %s_HMAC_SECRET_FILE, or %s_ALLOW_UNAUTHENTICATED=true", f, key, key)
		}
	}
	return p.err()
}

// Validate implements Validator; the formats are checked by ValidateFormats.
func (c *Intake) Validate() error {
	var p problems
	if len(c.AllowedRegistries) == 0 {
		p.env(Prefix+"_INTAKE_ALLOWED_REGISTRIES", "required: the registry hosts pushes are accepted from")
	}
	for _, h := range c.AllowedRegistries {
		if err := registryHost(h); err != nil {
			p.env(Prefix+"_INTAKE_ALLOWED_REGISTRIES", "%v", err)
		}
	}
	p.positiveDuration(Prefix+"_INTAKE_RESOLVE_TIMEOUT", c.ResolveTimeout)
	p.positiveDuration(Prefix+"_INTAKE_DEDUP_WINDOW", c.DedupWindow)
	if c.DedupMax < 1 {
		p.env(Prefix+"_INTAKE_DEDUP_MAX", "%d: must be 1 or more", c.DedupMax)
	}
	return p.err()
}

func registryHost(h string) error {
	if h == "" || strings.ContainsAny(h, "/@ ") {
		return fmt.Errorf("%q is not a registry host (host or host:port, no scheme or path)", h)
	}
	host := h
	if hh, port, err := net.SplitHostPort(h); err == nil {
		if port == "" {
			return fmt.Errorf("%q has an empty port", h)
		}
		host = hh
	}
	if host == "" {
		return fmt.Errorf("%q has no host", h)
	}
	return nil
}

// Promote holds the settings of the promote function (prefix SLIPSTREAM_PROMOTE_).
type Promote struct {
	// GitURL is the config repository: https://, http://, ssh:// or file://. Required.
	GitURL string `split_words:"true" desc:"config repository URL (https, http, ssh or file)"`
	// GitBranch is the branch slipstream commits to. Default main.
	GitBranch string `split_words:"true" default:"main" desc:"branch to commit to"`
	// Paths are the folders (relative to the repository root) searched for manifests. Default the root.
	Paths []string `split_words:"true" default:"." desc:"comma-separated folders searched for manifests, relative to the repository root"`
	// AuthorName is the commit author and committer name. Default slipstream.
	AuthorName string `split_words:"true" default:"slipstream" desc:"commit author name"`
	// AuthorEmail is the commit author and committer e-mail. Default slipstream@localhost.
	AuthorEmail string `split_words:"true" default:"slipstream@localhost" desc:"commit author e-mail"`
	// GitUsername is the HTTPS user name; with a token, any non-empty name works. Default git.
	GitUsername string `split_words:"true" default:"git" desc:"HTTPS user name"`
	// GitPasswordFile is the HTTPS password or token, read from a file.
	GitPasswordFile Secret `split_words:"true" desc:"file holding the HTTPS password or token"`
	// GitSSHKeyFile is the SSH private key, read from a file.
	GitSSHKeyFile Secret `split_words:"true" desc:"file holding the SSH private key"`
	// GitKnownHostsFile is the known_hosts file SSH host keys are verified against.
	GitKnownHostsFile string `split_words:"true" desc:"known_hosts file for SSH host key verification"`
	// GitTimeout bounds each Git network operation. Default 30s.
	GitTimeout time.Duration `split_words:"true" default:"30s" desc:"time limit for each clone, fetch or push"`
	// GitPushRetries is how many times a push rejected as non-fast-forward is re-applied and retried. Default 8.
	GitPushRetries int `split_words:"true" default:"8" desc:"retries of a push rejected because the branch moved"`
	// SigningKeyFile is an armored OpenPGP private key that signs every commit. Default: unsigned.
	SigningKeyFile Secret `split_words:"true" desc:"file holding an armored OpenPGP private key to sign commits"`
	// SigningPassphraseFile holds the signing key's passphrase, if it has one.
	SigningPassphraseFile Secret `split_words:"true" desc:"file holding the signing key's passphrase"`
	// Kubeconfig is used for promote's read-only gets: live Services
	// (adoption) and Revisions (a rollback over a template a person changed).
	// Empty: in-cluster credentials inside a pod, no cluster access elsewhere.
	Kubeconfig string `desc:"kubeconfig for promote's read-only gets; empty: in-cluster inside a pod"`
}

// Validate implements Validator.
func (c *Promote) Validate() error {
	var p problems
	key := Prefix + "_PROMOTE_GIT_URL"
	if c.GitURL == "" {
		p.env(key, "required: the config repository URL")
	} else if u, err := url.Parse(c.GitURL); err != nil || u.Scheme == "" {
		p.env(key, "expected an https://, http://, ssh:// or file:// URL")
	} else {
		switch u.Scheme {
		case "https", "http", "ssh", "file":
		default:
			p.env(key, "scheme %q is not one of https, http, ssh, file", u.Scheme)
		}
		// A token pasted as the user name (https://ghp_…@host) is as secret
		// as a password: it would reach logs and error answers with the URL.
		// Only ssh:// names a user (git@host), never a password.
		if _, hasPassword := u.User.Password(); hasPassword {
			p.env(key, "carries a password in the URL; use %s_PROMOTE_GIT_PASSWORD_FILE", Prefix)
		} else if u.User != nil && u.Scheme != "ssh" {
			p.env(key, "carries a user name in the URL (a token there is a secret too); use %s_PROMOTE_GIT_USERNAME and %s_PROMOTE_GIT_PASSWORD_FILE", Prefix, Prefix)
		}
		if u.Scheme == "ssh" && !c.GitSSHKeyFile.Set() {
			p.env(Prefix+"_PROMOTE_GIT_SSH_KEY_FILE", "required for an ssh:// repository")
		}
		if u.Scheme == "ssh" && c.GitKnownHostsFile == "" {
			p.env(Prefix+"_PROMOTE_GIT_KNOWN_HOSTS_FILE", "required for an ssh:// repository (host keys are always verified)")
		}
	}
	if c.GitBranch == "" || strings.ContainsAny(c.GitBranch, " ~^:?*[\\") || strings.Contains(c.GitBranch, "..") {
		p.env(Prefix+"_PROMOTE_GIT_BRANCH", "%q is not a branch name", c.GitBranch)
	}
	for _, dir := range c.Paths {
		clean := path.Clean(dir)
		if path.IsAbs(dir) || clean == ".." || strings.HasPrefix(clean, "../") {
			p.env(Prefix+"_PROMOTE_PATHS", "%q is outside the repository root", dir)
		}
	}
	if c.AuthorName == "" {
		p.env(Prefix+"_PROMOTE_AUTHOR_NAME", "must not be empty")
	}
	if !strings.Contains(c.AuthorEmail, "@") {
		p.env(Prefix+"_PROMOTE_AUTHOR_EMAIL", "%q is not an e-mail address", c.AuthorEmail)
	}
	if c.GitPasswordFile.Set() && c.GitSSHKeyFile.Set() {
		p.env(Prefix+"_PROMOTE_GIT_PASSWORD_FILE", "set together with %s_PROMOTE_GIT_SSH_KEY_FILE; choose one", Prefix)
	}
	p.positiveDuration(Prefix+"_PROMOTE_GIT_TIMEOUT", c.GitTimeout)
	if c.GitPushRetries < 0 {
		p.env(Prefix+"_PROMOTE_GIT_PUSH_RETRIES", "%d: must be 0 or more", c.GitPushRetries)
	}
	if c.SigningPassphraseFile.Set() && !c.SigningKeyFile.Set() {
		p.env(Prefix+"_PROMOTE_SIGNING_PASSPHRASE_FILE", "set without %s_PROMOTE_SIGNING_KEY_FILE", Prefix)
	}
	return p.err()
}

// Rollout holds the settings of the rollout function (prefix SLIPSTREAM_ROLLOUT_).
type Rollout struct {
	// PrometheusURL is the Prometheus HTTP API used for analysis. Empty: a
	// Service that asks for analysis stops with a clear reason.
	PrometheusURL string `split_words:"true" desc:"Prometheus base URL for analysis queries"`
	// QueryTimeout bounds one Prometheus query. Default 10s.
	QueryTimeout time.Duration `split_words:"true" default:"10s" desc:"time limit for one analysis query"`
	// Namespaces limits the namespaces whose Services are managed. Empty: all.
	Namespaces []string `desc:"comma-separated namespaces to manage; empty means all"`
	// MaxWait is how long one request may wait for a pause that ends soon. Default 50s.
	MaxWait time.Duration `split_words:"true" default:"50s" desc:"longest wait inside one request for a pause that ends soon"`
	// Kubeconfig is used to read and patch Services. Empty: in-cluster credentials.
	Kubeconfig string `desc:"kubeconfig; empty: in-cluster credentials"`
	// Concurrency is how many Services one tick (or event) decides for at
	// once. Default 8.
	Concurrency int `split_words:"true" default:"8" desc:"Services one tick decides for at once"`
}

// Validate implements Validator.
func (c *Rollout) Validate() error {
	var p problems
	if c.PrometheusURL != "" {
		if err := httpURL(c.PrometheusURL); err != nil {
			p.env(Prefix+"_ROLLOUT_PROMETHEUS_URL", "%v", err)
		}
	}
	p.positiveDuration(Prefix+"_ROLLOUT_QUERY_TIMEOUT", c.QueryTimeout)
	p.nonNegativeDuration(Prefix+"_ROLLOUT_MAX_WAIT", c.MaxWait)
	p.namespaces(Prefix+"_ROLLOUT_NAMESPACES", c.Namespaces)
	p.atLeastOne(Prefix+"_ROLLOUT_CONCURRENCY", c.Concurrency)
	return p.err()
}

func (p *problems) atLeastOne(key string, n int) {
	if n < 1 {
		p.env(key, "%d: must be 1 or more", n)
	}
}

func (p *problems) namespaces(key string, list []string) {
	for _, ns := range list {
		if !eventing.IsNamespace(ns) {
			p.env(key, "%q is not a namespace name", ns)
		}
	}
}

// Rollback holds the settings of the rollback function (prefix SLIPSTREAM_ROLLBACK_).
type Rollback struct {
	// TokenFile is the bearer token Alertmanager must send, read from a file.
	TokenFile Secret `split_words:"true" desc:"file holding the bearer token Alertmanager sends"`
	// Username is the basic-auth user name Alertmanager must send.
	Username string `desc:"basic-auth user name Alertmanager sends"`
	// PasswordFile is the basic-auth password, read from a file.
	PasswordFile Secret `split_words:"true" desc:"file holding the basic-auth password"`
	// AllowUnauthenticated accepts webhooks without credentials (logged as a warning). Default false.
	AllowUnauthenticated bool `split_words:"true" default:"false" desc:"accept webhooks without credentials"`
	// NamespaceLabels are the alert labels that name the namespace, first match wins.
	NamespaceLabels []string `split_words:"true" default:"namespace,namespace_name" desc:"alert labels naming the namespace, in order"`
	// ServiceLabels are the alert labels that name the Knative Service, first match wins.
	ServiceLabels []string `split_words:"true" default:"service_name,knative_service,service" desc:"alert labels naming the Knative Service, in order"`
	// RevisionLabels are the alert labels that name a Revision, first match wins.
	RevisionLabels []string `split_words:"true" default:"revision_name,revision" desc:"alert labels naming a Revision, in order"`
	// DefaultRollbackOn holds the matchers for Services without
	// slipstream.dev/rollback-on. Default severity="critical".
	DefaultRollbackOn policy.Matchers `split_words:"true" default:"severity=\"critical\"" desc:"Alertmanager matchers for Services without slipstream.dev/rollback-on"`
	// Kubeconfig is used to read and patch Services. Empty: in-cluster credentials.
	Kubeconfig string `desc:"kubeconfig; empty: in-cluster credentials"`
	// APITimeout bounds each call to the Kubernetes API. Default 2s.
	APITimeout time.Duration `split_words:"true" default:"2s" desc:"time limit for each Kubernetes API call"`
	// Concurrency is how many Services of one notification are rolled back
	// at once (Alertmanager groups alerts: a bad dependency fails many
	// Services together). Default 16.
	Concurrency int `split_words:"true" default:"16" desc:"Services of one notification rolled back at once"`
}

// Validate implements Validator.
func (c *Rollback) Validate() error {
	var p problems
	if !c.TokenFile.Set() && !c.PasswordFile.Set() && !c.AllowUnauthenticated {
		p.env(Prefix+"_ROLLBACK_TOKEN_FILE", "no credentials configured: set it (or %s_ROLLBACK_USERNAME and %s_ROLLBACK_PASSWORD_FILE), or %s_ROLLBACK_ALLOW_UNAUTHENTICATED=true", Prefix, Prefix, Prefix)
	}
	if (c.Username == "") != !c.PasswordFile.Set() {
		p.env(Prefix+"_ROLLBACK_USERNAME", "basic auth needs both %s_ROLLBACK_USERNAME and %s_ROLLBACK_PASSWORD_FILE", Prefix, Prefix)
	}
	for _, kl := range []struct {
		key  string
		list []string
	}{{"NAMESPACE_LABELS", c.NamespaceLabels}, {"SERVICE_LABELS", c.ServiceLabels}, {"REVISION_LABELS", c.RevisionLabels}} {
		key, list := kl.key, kl.list
		if len(list) == 0 {
			p.env(Prefix+"_ROLLBACK_"+key, "must name at least one label")
		}
		for _, l := range list {
			if !labelName(l) {
				p.env(Prefix+"_ROLLBACK_"+key, "%q is not a label name", l)
			}
		}
	}
	p.positiveDuration(Prefix+"_ROLLBACK_API_TIMEOUT", c.APITimeout)
	p.atLeastOne(Prefix+"_ROLLBACK_CONCURRENCY", c.Concurrency)
	if len(c.DefaultRollbackOn) == 0 {
		p.env(Prefix+"_ROLLBACK_DEFAULT_ROLLBACK_ON", "must hold at least one matcher")
	}
	return p.err()
}

// Notify is notify's settings (SLIPSTREAM_NOTIFY_*): where promotions and
// rollbacks are told to people.
type Notify struct {
	// URLFile holds the webhook URL (a Slack or Google Chat webhook URL is a
	// credential), read from a file.
	URLFile Secret `split_words:"true" desc:"file holding the chat webhook URL messages are posted to"`
	// Format is the payload the webhook takes: slack, googlechat, teams or json.
	Format string `default:"slack" desc:"payload format: slack, googlechat, teams (Workflows, an Adaptive Card) or json (the event's data and a text)"`
	// Timeout bounds each post. Default 5s.
	Timeout time.Duration `default:"5s" desc:"time limit for each post to the webhook"`
}

// NotifyFormats are the payload formats notify can post.
var NotifyFormats = []string{"slack", "googlechat", "teams", "json"}

// Validate implements Validator.
func (c *Notify) Validate() error {
	var p problems
	if !c.URLFile.Set() {
		p.env(Prefix+"_NOTIFY_URL_FILE", "required: the file holding the chat webhook URL")
	} else if u, err := url.Parse(strings.TrimSpace(string(c.URLFile.Value()))); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		p.env(Prefix+"_NOTIFY_URL_FILE", "%s does not hold an http(s) URL", c.URLFile.Path())
	}
	if !slices.Contains(NotifyFormats, c.Format) {
		p.env(Prefix+"_NOTIFY_FORMAT", "%q is not one of %s", c.Format, strings.Join(NotifyFormats, ", "))
	}
	p.positiveDuration(Prefix+"_NOTIFY_TIMEOUT", c.Timeout)
	return p.err()
}
