package main

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		stdoutNone bool
	}{
		{
			name:   "no arguments",
			args:   nil,
			code:   2,
			stderr: []string{"Usage:", "serve", "version"},
		},
		{
			name:   "help",
			args:   []string{"--help"},
			code:   0,
			stdout: []string{"Usage:", "serve", "version"},
		},
		{
			name:   "help serve",
			args:   []string{"help", "serve"},
			code:   0,
			stdout: []string{"Usage: slipstream serve <function>"},
		},
		{
			name:   "unknown command",
			args:   []string{"deploy"},
			code:   2,
			stderr: []string{`unknown command "deploy"`, "Commands:"},
		},
		{
			name:   "serve --help",
			args:   []string{"serve", "--help"},
			code:   0,
			stdout: []string{"Usage: slipstream serve <function>", "GET  /readyz", "Functions:", "Exit codes"},
		},
		{
			name:       "dev on ports below 1024",
			args:       []string{"dev", "--ports", "80"},
			code:       2,
			stderr:     []string{"--ports 80: the first of 9 ports must be between 1024"},
			stdoutNone: true,
		},
		{
			name:   "serve -h",
			args:   []string{"serve", "-h"},
			code:   0,
			stdout: []string{"Usage: slipstream serve"},
		},
		{
			name:       "serve unknown function",
			args:       []string{"serve", "nope"},
			code:       2,
			stderr:     []string{`unknown function "nope"`, "known functions: " + knownFunctions()},
			stdoutNone: true,
		},
		{
			name:   "serve without a name",
			args:   []string{"serve"},
			code:   2,
			stderr: []string{"expected one function name, got 0"},
		},
		{
			name:   "serve two names",
			args:   []string{"serve", "a", "b"},
			code:   2,
			stderr: []string{"expected one function name, got 2"},
		},
		{
			name:   "serve unknown flag",
			args:   []string{"serve", "--fast", "intake"},
			code:   2,
			stderr: []string{"flag provided but not defined: -fast", "Usage: slipstream serve"},
		},
		{
			name:   "dev --help lists its flags",
			args:   []string{"dev", "--help"},
			code:   0,
			stdout: []string{"Usage: slipstream dev [flags]", "-git-url", "-kubeconfig", "-pause", "-state"},
		},
		{
			name:   "dev unknown flag",
			args:   []string{"dev", "--bad"},
			code:   2,
			stderr: []string{"flag provided but not defined: -bad", "Flags:"},
		},
		{
			name:   "demo with an argument",
			args:   []string{"demo", "x"},
			code:   2,
			stderr: []string{"takes no arguments"},
		},
		{
			name:   "version",
			args:   []string{"version"},
			code:   0,
			stdout: []string{"slipstream dev go1."},
		},
		{
			name:   "version --help",
			args:   []string{"version", "--help"},
			code:   0,
			stdout: []string{"Usage: slipstream version"},
		},
		{
			name:   "version with an argument",
			args:   []string{"version", "x"},
			code:   2,
			stderr: []string{"takes no arguments"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout := checkRun(t, tc.args, tc.code, tc.stdout, tc.stderr, nil)
			if tc.stdoutNone && stdout != "" {
				t.Errorf("stdout should be empty: %s", stdout)
			}
		})
	}
}

// checkRun runs the command line args and checks its exit code, that its
// stdout and stderr say each of theirs, and that stdout says none of not.
// It returns stdout.
func checkRun(t *testing.T, args []string, code int, stdout, stderr, not []string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if got := run(context.Background(), args, &out, &errOut); got != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", got, code, out.String(), errOut.String())
	}
	for _, want := range stdout {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	for _, want := range stderr {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
		}
	}
	for _, n := range not {
		if strings.Contains(out.String(), n) {
			t.Errorf("stdout says %q:\n%s", n, out.String())
		}
	}
	return out.String()
}

func TestServeIntakeWithBadSettingsExits1(t *testing.T) {
	t.Setenv("SLIPSTREAM_INTAKE_FORMATS", "distribution,nexus")
	t.Setenv("SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES", "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "intake"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\n%s", code, stderr.String())
	}
	for _, want := range []string{`SLIPSTREAM_INTAKE_FORMATS: "nexus" is not one of`, "SLIPSTREAM_INTAKE_DISTRIBUTION_TOKEN_FILE", "SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES: required"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestServeIntakeNeedsASink(t *testing.T) {
	t.Setenv("SLIPSTREAM_INTAKE_FORMATS", "quay")
	t.Setenv("SLIPSTREAM_INTAKE_QUAY_ALLOW_UNAUTHENTICATED", "true")
	t.Setenv("SLIPSTREAM_INTAKE_ALLOWED_REGISTRIES", "quay.io")
	t.Setenv("K_SINK", "")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "intake"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "K_SINK is not set") {
		t.Errorf("exit code %d, stderr %s; want 1 naming K_SINK", code, stderr.String())
	}
}

// TestKoBuildsThisCommandStamped: .ko.yaml (what ko resolve builds the
// image with) builds this command, static, and sets the version variable
// `slipstream version` prints.
func TestKoBuildsThisCommandStamped(t *testing.T) {
	raw, err := os.ReadFile("../../.ko.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ko struct {
		Builds []struct {
			Main    string   `json:"main"`
			Env     []string `json:"env"`
			Ldflags []string `json:"ldflags"`
		} `json:"builds"`
	}
	if err := yaml.Unmarshal(raw, &ko); err != nil {
		t.Fatal(err)
	}
	if len(ko.Builds) != 1 || ko.Builds[0].Main != "./cmd/slipstream" {
		t.Fatalf("builds %+v, want one, of ./cmd/slipstream", ko.Builds)
	}
	b := ko.Builds[0]
	if !slices.Contains(b.Env, "CGO_ENABLED=0") || !slices.ContainsFunc(b.Ldflags, func(f string) bool { return strings.HasPrefix(f, "-X main.version=") }) {
		t.Errorf("build %+v: want CGO_ENABLED=0 and -X main.version=", b)
	}
	version = "stamped" // the variable the flag sets is this package's
	defer func() { version = "dev" }()
	var out bytes.Buffer
	if run(context.Background(), []string{"version"}, &out, &out); !strings.Contains(out.String(), "stamped") {
		t.Errorf("version prints %q, not main.version", out.String())
	}
}
