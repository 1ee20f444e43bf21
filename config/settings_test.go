package config

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// clearEnv unsets every variable these tests read, so the machine's own
// environment cannot leak in; t.Setenv restores them afterwards.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, Prefix+"_") || k == "PORT" || k == "K_SINK" || k == "K_CE_OVERRIDES" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

func setEnv(t *testing.T, env map[string]string) {
	t.Helper()
	clearEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
}

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadSharedDefaults(t *testing.T) {
	setEnv(t, nil)
	var s Shared
	if err := Load(Prefix, &s); err != nil {
		t.Fatal(err)
	}
	want := Shared{Port: 8080, LogLevel: "info", LogFormat: "json", MaxBodyBytes: 1 << 20, RequestTimeout: 30 * time.Second,
		ShutdownGrace: 25 * time.Second, DrainDelay: 3 * time.Second, ReadTimeout: 15 * time.Second, IdleTimeout: time.Minute, MaxInFlight: 64,
		KubeQPS: 50, KubeBurst: 100, SinkTokenFile: "/oidc/token", SinkRetries: 3, SinkBackoff: 100 * time.Millisecond, SinkTimeout: 2 * time.Second}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadShared(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Shared)
		errs []string // each must appear in the error, in this order
	}{{
		name: "Knative's PORT and K_SINK",
		env:  map[string]string{"PORT": "9090", "K_SINK": "http://broker-ingress.knative-eventing.svc.cluster.local/demo/default", "K_CE_OVERRIDES": `{"extensions":{"team":"shop"}}`},
		want: func(s *Shared) {
			s.Port = 9090
			s.Sink = "http://broker-ingress.knative-eventing.svc.cluster.local/demo/default"
			s.CEOverrides.Extensions = map[string]string{"team": "shop"}
		},
	}, {
		name: "prefixed port wins over PORT",
		env:  map[string]string{"PORT": "9090", "SLIPSTREAM_PORT": "7070"},
		want: func(s *Shared) { s.Port = 7070 },
	}, {
		name: "not a number",
		env:  map[string]string{"PORT": "eighty"},
		errs: []string{`SLIPSTREAM_PORT: "eighty" is not a valid whole number`},
	}, {
		name: "not a duration",
		env:  map[string]string{"SLIPSTREAM_REQUEST_TIMEOUT": "30"},
		errs: []string{`SLIPSTREAM_REQUEST_TIMEOUT: "30" is not a valid duration`},
	}, {
		name: "bad overrides",
		env:  map[string]string{"K_CE_OVERRIDES": `{"extensions":`},
		errs: []string{"K_CE_OVERRIDES", `expected JSON {"extensions"`},
	}, {
		name: "every validation problem at once",
		env: map[string]string{"PORT": "70000", "SLIPSTREAM_LOG_LEVEL": "loud", "SLIPSTREAM_LOG_FORMAT": "xml",
			"K_SINK": "broker.local/x", "SLIPSTREAM_MAX_BODY_BYTES": "0", "SLIPSTREAM_REQUEST_TIMEOUT": "-1s",
			"SLIPSTREAM_SHUTDOWN_GRACE": "-1s", "SLIPSTREAM_SINK_RETRIES": "-1", "SLIPSTREAM_SINK_BACKOFF": "0s", "SLIPSTREAM_SINK_TIMEOUT": "0s"},
		errs: []string{"PORT: 70000 is not a TCP port", `SLIPSTREAM_LOG_LEVEL: "loud"`, `SLIPSTREAM_LOG_FORMAT: "xml"`,
			"K_SINK:", "SLIPSTREAM_MAX_BODY_BYTES", "SLIPSTREAM_REQUEST_TIMEOUT", "SLIPSTREAM_SHUTDOWN_GRACE",
			"SLIPSTREAM_SINK_RETRIES", "SLIPSTREAM_SINK_BACKOFF", "SLIPSTREAM_SINK_TIMEOUT"},
	}, {
		name: "the cluster's issuer, discovered: an audience and subjects alone",
		env: map[string]string{"SLIPSTREAM_OIDC_AUDIENCE": "serving.knative.dev/service/slipstream/promote",
			"SLIPSTREAM_OIDC_SUBJECTS": "system:serviceaccount:slipstream:tick-oidc-eventing.knative.dev-trigger,system:serviceaccount:x:*"},
		want: func(s *Shared) {
			s.OidcAudience = "serving.knative.dev/service/slipstream/promote"
			s.OidcSubjects = []string{"system:serviceaccount:slipstream:tick-oidc-eventing.knative.dev-trigger", "system:serviceaccount:x:*"}
		},
	}, {
		name: "subjects are trimmed",
		env:  map[string]string{"SLIPSTREAM_OIDC_AUDIENCE": "a", "SLIPSTREAM_OIDC_SUBJECTS": "system:serviceaccount:x:a, system:serviceaccount:x:b"},
		want: func(s *Shared) {
			s.OidcAudience = "a"
			s.OidcSubjects = []string{"system:serviceaccount:x:a", "system:serviceaccount:x:b"}
		},
	}, {
		name: "an empty subject entry, or one allowing all, is refused",
		env:  map[string]string{"SLIPSTREAM_OIDC_AUDIENCE": "a", "SLIPSTREAM_OIDC_SUBJECTS": "system:serviceaccount:x:a,,*"},
		errs: []string{"SLIPSTREAM_OIDC_SUBJECTS: entry 2 is empty", `SLIPSTREAM_OIDC_SUBJECTS: "*" allows every subject`},
	}, {
		name: "a blank subject list is refused",
		env:  map[string]string{"SLIPSTREAM_OIDC_AUDIENCE": "a", "SLIPSTREAM_OIDC_SUBJECTS": " "},
		errs: []string{"SLIPSTREAM_OIDC_SUBJECTS: entry 1 is empty"},
	}, {
		name: "keys and CA need an explicit issuer",
		env:  map[string]string{"SLIPSTREAM_OIDC_JWKS_URL": "https://keys.example.com/jwks"},
		errs: []string{"SLIPSTREAM_OIDC_ISSUER: required by"},
	}, {
		name: "an issuer that is not a URL",
		env:  map[string]string{"SLIPSTREAM_OIDC_ISSUER": "kubernetes", "SLIPSTREAM_OIDC_AUDIENCE": "a"},
		errs: []string{"SLIPSTREAM_OIDC_ISSUER"},
	}, {
		name: "the opt-out and OIDC settings together",
		env:  map[string]string{"SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS": "true", "SLIPSTREAM_OIDC_AUDIENCE": "a"},
		errs: []string{"SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS: contradicts"},
	}, {
		name: "credentials in the sink URL are refused and not printed",
		env:  map[string]string{"K_SINK": "https://user:hunter2@broker.example.com/"},
		errs: []string{"K_SINK", "credentials"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			var got Shared
			err := Load(Prefix, &got)
			if len(tc.errs) > 0 {
				var se *Error
				if !errors.As(err, &se) {
					t.Fatalf("Load() = %v, want *Error", err)
				}
				msg, at := err.Error(), 0
				for _, want := range tc.errs {
					i := strings.Index(msg[at:], want)
					if i < 0 {
						t.Fatalf("error does not say %q (in order):\n%s", want, msg)
					}
					at += i + len(want)
				}
				if strings.Contains(msg, "hunter2") {
					t.Errorf("error reveals a password: %s", msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			setEnv(t, nil)
			var want Shared
			if err := Load(Prefix, &want); err != nil {
				t.Fatal(err)
			}
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSecretFiles(t *testing.T) {
	token := secretFile(t, "s3cr3t-token\n")
	setEnv(t, map[string]string{"SLIPSTREAM_ROLLBACK_TOKEN_FILE": token})
	var r Rollback
	if err := Load(Prefix+"_ROLLBACK", &r); err != nil {
		t.Fatal(err)
	}
	if got := string(r.TokenFile.Value()); got != "s3cr3t-token" {
		t.Errorf("token = %q, want the file's content without the newline", got)
	}
	if r.TokenFile.Path() != token {
		t.Errorf("path = %q", r.TokenFile.Path())
	}
	for _, format := range []string{"%v", "%s", "%+v", "%#v"} {
		if s := sprintf(format, r); strings.Contains(s, "s3cr3t") {
			t.Errorf("%s of the settings reveals the secret: %s", format, s)
		}
	}

	for name, env := range map[string]map[string]string{
		"missing file": {"SLIPSTREAM_ROLLBACK_TOKEN_FILE": filepath.Join(t.TempDir(), "nope")},
		"empty file":   {"SLIPSTREAM_ROLLBACK_TOKEN_FILE": secretFile(t, "\n")},
	} {
		t.Run(name, func(t *testing.T) {
			setEnv(t, env)
			var r Rollback
			err := Load(Prefix+"_ROLLBACK", &r)
			if err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_ROLLBACK_TOKEN_FILE") {
				t.Errorf("Load() = %v, want an error naming SLIPSTREAM_ROLLBACK_TOKEN_FILE", err)
			}
		})
	}
}

func TestLoadFunctions(t *testing.T) {
	key := secretFile(t, "-----BEGIN OPENSSH PRIVATE KEY-----\n")
	pw := secretFile(t, "pw")
	loadInto := func(prefix string, spec Validator) func() error {
		return func() error { return Load(prefix, spec) }
	}
	// The formats intake knows are its own; any list shows how they are checked.
	loadIntake := func() error {
		_, err := LoadIntake([]string{"distribution", "harbor", "github", "quay", "acr"})
		return err
	}
	tests := []struct {
		name string
		load func() error
		env  map[string]string
		errs []string
	}{
		{
			name: "intake needs formats and registries",
			load: loadIntake,
			errs: []string{"SLIPSTREAM_INTAKE_FORMATS: required", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES: required"},
		},
		{
			name: "intake ok",
			load: loadIntake,
			env: map[string]string{"SLIPSTREAM_INTAKE_FORMATS": "distribution,github,quay", "SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE": pw,
				"SLIPSTREAM_INTAKE_GITHUB_HMAC_SECRET_FILE": pw, "SLIPSTREAM_INTAKE_QUAY_ALLOW_UNAUTHENTICATED": "true", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES": "r.example.com,quay.io"},
		},
		{
			name: "intake format without credentials",
			load: loadIntake,
			env:  map[string]string{"SLIPSTREAM_INTAKE_FORMATS": "harbor,nexus", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES": "r.example.com"},
			errs: []string{"SLIPSTREAM_INTAKE_HARBOR_TOKEN_FILE: format harbor has no credentials", `SLIPSTREAM_INTAKE_FORMATS: "nexus" is not one of`},
		},
		{
			name: "intake bad hosts",
			load: loadIntake,
			env:  map[string]string{"SLIPSTREAM_INTAKE_FORMATS": "acr", "SLIPSTREAM_INTAKE_ACR_ALLOW_UNAUTHENTICATED": "true", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES": "https://r.example.com,r.example.com:,ok.example.com:5000", "SLIPSTREAM_INTAKE_DEDUP_WINDOW": "0s"},
			errs: []string{`SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES: "https://r.example.com"`, `"r.example.com:" has an empty port`, "SLIPSTREAM_INTAKE_DEDUP_WINDOW"},
		},
		{
			name: "promote needs a URL",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			errs: []string{"SLIPSTREAM_PROMOTE_GIT_URL: required"},
		},
		{
			name: "promote ok",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			env:  map[string]string{"SLIPSTREAM_PROMOTE_GIT_URL": "https://git.example.com/config.git", "SLIPSTREAM_PROMOTE_GIT_PASSWORD_FILE": pw},
		},
		{
			name: "promote everything wrong",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			env: map[string]string{
				"SLIPSTREAM_PROMOTE_GIT_URL": "ftp://git.example.com/x", "SLIPSTREAM_PROMOTE_GIT_BRANCH": "a..b", "SLIPSTREAM_PROMOTE_PATHS": "apps,../etc,/abs",
				"SLIPSTREAM_PROMOTE_AUTHOR_EMAIL": "nobody", "SLIPSTREAM_PROMOTE_GIT_PASSWORD_FILE": pw, "SLIPSTREAM_PROMOTE_GIT_SSH_KEY_FILE": key, "SLIPSTREAM_PROMOTE_GIT_TIMEOUT": "0s"},
			errs: []string{`SLIPSTREAM_PROMOTE_GIT_URL: scheme "ftp"`, `SLIPSTREAM_PROMOTE_GIT_BRANCH: "a..b"`, `SLIPSTREAM_PROMOTE_PATHS: "../etc" is outside`, `SLIPSTREAM_PROMOTE_PATHS: "/abs" is outside`,
				"SLIPSTREAM_PROMOTE_AUTHOR_EMAIL", "SLIPSTREAM_PROMOTE_GIT_PASSWORD_FILE: set together", "SLIPSTREAM_PROMOTE_GIT_TIMEOUT"},
		},
		{
			name: "promote ssh needs key and known_hosts",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			env:  map[string]string{"SLIPSTREAM_PROMOTE_GIT_URL": "ssh://git@git.example.com/config.git"},
			errs: []string{"SLIPSTREAM_PROMOTE_GIT_SSH_KEY_FILE: required", "SLIPSTREAM_PROMOTE_GIT_KNOWN_HOSTS_FILE: required"},
		},
		{
			name: "promote password in URL",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			env:  map[string]string{"SLIPSTREAM_PROMOTE_GIT_URL": "https://u:hunter2@git.example.com/x"},
			errs: []string{"SLIPSTREAM_PROMOTE_GIT_URL: carries a password"},
		},
		{
			name: "promote token as the URL's user name",
			load: loadInto(Prefix+"_PROMOTE", &Promote{}),
			env:  map[string]string{"SLIPSTREAM_PROMOTE_GIT_URL": "https://ghp_0123456789abcdefghijklmnopqrstuvwxyzAB@github.com/team/config.git"},
			errs: []string{"SLIPSTREAM_PROMOTE_GIT_URL: carries a user name"},
		},
		{
			name: "rollout ok",
			load: loadInto(Prefix+"_ROLLOUT", &Rollout{}),
			env:  map[string]string{"SLIPSTREAM_ROLLOUT_PROMETHEUS_URL": "http://prometheus.monitoring:9090", "SLIPSTREAM_ROLLOUT_NAMESPACES": "demo,shop"},
		},
		{
			name: "rollout bad",
			load: loadInto(Prefix+"_ROLLOUT", &Rollout{}),
			env:  map[string]string{"SLIPSTREAM_ROLLOUT_PROMETHEUS_URL": "prometheus:9090", "SLIPSTREAM_ROLLOUT_NAMESPACES": "Demo", "SLIPSTREAM_ROLLOUT_CONCURRENCY": "0"},
			errs: []string{"SLIPSTREAM_ROLLOUT_PROMETHEUS_URL", `SLIPSTREAM_ROLLOUT_NAMESPACES: "Demo"`, "SLIPSTREAM_ROLLOUT_CONCURRENCY: 0: must be 1 or more"},
		},
		{
			name: "rollback needs credentials",
			load: loadInto(Prefix+"_ROLLBACK", &Rollback{}),
			errs: []string{"SLIPSTREAM_ROLLBACK_TOKEN_FILE: no credentials configured"},
		},
		{
			name: "rollback unauthenticated on purpose",
			load: loadInto(Prefix+"_ROLLBACK", &Rollback{}),
			env:  map[string]string{"SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED": "true"},
		},
		{
			name: "rollback basic auth half set",
			load: loadInto(Prefix+"_ROLLBACK", &Rollback{}),
			env:  map[string]string{"SLIPSTREAM_ROLLBACK_PASSWORD_FILE": pw},
			errs: []string{"SLIPSTREAM_ROLLBACK_USERNAME: basic auth needs both"},
		},
		{
			name: "rollback bad matchers",
			load: loadInto(Prefix+"_ROLLBACK", &Rollback{}),
			env:  map[string]string{"SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED": "true", "SLIPSTREAM_ROLLBACK_DEFAULT_ROLLBACK_ON": `severity="critical`},
			errs: []string{"SLIPSTREAM_ROLLBACK_DEFAULT_ROLLBACK_ON", "expected Alertmanager matchers"},
		},
		{
			name: "rollback bad labels",
			load: loadInto(Prefix+"_ROLLBACK", &Rollback{}),
			env:  map[string]string{"SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED": "true", "SLIPSTREAM_ROLLBACK_SERVICE_LABELS": "service-name"},
			errs: []string{`SLIPSTREAM_ROLLBACK_SERVICE_LABELS: "service-name" is not a label name`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			err := tc.load()
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatalf("Load() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load() accepted bad settings")
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ghp_") {
				t.Errorf("error reveals a secret: %v", err)
			}
		})
	}
}

func TestRollbackDefaults(t *testing.T) {
	setEnv(t, map[string]string{"SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED": "true"})
	var r Rollback
	if err := Load(Prefix+"_ROLLBACK", &r); err != nil {
		t.Fatal(err)
	}
	want := Rollback{AllowUnauthenticated: true, NamespaceLabels: []string{"namespace", "namespace_name"},
		ServiceLabels: []string{"service_name", "knative_service", "service"}, RevisionLabels: []string{"revision_name", "revision"}, APITimeout: 2 * time.Second, Concurrency: 16}
	if diff := cmp.Diff(want, r, cmpopts.IgnoreFields(Rollback{}, "DefaultRollbackOn"), cmp.AllowUnexported(Secret{})); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := r.DefaultRollbackOn.String(); got != `{severity="critical"}` {
		t.Errorf("default matchers = %s", got)
	}
}

func TestLoadIntakeReadsEveryFormat(t *testing.T) {
	pw := secretFile(t, "pw")
	setEnv(t, map[string]string{
		"SLIPSTREAM_INTAKE_FORMATS":                    "distribution,quay",
		"SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES":         "r.example.com",
		"SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE":    pw,
		"SLIPSTREAM_INTAKE_QUAY_ALLOW_UNAUTHENTICATED": "true",
		"SLIPSTREAM_INTAKE_GITHUB_TOKEN_FILE":          pw, // github is not enabled, but read
	})
	c, err := LoadIntake([]string{"distribution", "quay", "github"})
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(c.Auth)); !slices.Equal(got, []string{"distribution", "github", "quay"}) {
		t.Errorf("Auth holds %v, want every known format", got)
	}
	if d := c.Auth["distribution"]; !d.TokenFile.Set() || d.AllowUnauthenticated {
		t.Errorf("distribution: token set %v, unauthenticated %v; want a token", d.TokenFile.Set(), d.AllowUnauthenticated)
	}
	if q := c.Auth["quay"]; q.Configured() || !q.AllowUnauthenticated {
		t.Errorf("quay: configured %v, unauthenticated %v; want unauthenticated on purpose", q.Configured(), q.AllowUnauthenticated)
	}

	setEnv(t, map[string]string{
		"SLIPSTREAM_INTAKE_FORMATS":                    "distribution,quay",
		"SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES":         "r.example.com",
		"SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE":    pw,
		"SLIPSTREAM_INTAKE_QUAY_ALLOW_UNAUTHENTICATED": "sure",
	})
	_, err = LoadIntake([]string{"distribution", "quay"})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("LoadIntake = %v, want an *Error", err)
	}
	if want := `SLIPSTREAM_INTAKE_QUAY_ALLOW_UNAUTHENTICATED: "sure" is not a valid boolean`; !strings.Contains(err.Error(), want) || len(e.Problems) != 1 {
		t.Errorf("error should be the one line %q:\n%v", want, err)
	}

	// A format that is not enabled is read too: its bad setting stops start-up.
	setEnv(t, map[string]string{
		"SLIPSTREAM_INTAKE_FORMATS":                 "distribution",
		"SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES":      "r.example.com",
		"SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE": pw,
		"SLIPSTREAM_INTAKE_QUAY_TOKEN_FILE":         "/nonexistent/token",
	})
	if _, err = LoadIntake([]string{"distribution", "quay"}); err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_INTAKE_QUAY_TOKEN_FILE") {
		t.Errorf("a missing secret file of a disabled format: %v, want an error naming it", err)
	}
}
