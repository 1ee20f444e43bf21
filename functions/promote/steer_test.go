package promote

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// rolledBackDigest is the digest testdata/rollback quarantined.
const rolledBackDigest = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"

// TestSteerGolden makes a person's edits on the tree testdata/rollback
// left (its expected tree, copied to <case>/original) and compares the
// result with <case>/expected.
func TestSteerGolden(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(gitrepo.Files) (gitrepo.Change, error)
		subject string
		body    string
	}{
		{name: "retry", edit: func(f gitrepo.Files) (gitrepo.Change, error) {
			return Retry(f, []string{"."}, "demo", "hello", "hello-3f2a9c01b2", now)
		},
			subject: "slipstream: retry 1.4.0 of demo/hello (hello-2f13892484)",
			body:    "- demo/hello: retry 1.4.0 after its rollback (alert HighErrorRate"},
		{name: "unquarantine", edit: func(f gitrepo.Files) (gitrepo.Change, error) {
			return Unquarantine(f, []string{"."}, "demo", "hello", rolledBackDigest)
		}, subject: "slipstream: unquarantine sha256:3f2a9c01b2d4 of demo/hello", body: "lift the quarantine of " + rolledBackDigest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join("testdata", tc.name)
			original := testutil.ReadTree(t, filepath.Join(dir, "original"))
			c, err := tc.edit(gitrepo.Dir(filepath.Join(dir, "original")))
			if err != nil {
				t.Fatal(err)
			}
			if subject, _, _ := strings.Cut(c.Message, "\n"); subject != tc.subject || !strings.Contains(c.Message, tc.body) || !strings.Contains(c.Message, "Slipstream-Command: "+tc.name) {
				t.Errorf("message:\n%s\nwant the subject %q, %q and the command trailer", c.Message, tc.subject, tc.body)
			}
			got := map[string]string{}
			for p, b := range original {
				got[p] = b
			}
			for p, b := range c.Files {
				got[p] = string(b)
			}
			expected := filepath.Join(dir, "expected")
			if *update {
				testutil.WriteTree(t, expected, got)
				return
			}
			if diff := cmp.Diff(testutil.ReadTree(t, expected), got); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSteerRefuses(t *testing.T) {
	rolledBack := gitrepo.Dir(filepath.Join("testdata", "retry", "original"))
	progressing := gitrepo.Dir(filepath.Join("testdata", "promote", "original"))
	tests := []struct {
		name string
		edit func() (gitrepo.Change, error)
		want string
	}{
		{name: "retry without a rollback", edit: func() (gitrepo.Change, error) {
			return Retry(progressing, []string{"."}, "demo", "hello", "hello-3f2a9c01b2", now)
		},
			want: `demo/hello has no rollback to retry in this repository (phase "Pending"`},
		{name: "retry with the cluster traffic writer", edit: func() (gitrepo.Change, error) {
			return Retry(clusterWriter(t), []string{"."}, "demo", "hello", "hello-3f2a9c01b2", now)
		}, want: "uses the cluster traffic writer, whose rollouts start from promote's event"},
		{name: "retry of another rollback than the cluster's", edit: func() (gitrepo.Change, error) {
			return Retry(rolledBack, []string{"."}, "demo", "hello", "hello-0000000000", now)
		},
			want: "the repository's last rollback is of hello-3f2a9c01b2, the cluster's of hello-0000000000: pull"},
		{name: "retry of a Service the repository lacks", edit: func() (gitrepo.Change, error) { return Retry(rolledBack, []string{"."}, "demo", "cart", "cart-1", now) },
			want: "demo/cart: no manifest"},
		{name: "unquarantine of a digest not quarantined", edit: func() (gitrepo.Change, error) {
			return Unquarantine(rolledBack, []string{"."}, "demo", "hello", "sha256:"+strings.Repeat("0", 64))
		}, want: "demo/hello does not quarantine sha256:000"},
		{name: "unquarantine of no digest", edit: func() (gitrepo.Change, error) {
			return Unquarantine(rolledBack, []string{"."}, "demo", "hello", "3f2a9c01b2")
		},
			want: `"3f2a9c01b2" is not a digest`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := tc.edit()
			if !errors.Is(err, ErrSteer) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if len(c.Files) > 0 {
				t.Errorf("a refusal changes %d files", len(c.Files))
			}
		})
	}
}

// clusterWriter is testdata/retry's tree with the cluster traffic writer.
func clusterWriter(t *testing.T) gitrepo.Files {
	t.Helper()
	dir := t.TempDir()
	tree := testutil.ReadTree(t, filepath.Join("testdata", "retry", "original"))
	for p, b := range tree {
		tree[p] = strings.Replace(b, "    slipstream.dev/track:", "    slipstream.dev/traffic-writer: cluster\n    slipstream.dev/track:", 1)
	}
	testutil.WriteTree(t, dir, tree)
	return gitrepo.Dir(dir)
}
