//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// TestSteeringOnRealKnative is the steering commands as a person runs them:
// the slipstream binary with a kubeconfig of a ServiceAccount that may only
// get, list, watch and patch Knative Services in the namespace (what
// docs/status.md asks), against the real apiserver, Knative and the four
// functions: pause, resume, abort, then retry in a clone of the config
// repository pushed back, and promote. A real Prometheus scrapes rollout and
// rollback meanwhile, and the Grafana dashboard's queries must show it.
func TestSteeringOnRealKnative(t *testing.T) {
	c := startCluster(t)
	ns := "steer"
	p := startPipeline(t, c, ns, options{mode: argoCD})
	metrics := startMetricsProm(t, p)
	kubeconfig := personKubeconfig(t, p, ns)
	cli := func(wantCode int, args ...string) string {
		t.Helper()
		bin, err := slipstreamBin()
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, append(args, "-n", ns, "--kubeconfig", kubeconfig)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Ada", "GIT_AUTHOR_EMAIL=ada@example.com", "GIT_COMMITTER_NAME=Ada", "GIT_COMMITTER_EMAIL=ada@example.com")
		out, err := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != wantCode {
			t.Fatalf("slipstream %s: exit %d (%v), want %d:\n%s", strings.Join(args, " "), code, err, wantCode, out)
		}
		t.Logf("$ slipstream %s\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	d1 := p.push("team/hello", "1.0.0")
	waitService(t, c, ns, p.service, 90*time.Second, "serving 1.0.0, promoted", promotedTo(servesOnly(d1)))
	// Steps long enough that a person acts within one.
	p.edit("hello: minute-long steps", func(svc map[string]any) {
		_ = unstructured.SetNestedField(svc, "60s", "metadata", "annotations", policy.AnnotationPause)
	})
	waitService(t, c, ns, p.service, 30*time.Second, "the longer pause synced", func(s *servingv1.Service) bool { return s.Annotations[policy.AnnotationPause] == "60s" })
	cli(1, "pause", p.service) // nothing in progress: refused

	d2 := p.push("team/hello", "1.1.0")
	var candidate string
	waitService(t, c, ns, p.service, 60*time.Second, "giving 1.1.0 traffic", func(s *servingv1.Service) bool {
		st := liveState(s)
		candidate = st.Candidate
		return strings.HasSuffix(st.CandidateImage, d2) && kservice.Share(s.Status.Traffic, candidate) > 0
	})
	if out := cli(0, "pause", p.service); !strings.Contains(out, "pause set") {
		t.Errorf("pause said:\n%s", out)
	}
	waitService(t, c, ns, p.service, 30*time.Second, "Paused", func(s *servingv1.Service) bool {
		st := liveState(s)
		return st.Phase == policy.Paused && st.Candidate == candidate
	})
	cli(0, "resume", p.service)
	waitService(t, c, ns, p.service, 30*time.Second, "Progressing again, the control removed", func(s *servingv1.Service) bool {
		_, paused := s.Annotations[policy.AnnotationPaused]
		return liveState(s).Phase == policy.Progressing && !paused
	})
	cli(0, "abort", p.service, "--reason", "e2e: latency doubled")
	rolledBack := waitService(t, c, ns, p.service, 30*time.Second, "rolled back, all traffic on stable", func(s *servingv1.Service) bool {
		st := liveState(s)
		return st.Phase == policy.RolledBack && kservice.Share(s.Status.Traffic, candidate) == 0 && s.Status.ObservedGeneration == s.Generation
	})
	if st := liveState(rolledBack); !strings.Contains(st.Reason, "e2e: latency doubled") {
		t.Errorf("the rollback's reason %q does not carry the abort's", st.Reason)
	}
	waitFor(t, 30*time.Second, "Git to record the rollback and quarantine "+d2, func() bool {
		m := testutil.Tree(t, p.bare)[p.file()]
		return strings.Contains(m, `"phase":"RolledBack"`) && strings.Contains(m, d2)
	})
	cli(1, "promote", p.service) // nothing in progress: refused
	// What examples/grafana's dashboard shows of it, from a real Prometheus.
	checkDashboard(t, metrics, p)

	// Commits from before the rollback that the GitOps loop applied after it
	// are refused by infra/policy (one failed sync each): allowed, as in
	// TestAlertRollsBack. Any refusal of a later commit is a failure.
	beforeRetry := map[string]bool{}
	for _, c := range testutil.Commits(t, p.bare) {
		beforeRetry[c.Hash.String()] = true
	}

	// retry: a commit in a clone, pushed back, synced by the GitOps loop.
	clone := filepath.Join(t.TempDir(), "config")
	if out, err := exec.Command("git", "clone", "--quiet", "file://"+p.bare, clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	if out := cli(0, "retry", p.service, "--repo", clone); !strings.Contains(out, "slipstream: retry 1.1.0 of "+ns+"/"+p.service) {
		t.Errorf("retry said:\n%s", out)
	}
	if out, err := exec.Command("git", "-C", clone, "push", "--quiet", "origin", "HEAD").CombinedOutput(); err != nil {
		t.Fatalf("git push: %v\n%s", err, out)
	}
	var again string
	waitService(t, c, ns, p.service, 60*time.Second, "giving 1.1.0 traffic again", func(s *servingv1.Service) bool {
		st := liveState(s)
		again = st.Candidate
		return st.Phase == policy.Progressing && strings.HasSuffix(st.CandidateImage, d2) && kservice.Share(s.Status.Traffic, again) > 0
	})
	cli(0, "promote", p.service)
	waitService(t, c, ns, p.service, 60*time.Second, "promoting 1.1.0", promotedTo(servesOnly(d2)))
	if m := testutil.Tree(t, p.bare)[p.file()]; strings.Contains(m, "quarantine: sha256") {
		t.Errorf("the retried digest is still quarantined in Git:\n%s", m)
	}
	guarded := 0
	for _, err := range p.SyncErrors() {
		stale := false
		for hash := range beforeRetry {
			stale = stale || strings.Contains(err.Error(), hash)
		}
		if stale && strings.Contains(err.Error(), "slipstream rolled back "+candidate) {
			guarded++
			continue
		}
		t.Errorf("the cluster refused an apply: %v", err)
	}
	t.Logf("applies of Git from before the rollback refused by infra/policy/rollback-sticks.yaml: %d", guarded)
}

// personKubeconfig is the kubeconfig of a person allowed what the steering
// commands need in ns, and nothing more.
func personKubeconfig(t *testing.T, p *pipeline, ns string) string {
	t.Helper()
	ctx := context.Background()
	kube := p.c.Kube
	if _, err := kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "ada"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "steer"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"serving.knative.dev"}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch", "patch"}}}}
	if _, err := kube.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ada-steers"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "steer"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Name: "ada", Namespace: ns}}}
	if _, err := kube.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token, err := p.c.Token(ctx, ns, "ada", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := p.c.WriteKubeconfig(ns+"-ada", token)
	if err != nil {
		t.Fatal(err)
	}
	return kc
}
