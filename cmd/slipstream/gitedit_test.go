package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// rolledBackClone is a Git clone holding promote's testdata/rollback tree
// (demo/hello rolled back, its candidate's digest quarantined), and a fake
// cluster whose hello shows that rollback.
func rolledBackClone(t *testing.T, phase policy.Phase, candidate string) string {
	t.Helper()
	for k, v := range map[string]string{"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com", "GIT_COMMITTER_NAME": "Ada",
		"GIT_COMMITTER_EMAIL": "ada@example.com", "GIT_CONFIG_GLOBAL": os.DevNull, "GIT_CONFIG_NOSYSTEM": "1"} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	testutil.WriteTree(t, dir, testutil.ReadTree(t, filepath.Join("..", "..", "functions", "promote", "testdata", "retry", "original")))
	gitIn(t, dir, "init", "--quiet")
	gitIn(t, dir, "add", ".")
	gitIn(t, dir, "commit", "--quiet", "-m", "the rollback")
	st := policy.State{Phase: phase, Stable: "hello-aa11bb22cc", Candidate: candidate}
	cs := fake.NewSimpleClientset(testutil.Service("demo", "hello", testutil.WithState(st)))
	old, oldNow := servingFor, gitEditNow
	servingFor = func(string, string) (servingclient.Interface, string, error) { return cs, "demo", nil }
	gitEditNow = func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { servingFor, gitEditNow = old, oldNow })
	return dir
}

func gitIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.CommandContext(context.Background(), "git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

const quarantinedDigest = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"

func TestRetry(t *testing.T) {
	dir := rolledBackClone(t, policy.RolledBack, "hello-3f2a9c01b2")
	checkRun(t, []string{"retry", "hello", "--repo", filepath.Join(dir, "apps")}, exitOK,
		[]string{"Committed ", "slipstream: retry 1.4.0 of demo/hello (hello-2f13892484)", "push it (git push)", "rollout starts the candidate again from step 1"}, nil, nil)
	if log := gitIn(t, dir, "log", "--format=%s%n%b"); !strings.Contains(log, "Slipstream-Command: retry") {
		t.Errorf("git log:\n%s", log)
	}
	if st := gitIn(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the clone is left with changes:\n%s", st)
	}
	manifest, _ := os.ReadFile(filepath.Join(dir, "apps", "hello", "service.yaml"))
	for _, want := range []string{`"phase":"Pending"`, `"candidate":"hello-2f13892484"`, "slipstream.dev/quarantine: ''", "# take every 1.x"} {
		if !strings.Contains(string(manifest), want) {
			t.Errorf("manifest lacks %q:\n%s", want, manifest)
		}
	}
	// Once retried, the clone has no rollback to retry.
	checkRun(t, []string{"retry", "hello", "--repo", dir}, exitError, nil, []string{"refused: demo/hello has no rollback to retry in this repository (phase \"Pending\""}, nil)
}

func TestRetryRefuses(t *testing.T) {
	tests := []struct {
		name   string
		phase  policy.Phase
		cand   string // the candidate the cluster shows ("" hello-3f2a9c01b2)
		args   []string
		dirty  bool
		stderr string
		code   int
	}{
		{name: "a rollout in progress", phase: policy.Progressing, args: []string{"retry", "hello"}, stderr: `refused: demo/hello: the cluster shows no rollback to retry (phase "Progressing")`, code: exitError},
		{name: "the clone records another rollback", phase: policy.RolledBack, cand: "hello-0123456789", args: []string{"retry", "hello", "-n", "demo"},
			stderr: "refused: the repository's last rollback is of hello-3f2a9c01b2, the cluster's of hello-0123456789: pull", code: exitError},
		{name: "changes not committed", phase: policy.RolledBack, dirty: true, args: []string{"retry", "hello"}, stderr: "the clone has changes not committed to the files this edits", code: exitError},
		{name: "a Service the clone lacks", phase: policy.RolledBack, args: []string{"unquarantine", "cart", quarantinedDigest}, stderr: "refused: demo/cart: no manifest of this Service under the configured paths", code: exitError},
		{name: "paths without it", phase: policy.RolledBack, args: []string{"unquarantine", "hello", quarantinedDigest, "--paths", "clusters"}, stderr: "clusters", code: exitError},
		{name: "not a digest", phase: policy.RolledBack, args: []string{"unquarantine", "hello", "latest"}, stderr: `refused: "latest" is not a digest`, code: exitError},
		{name: "no digest", phase: policy.RolledBack, args: []string{"unquarantine", "hello"}, stderr: `takes <service> <digest>, got ["hello"]`, code: exitUsage},
		{name: "not a clone", phase: policy.RolledBack, args: []string{"retry", "hello", "--repo", os.TempDir()}, stderr: "is not in a Git clone", code: exitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cand := tt.cand
			if cand == "" {
				cand = "hello-3f2a9c01b2"
			}
			dir := rolledBackClone(t, tt.phase, cand)
			manifest := filepath.Join(dir, "apps", "hello", "service.yaml")
			if tt.dirty {
				b, _ := os.ReadFile(manifest)
				if err := os.WriteFile(manifest, append(b, "# mine\n"...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := tt.args
			if !strings.Contains(strings.Join(args, " "), "--repo") {
				args = append(args, "--repo", dir)
			}
			before := gitIn(t, dir, "rev-parse", "HEAD")
			checkRun(t, args, tt.code, nil, []string{tt.stderr}, nil)
			if after := gitIn(t, dir, "rev-parse", "HEAD"); after != before {
				t.Errorf("a refusal committed: %s", after)
			}
			if b, _ := os.ReadFile(manifest); tt.dirty != strings.HasSuffix(string(b), "# mine\n") || !strings.Contains(string(b), `"phase":"RolledBack"`) {
				t.Errorf("the manifest was written:\n%s", b)
			}
		})
	}
}

func TestUnquarantine(t *testing.T) {
	dir := rolledBackClone(t, policy.RolledBack, "hello-3f2a9c01b2")
	t.Setenv("KUBECONFIG", filepath.Join(dir, "none")) // -n: no cluster needed
	servingFor = nil
	checkRun(t, []string{"unquarantine", "-n", "demo", "hello", quarantinedDigest, "--repo", dir}, exitOK,
		[]string{"slipstream: unquarantine sha256:3f2a9c01b2d4 of demo/hello", "the next push of " + quarantinedDigest + " is rolled out"}, nil, nil)
	manifest, _ := os.ReadFile(filepath.Join(dir, "apps", "hello", "service.yaml"))
	if strings.Contains(string(manifest), quarantinedDigest+"\n") || !strings.Contains(string(manifest), `"phase":"RolledBack"`) {
		t.Errorf("manifest:\n%s", manifest)
	}
	checkRun(t, []string{"unquarantine", "-n", "demo", "hello", quarantinedDigest, "--repo", dir}, exitError, nil, []string{"refused: demo/hello does not quarantine " + quarantinedDigest}, nil)
}

// TestAFailedCommitLeavesTheCloneAsItWas: a commit git refuses (a hook
// here) leaves the manifest and the index as they were.
func TestAFailedCommitLeavesTheCloneAsItWas(t *testing.T) {
	dir := rolledBackClone(t, policy.RolledBack, "hello-3f2a9c01b2")
	hook := filepath.Join(dir, ".git", "hooks", "pre-commit")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\necho 'no commits today' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "apps", "hello", "service.yaml"))
	checkRun(t, []string{"unquarantine", "-n", "demo", "hello", quarantinedDigest, "--repo", dir}, exitError, nil, []string{"no commits today"}, nil)
	after, _ := os.ReadFile(filepath.Join(dir, "apps", "hello", "service.yaml"))
	if string(after) != string(before) {
		t.Errorf("the manifest was left edited")
	}
	if st := gitIn(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("the clone is left with changes:\n%s", st)
	}
}
