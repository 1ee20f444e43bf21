package promote

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/internal/yamlpatch"
	"github.com/slipstream-cd/slipstream/policy"
)

const (
	digestA = "sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	digestB = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
	digestC = "sha256:c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00"
)

func pushed(t *testing.T, repo, tag, digest string) cloudevents.Event {
	t.Helper()
	d, err := eventing.NewImagePushed("registry.example.com/"+repo+":"+tag+"@"+digest, "distribution", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e, err := eventing.New("intake", d, now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func event(t *testing.T, d eventing.Data) cloudevents.Event {
	t.Helper()
	e, err := eventing.New("rollout", d, now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func manifest(ns, name, image, extra string) string {
	return fmt.Sprintf(`apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    slipstream.dev/track: semver:^1.0.0%s
spec:
  template:
    metadata:
      name: %s-aa11bb22cc
    spec:
      containers:
        - image: %s
  traffic:
    - revisionName: %s-aa11bb22cc
      percent: 100
      tag: stable
`, name, ns, extra, name, image, name)
}

// revisionOf is the name promote gives the revision of a manifest's
// template with image (revisions are named after their whole template).
func revisionOf(t *testing.T, manifest, image string) string {
	t.Helper()
	services, skipped := findServices(map[string][]byte{"apps/x/service.yaml": []byte(manifest)})
	if len(services) != 1 {
		t.Fatalf("fixture: %d services, %v", len(services), skipped)
	}
	return mustRevision(t, services[0], image)
}

func stateOf(t *testing.T, file string) policy.State {
	t.Helper()
	f, err := yamlpatch.Parse([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	_, v := yamlpatch.Lookup(f.Docs()[0], "metadata", "annotations", policy.AnnotationRollout)
	if v == nil {
		t.Fatalf("no state annotation in\n%s", file)
	}
	s, err := policy.ParseState(v.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAdoptionWithoutClusterAccess runs the two commits of adoption: pin the
// running template, then — once rollout reports that revision as promoted —
// put the waiting image in as the candidate.
func TestAdoptionWithoutClusterAccess(t *testing.T) {
	files := testutil.ReadTree(t, filepath.Join("testdata", "adopt-without-cluster", "original"))
	want := revisionOf(t, files["apps/hello/service.yaml"], "registry.example.com/team/hello:1.5.0@"+digestC)
	s := newServer(t, files, nil) // no cluster access at all
	if status, reply := s.deliver(t, pushed(t, "team/hello", "1.4.0", digestB)); status != 200 || reply == nil {
		t.Fatalf("adoption: %d %v", status, reply)
	}
	st := stateOf(t, testutil.Tree(t, s.bare)["apps/hello/service.yaml"])
	if st.Phase != policy.Adopting || st.PendingImage == "" || st.Candidate != "" {
		t.Fatalf("after adoption: %+v", st)
	}
	// A newer push while adoption is under way waits too.
	s.deliver(t, pushed(t, "team/hello", "1.5.0", digestC))
	st = stateOf(t, testutil.Tree(t, s.bare)["apps/hello/service.yaml"])
	if st.Phase != policy.Adopting || !strings.HasSuffix(st.PendingImage, digestC) {
		t.Fatalf("a push during adoption: %+v", st)
	}
	status, reply := s.deliver(t, event(t, eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: st.Stable,
		Image: "registry.example.com/team/hello:1.0.0@" + digestA}))
	if status != 200 || reply == nil {
		t.Fatalf("adoption done: %d %v", status, reply)
	}
	c, _ := eventing.Decode[eventing.ManifestCommitted](*reply)
	if c.StableRevision != st.Stable || c.CandidateRevision != want {
		t.Errorf("manifest.committed %+v", c)
	}
	st = stateOf(t, testutil.Tree(t, s.bare)["apps/hello/service.yaml"])
	if st.Phase != policy.Pending || st.Candidate != want || st.PendingImage != "" {
		t.Errorf("after adoption finished: %+v", st)
	}
	subjects := testutil.Subjects(t, s.bare)
	if len(subjects) != 4 {
		t.Errorf("commits %q, want seed + adopt + waiting image + candidate", subjects)
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	broken := "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: [unclosed\n"
	longName := strings.Repeat("a", 60)
	hello := manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, "")
	candidate := revisionOf(t, hello, "registry.example.com/team/hello:1.4.0@"+digestB)
	s := newServer(t, map[string]string{
		"apps/broken/service.yaml": broken,
		"apps/long/service.yaml":   manifest("demo", longName, "registry.example.com/team/hello:1.0.0@"+digestA, ""),
		"apps/hello/service.yaml":  hello,
	}, nil)

	// An event that is not a valid image.pushed: 400, nothing written.
	bad := pushed(t, "team/hello", "1.4.0", digestB)
	_ = bad.SetData(cloudevents.ApplicationJSON, map[string]string{"image": "not pinned"})
	if status, _ := s.deliver(t, bad); status != 400 {
		t.Errorf("invalid event: %d, want 400", status)
	}
	if n := len(testutil.Subjects(t, s.bare)); n != 1 {
		t.Fatalf("an invalid event made %d commits", n-1)
	}

	// A broken manifest and a Service Knative would refuse do not block the good one.
	status, reply := s.deliver(t, pushed(t, "team/hello", "1.4.0", digestB))
	if status != 200 || reply == nil {
		t.Fatalf("status %d reply %v", status, reply)
	}
	head := testutil.Commits(t, s.bare)[0]
	tree := testutil.Tree(t, s.bare)
	if tree["apps/broken/service.yaml"] != broken || !strings.Contains(tree["apps/hello/service.yaml"], candidate) ||
		strings.Contains(tree["apps/long/service.yaml"], digestB) {
		t.Errorf("tree after the push:\n%v", tree)
	}
	for _, want := range []string{"Skipped:", "apps/broken/service.yaml: does not parse", "demo/" + longName + ": " + policy.ErrNameTooLong.Error()} {
		if !strings.Contains(head.Message, want) {
			t.Errorf("commit message lacks %q:\n%s", want, head.Message)
		}
	}
	// An event for a Service no manifest has: acknowledged, nothing written.
	if status, reply := s.deliver(t, event(t, eventing.RolloutPromoted{Namespace: "demo", Service: "ghost", Revision: "ghost-aa11bb22cc",
		Image: "registry.example.com/team/ghost:1.0.0@" + digestA})); status != 200 || reply != nil {
		t.Errorf("unknown Service: %d %v", status, reply)
	}
	if n := len(testutil.Subjects(t, s.bare)); n != 2 {
		t.Errorf("%d commits, want 2", n)
	}
}

func TestOnePushManyServices(t *testing.T) {
	s := newServer(t, map[string]string{
		"apps/a/service.yaml": manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""),
		"apps/b/service.yaml": manifest("staging", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""),
	}, nil)
	status, reply := s.deliver(t, pushed(t, "team/hello", "1.4.0", digestB))
	if status != 200 || reply == nil {
		t.Fatalf("%d %v", status, reply)
	}
	subjects := testutil.Subjects(t, s.bare)
	if len(subjects) != 2 || subjects[0] != "slipstream: deploy team/hello:1.4.0 to 2 Services" {
		t.Errorf("one commit for both Services expected: %q", subjects)
	}
	sent := s.sink.Events()
	if len(sent) != 1 || reply.Subject() == sent[0].Subject() {
		t.Fatalf("the second manifest.committed should go to the sink: reply %s, sent %d", reply.Subject(), len(sent))
	}
}

func TestRollbackAppendsToQuarantine(t *testing.T) {
	files := testutil.ReadTree(t, filepath.Join("testdata", "rollback", "original"))
	files["apps/hello/service.yaml"] = strings.Replace(files["apps/hello/service.yaml"], "    slipstream.dev/rollout:",
		"    slipstream.dev/quarantine: \""+digestC+"\"\n    slipstream.dev/rollout:", 1)
	s := newServer(t, files, nil)
	e := loadEvent(t, filepath.Join("testdata", "rollback", "event.json"))
	if status, _ := s.deliver(t, e); status != 200 {
		t.Fatalf("status %d", status)
	}
	got := testutil.Tree(t, s.bare)["apps/hello/service.yaml"]
	if !strings.Contains(got, `slipstream.dev/quarantine: "`+digestC+","+digestB+`"`) {
		t.Errorf("quarantine not appended in its own style:\n%s", got)
	}
	// Once rolled back, the same digest is refused.
	if status, reply := s.deliver(t, pushed(t, "team/hello", "1.4.0", digestB)); status != 200 || reply != nil {
		t.Errorf("quarantined push: %d %v", status, reply)
	}
	if msg := testutil.Commits(t, s.bare)[0].Message; !strings.Contains(msg, "alert HighErrorRate") || !strings.Contains(msg, "severity=\\\"critical\\\"") && !strings.Contains(msg, `severity="critical"`) {
		t.Errorf("rollback commit does not name the alert:\n%s", msg)
	}
}

// TestConcurrentPromoters: 20 pushes for 20 Services handled at once by 20
// promote instances, while a person commits too. Every change lands.
func TestConcurrentPromoters(t *testing.T) {
	files := map[string]string{"README.md": "config\n"}
	candidates := map[int]string{}
	for i := 0; i < 20; i++ {
		m := manifest("demo", fmt.Sprintf("s%02d", i), fmt.Sprintf("registry.example.com/team/s%02d:1.0.0@%s", i, digestA), "")
		files[fmt.Sprintf("apps/s%02d/service.yaml", i)] = m
		candidates[i] = revisionOf(t, m, fmt.Sprintf("registry.example.com/team/s%02d:1.4.0@%s", i, digestB))
	}
	first := newServer(t, files, nil)
	servers := []*server{first}
	for i := 1; i < 20; i++ {
		servers = append(servers, newServerFor(t, first.gitURL, nil))
	}
	var wg sync.WaitGroup
	statuses := make(chan int, 21)
	for i, s := range servers {
		wg.Add(1)
		go func(i int, s *server) {
			defer wg.Done()
			status, _ := s.deliver(t, pushed(t, fmt.Sprintf("team/s%02d", i), "1.4.0", digestB))
			statuses <- status
		}(i, s)
	}
	wg.Add(1)
	personDir := t.TempDir()
	go func() {
		defer wg.Done()
		for try := 0; try < 100; try++ {
			if testutil.Commit(first.gitURL, filepath.Join(personDir, fmt.Sprint(try)), map[string]string{"README.md": "edited by a person\n"}, "person edits README", false) == nil {
				return
			}
		}
		statuses <- -1
	}()
	wg.Wait()
	close(statuses)
	for st := range statuses {
		if st != 200 {
			t.Errorf("status %d", st)
		}
	}
	tree := testutil.Tree(t, first.bare)
	for i := 0; i < 20; i++ {
		if !strings.Contains(tree[fmt.Sprintf("apps/s%02d/service.yaml", i)], "name: "+candidates[i]) {
			t.Errorf("s%02d lost its update", i)
		}
	}
	if tree["README.md"] != "edited by a person\n" {
		t.Error("the person's commit was lost")
	}
	if n := len(testutil.Subjects(t, first.bare)); n != 22 {
		t.Errorf("%d commits, want 22 (seed, person, 20 deploys)", n)
	}
}

// TestStory runs a Service through push → promotion → push → rollback and
// checks the history reads as the steps a careful person would commit.
func TestStory(t *testing.T) {
	hello := manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, "")
	r14 := revisionOf(t, hello, "registry.example.com/team/hello:1.4.0@"+digestB)
	r15 := revisionOf(t, hello, "registry.example.com/team/hello:1.5.0@"+digestC)
	s := newServer(t, map[string]string{"apps/hello/service.yaml": hello}, nil)
	steps := []cloudevents.Event{
		pushed(t, "team/hello", "1.4.0", digestB),
		event(t, eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: r14, PreviousRevision: "hello-aa11bb22cc",
			Image: "registry.example.com/team/hello:1.4.0@" + digestB}),
		pushed(t, "team/hello", "1.5.0", digestC),
		event(t, eventing.RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: r14, CandidateRevision: r15,
			Image: "registry.example.com/team/hello:1.5.0@" + digestC, Reason: "alert HighErrorRate", Alert: &eventing.Alert{Name: "HighErrorRate"}}),
		pushed(t, "team/hello", "1.5.0", digestC), // quarantined now
	}
	for i, e := range steps {
		if status, _ := s.deliver(t, e); status != 200 {
			t.Fatalf("step %d (%s): status %d", i+1, e.Type(), status)
		}
	}
	want := []string{
		"slipstream: roll back 1.5.0 of demo/hello to " + r14 + " (HighErrorRate)",
		"slipstream: deploy team/hello:1.5.0 to demo/hello",
		"slipstream: promote 1.4.0 (" + r14 + ") in demo/hello",
		"slipstream: deploy team/hello:1.4.0 to demo/hello",
		"seed",
	}
	if got := testutil.Subjects(t, s.bare); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	final := testutil.Tree(t, s.bare)["apps/hello/service.yaml"]
	for _, line := range []string{"name: " + r14, "image: registry.example.com/team/hello:1.4.0@" + digestB,
		"slipstream.dev/quarantine: " + digestC, "- revisionName: " + r14 + "\n      percent: 100\n      tag: stable\n"} {
		if !strings.Contains(final, line) {
			t.Errorf("final manifest lacks %q:\n%s", line, final)
		}
	}
	if st := stateOf(t, final); st.Phase != policy.RolledBack || st.Candidate != r15 {
		t.Errorf("state %+v, want RolledBack recording %s as the candidate rolled back", st, r15)
	}
	_, spec, _ := strings.Cut(final, "\nspec:\n")
	if strings.Contains(spec, r15) {
		t.Errorf("the rolled-back revision is still in the template or the traffic:\n%s", final)
	}
}

func TestClusterWriterStepsStayOutOfGit(t *testing.T) {
	files := testutil.ReadTree(t, filepath.Join("testdata", "traffic-shifted", "original"))
	files["apps/hello/service.yaml"] = strings.Replace(files["apps/hello/service.yaml"], "    slipstream.dev/track:", "    slipstream.dev/traffic-writer: cluster\n    slipstream.dev/track:", 1)
	s := newServer(t, files, nil)
	if status, reply := s.deliver(t, loadEvent(t, filepath.Join("testdata", "traffic-shifted", "event.json"))); status != 200 || reply != nil {
		t.Errorf("status %d reply %v, want an acknowledged refusal", status, reply)
	}
	if n := len(testutil.Subjects(t, s.bare)); n != 1 {
		t.Errorf("%d commits, want none beyond the seed", n-1)
	}
}

// countingLive answers like a cluster serving hello-00001 and counts reads.
type countingLive struct {
	mu    sync.Mutex
	reads int
}

func (c *countingLive) Live(_ context.Context, _, _ string) (kservice.Live, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads++
	return kservice.Live{Exists: true, Serving: "hello-00001", Image: "registry.example.com/team/hello:1.0.0"}, nil
}

func (c *countingLive) RevisionTemplate(_ context.Context, _, _, _ string) (servingv1.RevisionTemplateSpec, bool, error) {
	return servingv1.RevisionTemplateSpec{}, false, nil
}

// TestLiveIsReadOncePerServiceOutsideTheEdit: adoption reads the live
// Service once, before the edit that uses the answer; a redelivery, whose
// manifest now pins the stable revision, reads nothing.
func TestLiveIsReadOncePerServiceOutsideTheEdit(t *testing.T) {
	live := &countingLive{}
	s := newServer(t, map[string]string{"apps/hello/service.yaml": unpinned}, live)
	e := pushed(t, "team/hello", "1.4.0", digestB)
	if status, reply := s.deliver(t, e); status != 200 || reply == nil {
		t.Fatalf("push: %d %v", status, reply)
	}
	if live.reads != 1 {
		t.Errorf("%d reads of the live Service, want 1", live.reads)
	}
	want := revisionOf(t, unpinned, "registry.example.com/team/hello:1.4.0@"+digestB)
	if st := stateOf(t, testutil.Tree(t, s.bare)["apps/hello/service.yaml"]); st.Stable != "hello-00001" || st.Candidate != want {
		t.Errorf("state %+v, want candidate %s beside the live hello-00001", st, want)
	}
	s.deliver(t, e)
	if live.reads != 1 {
		t.Errorf("a redelivery read the live Service again (%d reads)", live.reads)
	}
}

func TestNewRefusesWhatCannotWork(t *testing.T) {
	repo, err := gitrepo.New("file:///nonexistent", "main")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		repo Repo
		opts []Option
		ok   bool
	}{
		{
			name: "defaults: the whole repository",
			repo: repo,
			ok:   true,
		},
		{
			name: "no repository",
			repo: nil,
		},
		{
			name: "no paths",
			repo: repo,
			opts: []Option{WithPaths()},
		},
		{
			name: "an empty path",
			repo: repo,
			opts: []Option{WithPaths("apps", "")},
		},
		{
			name: "no clock",
			repo: repo,
			opts: []Option{WithClock(nil)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.repo, tc.opts...); (err == nil) != tc.ok {
				t.Errorf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// TestRoutesPeopleAddedAreKept: targets slipstream does not own — 0% under
// another tag, a latestRevision route for testing — survive every commit,
// and a latestRevision route with 0% does not make promote think nothing is
// pinned.
func TestRoutesPeopleAddedAreKept(t *testing.T) {
	hello := strings.Replace(manifest("demo", "hello", "registry.example.com/team/hello:1.0.0@"+digestA, ""), "      tag: stable\n",
		"      tag: stable\n    - revisionName: hello-0000000001\n      percent: 0\n      tag: preview # Ada's preview route\n    - latestRevision: true\n      percent: 0\n      tag: latest\n", 1)
	s := newServer(t, map[string]string{"apps/hello/service.yaml": hello}, nil)
	status, reply := s.deliver(t, pushed(t, "team/hello", "1.4.0", digestB))
	if status != 200 || reply == nil {
		t.Fatalf("push: %d %v", status, reply)
	}
	c, _ := eventing.Decode[eventing.ManifestCommitted](*reply)
	if c.StableRevision != "hello-aa11bb22cc" {
		t.Errorf("stable %q: the latest route made promote adopt instead of keeping the pinned stable revision", c.StableRevision)
	}
	got := testutil.Tree(t, s.bare)["apps/hello/service.yaml"]
	for _, want := range []string{"tag: preview # Ada's preview route", "revisionName: hello-0000000001", "latestRevision: true", "tag: latest", "tag: candidate"} {
		if !strings.Contains(got, want) {
			t.Errorf("after the push the manifest lacks %q:\n%s", want, got)
		}
	}
}
