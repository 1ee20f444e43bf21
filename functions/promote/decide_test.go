package promote

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/slipstream-cd/slipstream/eventing"
)

// unpinned is a managed Service whose traffic follows the latest revision:
// its stable revision is known only to the cluster (adoption).
const unpinned = `apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: hello
  namespace: demo
  annotations:
    slipstream.dev/track: semver:^1.0.0
spec:
  template:
    spec:
      containers:
        - image: registry.example.com/team/hello:1.0.0
`

// TestDecideImagePushed: the decision is a function of the manifests, the
// event and the live answers it is given; it asks for the live Services it
// needs instead of reading them, and says why it skips a Service.
func TestDecideImagePushed(t *testing.T) {
	push, err := eventing.NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestB, "distribution", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		needLive  []string
		skipped   []skip
		stable    string // of the one change; "" with none
		candidate string
		summary   string
	}
	tests := []struct {
		name     string
		manifest string
		lives    Lives
		want     want
	}{
		{
			name:     "pinned stable: no live answer needed",
			manifest: manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""),
			want:     want{stable: "hello-aa11bb22cc", candidate: "hello-3f2a9c01b2", summary: "at 0%, hello-aa11bb22cc stays stable"},
		},
		{
			name:     "unpinned, not read yet: asks for the live Service, changes nothing",
			manifest: unpinned,
			want:     want{needLive: []string{"demo/hello"}},
		},
		{
			name:     "unpinned, the cluster serves a revision: candidate beside it",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Found: true, Revision: "hello-00001", Image: "registry.example.com/team/hello:1.0.0"}},
			want:     want{stable: "hello-00001", candidate: "hello-3f2a9c01b2", summary: "hello-00001 stays stable"},
		},
		{
			name:     "unpinned, not in the cluster: first deploy at 100%",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Found: false}},
			want:     want{candidate: "hello-3f2a9c01b2", summary: "first deploy of"},
		},
		{
			name:     "unpinned, the cluster could not be read: adopt by a commit first",
			manifest: unpinned,
			lives:    Lives{"demo/hello": {Err: errors.New("forbidden")}},
			want:     want{stable: "hello-b16c2aacbc", summary: "adopt: pin the running template"},
		},
		{
			name:     "quarantined digest: skipped with the reason",
			manifest: manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, "\n    slipstream.dev/quarantine: "+digestB),
			want:     want{skipped: []skip{{Subject: "demo/hello", Reason: digestB + " is quarantined"}}},
		},
		{
			name:     "the track does not take the tag",
			manifest: strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""), "semver:^1.0.0", "tag:prod", 1),
			want:     want{skipped: []skip{{Subject: "demo/hello", Reason: "track tag:prod does not take tag 1.4.0"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			services, skipped := findServices(map[string][]byte{"apps/hello/service.yaml": []byte(tc.manifest)})
			if len(services) != 1 || len(skipped) > 0 {
				t.Fatalf("fixture: %d services, skipped %v", len(services), skipped)
			}
			lives := tc.lives
			if lives == nil {
				lives = Lives{}
			}
			out := decideImagePushed(services, push, lives)
			got := want{needLive: out.NeedLive, skipped: out.Skipped}
			if len(out.Changes) > 1 {
				t.Fatalf("%d changes for one Service", len(out.Changes))
			}
			for _, d := range out.Changes {
				got.stable, got.candidate, got.summary = d.Committed.StableRevision, d.Committed.CandidateRevision, d.Summary
				if !strings.Contains(d.Summary, tc.want.summary) {
					t.Errorf("summary %q lacks %q", d.Summary, tc.want.summary)
				}
				if strings.HasPrefix(d.Summary, "demo/hello") {
					t.Errorf("summary %q repeats the Service's name; the commit message adds it", d.Summary)
				}
				got.summary = tc.want.summary
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{}, skip{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// The same input decides the same way: nothing is read or remembered.
			if again := decideImagePushed(services, push, lives); !cmp.Equal(out.NeedLive, again.NeedLive) || len(again.Changes) != len(out.Changes) {
				t.Errorf("a second decision differs: %+v, then %+v", out, again)
			}
		})
	}
}
