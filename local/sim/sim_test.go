package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// desired is the Service demo/hello as Git holds it: the template named
// revision with the image, and the traffic given.
func desired(image, revision string, traffic ...eventing.TrafficTarget) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: demo\nspec:\n  template:\n")
	if revision != "" {
		fmt.Fprintf(&b, "    metadata:\n      name: %s\n", revision)
	}
	fmt.Fprintf(&b, "    spec:\n      containers:\n        - image: %s\n", image)
	if len(traffic) > 0 {
		b.WriteString("  traffic:\n")
	}
	for _, t := range traffic {
		fmt.Fprintf(&b, "    - revisionName: %s\n      percent: %d\n      tag: %s\n      latestRevision: false\n", t.RevisionName, t.Percent, t.Tag)
	}
	return []byte(b.String())
}

func target(revision string, percent int, tag string) eventing.TrafficTarget {
	return eventing.TrafficTarget{RevisionName: revision, Percent: percent, Tag: tag}
}

func TestClusterAdmitsLikeKnative(t *testing.T) {
	c := NewCluster(0, nil)
	ctx := context.Background()
	bad := desired("r.example.com/hello:1", "hello-a", target("hello-a", 95, "stable"))
	if _, err := c.Apply(ctx, bad); err == nil || !strings.Contains(err.Error(), "sum to 95") {
		t.Errorf("traffic summing to 95 was admitted: %v", err)
	}
	if _, err := c.Apply(ctx, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable"))); err != nil {
		t.Fatal(err)
	}
	// A patch is admitted only if the patched object validates.
	_, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType, []byte(`{"spec":{"template":{"metadata":{"name":"other-b"}}}}`), metav1.PatchOptions{})
	if err == nil || !strings.Contains(err.Error(), "prefix") {
		t.Errorf("a revision name without the Service's prefix was admitted: %v", err)
	}
}

func TestRevisionsBecomeReady(t *testing.T) {
	var mu sync.Mutex
	var changes []string
	c := NewCluster(time.Hour, func(ch Change) { mu.Lock(); changes = append(changes, ch.Kind); mu.Unlock() })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	if _, err := c.Apply(ctx, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable"))); err != nil {
		t.Fatal(err)
	}
	if err := c.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestCreatedRevisionName != "hello-a" || s.Status.LatestReadyRevisionName != "" || len(s.Status.Traffic) != 0 {
		t.Errorf("before Ready: %+v", s.Status)
	}
	now = now.Add(time.Hour)
	c.Reconcile(ctx)
	s, _ = c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestReadyRevisionName != "hello-a" || TrafficOf(s) != "hello-a 100% (stable)" || s.Status.ObservedGeneration != s.Generation ||
		s.Status.Traffic[0].URL == nil || !strings.HasPrefix(s.Status.Traffic[0].URL.String(), "http://stable-hello.demo.") {
		t.Errorf("after Ready: %+v", s.Status)
	}
	// A broken image never becomes Ready, and the route keeps what it had.
	c.MarkBroken("r.example.com/hello:2")
	if _, err := c.Apply(ctx, desired("r.example.com/hello:2", "hello-b", target("hello-a", 0, "stable"), target("hello-b", 100, "candidate"))); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	c.Reconcile(ctx)
	s, _ = c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if s.Status.LatestCreatedRevisionName != "hello-b" || s.Status.LatestReadyRevisionName != "hello-a" || TrafficOf(s) != "hello-a 100% (stable)" {
		t.Errorf("broken revision: %+v", s.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(strings.Join(changes, ","), "Revision") < 3 || !strings.Contains(strings.Join(changes, ","), "Service") {
		t.Errorf("changes reported: %v", changes)
	}
}

func TestRegistryNotifies(t *testing.T) {
	got := make(chan map[string]any, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer t" || !strings.Contains(r.Header.Get("Content-Type"), "distribution.events") {
			w.WriteHeader(401)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var env map[string]any
		json.Unmarshal(b, &env)
		got <- env
	}))
	defer hook.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := NewRegistry(ln, hook.URL, "Bearer t")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img, _ := random.Image(64, 1)
	ref, _ := name.NewTag(reg.Host + "/team/hello:1.0.0")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	select {
	case env := <-got:
		ev := env["events"].([]any)[0].(map[string]any)
		target := ev["target"].(map[string]any)
		if ev["action"] != "push" || target["tag"] != "1.0.0" || target["digest"] != d.String() || target["repository"] != "team/hello" {
			t.Errorf("notification %v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
	}
}

func TestTrafficFiresOnABadImage(t *testing.T) {
	alerts := make(chan map[string]any, 8)
	am := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n map[string]any
		json.NewDecoder(r.Body).Decode(&n)
		alerts <- n
	}))
	defer am.Close()
	c := NewCluster(0, nil)
	ctx := context.Background()
	mustApply(t, c, desired("r.example.com/hello:2", "hello-b", target("hello-b", 100, "stable")))
	c.Reconcile(ctx)
	tr := NewTraffic(c, am.URL, "Bearer x")
	if err := tr.Step(ctx, 100); err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 0 {
		t.Fatal("a healthy revision fired")
	}
	tr.MarkBad("r.example.com/hello:2")
	tr.Step(ctx, 100)
	if len(alerts) != 0 {
		t.Fatal("fired on the first window: the rule waits for two (pending first, as `for:`)")
	}
	tr.Step(ctx, 100)
	var n map[string]any
	select {
	case n = <-alerts:
	case <-time.After(5 * time.Second):
		t.Fatal("no notification after two bad windows")
	}
	a := n["alerts"].([]any)[0].(map[string]any)
	labels := a["labels"].(map[string]any)
	if n["version"] != "4" || a["status"] != "firing" || labels["revision_name"] != "hello-b" || labels["service_name"] != "hello" || labels["severity"] != "critical" {
		t.Errorf("notification %v", n)
	}
	if req, errs := tr.ErrorRatio("demo", "hello-b"); req != 100 || errs != 100 {
		t.Errorf("window %d/%d", errs, req)
	}
}

func mustApply(t *testing.T, c *Cluster, manifest []byte) {
	t.Helper()
	if _, err := c.Apply(context.Background(), manifest); err != nil {
		t.Fatal(err)
	}
}

// TestApplyIsKubectlApplyBehindKnativesWebhook replays what issue 12 saw on
// the real Knative Serving v0.42 webhook with `kubectl apply`: the app as a
// person wrote it is created; a commit naming the template is accepted; a
// commit that changes nothing but an annotation is refused, because the
// apply replaces the containers list with Git's, which lacks what the
// webhook defaulted — unless Git holds those defaults too.
func TestApplyIsKubectlApplyBehindKnativesWebhook(t *testing.T) {
	const image = "registry.example.com/team/hello@sha256:9999999999999999999999999999999999999999999999999999999999999999"
	withAnnotation := func(m []byte) []byte {
		return []byte(strings.Replace(string(m), "  namespace: demo\n", "  namespace: demo\n  annotations:\n    slipstream.dev/rollout: '{\"phase\":\"Promoted\"}'\n", 1))
	}
	firstDeploy := desired(image, "hello-9999999999", target("hello-9999999999", 100, "stable"))
	tests := []struct {
		name    string
		applies [][]byte
		denied  string // what the last apply's error says; "" for accepted
	}{
		{
			name:    "a state-only commit over a template without Knative's defaults is refused",
			applies: [][]byte{desired("registry.example.com/team/hello", ""), firstDeploy, withAnnotation(firstDeploy)},
			denied:  "Saw the following changes without a name change",
		},
		{
			name:    "with the defaults written in Git, the same commit applies",
			applies: [][]byte{desired("registry.example.com/team/hello", ""), withDefaults(firstDeploy, image), withAnnotation(withDefaults(firstDeploy, image))},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCluster(0, nil)
			ctx := context.Background()
			var err error
			for i, m := range tc.applies {
				if _, err = c.Apply(ctx, m); err != nil && i < len(tc.applies)-1 {
					t.Fatalf("apply %d: %v", i+1, err)
				}
			}
			switch {
			case tc.denied == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.denied != "" && (err == nil || !strings.Contains(err.Error(), tc.denied)):
				t.Errorf("apply: %v, want it refused with %q", err, tc.denied)
			}
			live, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
			if got := live.Spec.Template.Spec.Containers[0].Name; got != "user-container" {
				t.Errorf("live container name %q: the webhook's defaults were lost", got)
			}
		})
	}
}

// withDefaults writes into a manifest's container what Knative's webhook
// defaults in it.
func withDefaults(m []byte, image string) []byte {
	return []byte(strings.Replace(string(m), "        - image: "+image+"\n",
		"        - image: "+image+"\n          name: user-container\n          readinessProbe:\n            successThreshold: 1\n            tcpSocket:\n              port: 0\n          resources: {}\n", 1))
}

// TestSyncHealsDrift: like Argo CD with selfHeal, every Once puts back what
// Git holds; with nothing drifted it sends nothing.
func TestSyncHealsDrift(t *testing.T) {
	const image = "registry.example.com/team/hello:1"
	_, bare := testutil.NewGitRepo(t, map[string]string{"apps/hello/service.yaml": string(withDefaults(desired(image, "hello-a", target("hello-a", 100, "stable")), image))})
	c := NewCluster(0, nil)
	ctx := context.Background()
	s := NewSync(bare, "apps", c)
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	before, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if again, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{}); again.ResourceVersion != before.ResourceVersion {
		t.Errorf("a sync with nothing drifted wrote the Service (resourceVersion %s → %s)", before.ResourceVersion, again.ResourceVersion)
	}
	// Someone patches the live traffic; the next sync puts Git's back.
	if _, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType,
		[]byte(`{"metadata":{"annotations":{"note":"kept"}},"spec":{"traffic":[{"revisionName":"hello-a","percent":100,"tag":"drifted"}]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	live, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if tag := live.Spec.Traffic[0].Tag; tag != "stable" {
		t.Errorf("traffic tag %q after the sync, want Git's stable", tag)
	}
	if live.Annotations["note"] != "kept" {
		t.Error("an annotation Git never set was dropped: kubectl apply keeps it")
	}
}

// TestSyncIgnoresDifferencesLikeArgoCD: with /spec/traffic ignored (what
// docs/gitops.md asks of Argo CD for the git writer), traffic changed in the
// cluster alone is left as it is; a commit that changes anything else is
// applied whole, traffic included.
func TestSyncIgnoresDifferencesLikeArgoCD(t *testing.T) {
	const image = "registry.example.com/team/hello:1"
	manifest := func(state string, traffic ...eventing.TrafficTarget) string {
		m := string(withDefaults(desired(image, "hello-a", traffic...), image))
		return strings.Replace(m, "  namespace: demo\n", "  namespace: demo\n  annotations:\n    slipstream.dev/rollout: '"+state+"'\n", 1)
	}
	url, bare := testutil.NewGitRepo(t, map[string]string{"apps/hello/service.yaml": manifest(`{"phase":"Promoted"}`, target("hello-a", 100, "stable"))})
	c := NewCluster(0, nil)
	ctx := context.Background()
	s := NewSync(bare, "apps", c)
	s.Ignore = []string{"/spec/traffic"}
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	// The cluster's traffic changes (a rollback would): not undone.
	if _, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType,
		[]byte(`{"spec":{"traffic":[{"revisionName":"hello-a","percent":100,"tag":"held"}]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	live, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if tag := live.Spec.Traffic[0].Tag; tag != "held" {
		t.Errorf("traffic tag %q: a difference in an ignored field was synced", tag)
	}
	// A commit that changes the state annotation is applied whole.
	if err := testutil.Commit(url, t.TempDir(), map[string]string{"apps/hello/service.yaml": manifest(`{"phase":"RolledBack"}`, target("hello-a", 100, "stable"))}, "revert", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Once(ctx); err != nil {
		t.Fatal(err)
	}
	live, _ = c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if tag := live.Spec.Traffic[0].Tag; tag != "stable" || live.Annotations["slipstream.dev/rollout"] != `{"phase":"RolledBack"}` {
		t.Errorf("after a new commit: traffic tag %q, state %s; want Git's whole manifest", tag, live.Annotations["slipstream.dev/rollout"])
	}
}

// TestSyncAppliesTheWholeApplication: a sync that one OutOfSync object
// starts applies every object of the application (Argo CD's default), so
// traffic held in the cluster alone goes back to Git's — unless
// ApplyOutOfSyncOnly, which docs/gitops.md asks for with the git writer.
func TestSyncAppliesTheWholeApplication(t *testing.T) {
	const image = "registry.example.com/team/hello:1"
	hello := string(withDefaults(desired(image, "hello-a", target("hello-a", 100, "stable")), image))
	world := func(note string) string {
		m := strings.ReplaceAll(hello, "hello", "world")
		return strings.Replace(m, "  namespace: demo\n", "  namespace: demo\n  annotations:\n    note: "+note+"\n", 1)
	}
	tests := []struct {
		name               string
		applyOutOfSyncOnly bool
		wantTag            string // hello's traffic tag after world's commit is synced
	}{
		{
			name:    "default: hello is applied with world, its held traffic undone",
			wantTag: "stable",
		},
		{
			name:               "ApplyOutOfSyncOnly: only world is applied, hello's traffic stays held",
			applyOutOfSyncOnly: true,
			wantTag:            "held",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, bare := testutil.NewGitRepo(t, map[string]string{"apps/hello.yaml": hello, "apps/world.yaml": world("one")})
			c := NewCluster(0, nil)
			ctx := context.Background()
			s := NewSync(bare, "apps", c)
			s.Ignore, s.ApplyOutOfSyncOnly = []string{"/spec/traffic"}, tc.applyOutOfSyncOnly
			if _, err := s.Once(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType,
				[]byte(`{"spec":{"traffic":[{"revisionName":"hello-a","percent":100,"tag":"held"}]}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := testutil.Commit(url, t.TempDir(), map[string]string{"apps/world.yaml": world("two")}, "world changes", false); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Once(ctx); err != nil {
				t.Fatal(err)
			}
			w, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "world", metav1.GetOptions{})
			if w.Annotations["note"] != "two" {
				t.Fatalf("world's commit was not applied: note %q", w.Annotations["note"])
			}
			h, _ := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
			if tag := h.Spec.Traffic[0].Tag; tag != tc.wantTag {
				t.Errorf("hello's traffic tag %q, want %q", tag, tc.wantTag)
			}
		})
	}
}

// TestARevisionNameTakenByAnotherSpec: as Knative's CheckNameAvailability, a
// template naming an existing Revision with that Revision's spec reuses it;
// with another spec it creates nothing and migrates no traffic
// (RevisionNameTaken).
func TestARevisionNameTakenByAnotherSpec(t *testing.T) {
	c := NewCluster(0, nil)
	ctx := context.Background()
	get := func() *servingv1.Service {
		s, err := c.Serving.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	mustApply(t, c, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable")))
	c.Reconcile(ctx)
	mustApply(t, c, desired("r.example.com/hello:2", "hello-b", target("hello-b", 100, "stable")))
	c.Reconcile(ctx)
	// Back to hello-a with the template that made it: the Revision is reused.
	mustApply(t, c, desired("r.example.com/hello:1", "hello-a", target("hello-a", 100, "stable")))
	c.Reconcile(ctx)
	if s := get(); !s.IsReady() || TrafficOf(s) != "hello-a 100% (stable)" {
		t.Errorf("hello-a's own template: ready %v, traffic %s", s.IsReady(), TrafficOf(s))
	}
	// hello-b again, but with hello-a's image: a name taken by another spec.
	mustApply(t, c, desired("r.example.com/hello:1", "hello-b", target("hello-b", 100, "stable")))
	c.Reconcile(ctx)
	s := get()
	routes := s.Status.GetCondition(servingv1.ServiceConditionRoutesReady)
	if routes == nil || routes.Reason != "RevisionNameTaken" || s.IsReady() || TrafficOf(s) != "hello-a 100% (stable)" {
		t.Errorf("a taken name: routes %+v, ready %v, traffic %s; want RevisionNameTaken and the traffic not migrated", routes, s.IsReady(), TrafficOf(s))
	}
}

// TestARollbackSticksAtAdmission: an apply of Git from before a rollback —
// the step's state and traffic — is refused while the live Service records
// the rollback of that rollout, as infra/policy/rollback-sticks.yaml makes
// a real apiserver refuse it; the revert, and a later rollout of the same
// revision, are admitted.
func TestARollbackSticksAtAdmission(t *testing.T) {
	const image = "registry.example.com/team/hello:1"
	started := "2026-11-26T10:00:00Z"
	step := `{"phase":"Progressing","stable":"hello-a","candidate":"hello-b","startedAt":"` + started + `","step":1}`
	manifest := func(state string, traffic ...eventing.TrafficTarget) []byte {
		m := string(withDefaults(desired(image, "hello-b", traffic...), image))
		return []byte(strings.Replace(m, "  namespace: demo\n", "  namespace: demo\n  annotations:\n    slipstream.dev/rollout: '"+state+"'\n", 1))
	}
	c := NewCluster(0, nil)
	ctx := context.Background()
	mustApply(t, c, manifest(step, target("hello-a", 90, "stable"), target("hello-b", 10, "candidate")))
	// rollback: all on stable, and the record of what it rolled back.
	record := `{"phase":"RolledBack","stable":"hello-a","candidate":"hello-b","startedAt":"` + started + `"}`
	patch, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{"slipstream.dev/rollback": record}},
		"spec":     map[string]any{"traffic": []map[string]any{{"revisionName": "hello-a", "percent": 100, "tag": "stable"}}},
	})
	if _, err := c.Serving.ServingV1().Services("demo").Patch(ctx, "hello", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("the rollback's patch: %v", err)
	}
	for _, tc := range []struct {
		name     string
		manifest []byte
		refused  bool
	}{{
		name:     "the step, applied again",
		manifest: manifest(step, target("hello-a", 75, "stable"), target("hello-b", 25, "candidate")),
		refused:  true,
	}, {
		name:     "the promotion of the candidate",
		manifest: manifest(`{"phase":"Promoted","stable":"hello-b","previousStable":"hello-a"}`, target("hello-b", 100, "stable")),
		refused:  true,
	}, {
		name:     "promote's revert",
		manifest: manifest(`{"phase":"RolledBack","stable":"hello-a","candidate":"hello-b"}`, target("hello-a", 100, "stable"), target("hello-b", 0, "candidate")),
	}, {
		name: "a later rollout of the same revision",
		manifest: manifest(`{"phase":"Progressing","stable":"hello-a","candidate":"hello-b","startedAt":"2026-11-27T10:00:00Z","step":1}`,
			target("hello-a", 90, "stable"), target("hello-b", 10, "candidate")),
	}, {
		name:     "the promotion of the rolled-back rollout, which keeps its start",
		manifest: manifest(`{"phase":"Promoted","stable":"hello-b","previousStable":"hello-a","promotedAt":"2026-11-26T10:05:00Z","startedAt":"`+started+`"}`, target("hello-b", 100, "stable")),
		refused:  true,
	}, {
		name:     "the promotion of that later rollout (slipstream retry)",
		manifest: manifest(`{"phase":"Promoted","stable":"hello-b","previousStable":"hello-a","promotedAt":"2026-11-27T10:05:00Z","startedAt":"2026-11-27T10:00:00Z"}`, target("hello-b", 100, "stable")),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Apply(ctx, tc.manifest)
			if refused := err != nil && strings.Contains(err.Error(), "slipstream rolled back hello-b"); refused != tc.refused || (err != nil && !refused) {
				t.Errorf("apply: err = %v, want refused = %v", err, tc.refused)
			}
		})
	}
}
