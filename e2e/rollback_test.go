//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/sim"
	"github.com/slipstream-cd/slipstream/policy"
)

// TestAlertRollsBack is scenario 2: a real Prometheus scrapes a synthetic
// per-revision error ratio and evaluates a real alert rule; a real
// Alertmanager sends the firing alert to rollback. Live traffic must be
// all on stable within a second of Alertmanager sending, and with the
// GitOps loop self-healing — as Argo CD (docs/gitops.md's settings) and as
// Flux (which re-applies traffic too) — and infra/policy's admission
// policy, the candidate must never get traffic back; Git is reverted with
// the digest quarantined, and the same digest pushed again is refused.
func TestAlertRollsBack(t *testing.T) {
	c := startCluster(t)
	for _, mode := range []string{argoCD, flux} {
		t.Run(mode, func(t *testing.T) { alertRollsBack(t, c, mode) })
	}
}

// alertRollsBack is TestAlertRollsBack with one GitOps mode.
func alertRollsBack(t *testing.T, c *cluster.Cluster, mode string) {
	ns := "shop-" + mode
	p := startPipeline(t, c, ns, options{mode: mode, pause: "3s"})
	a := startAlerting(t, p)

	d1 := p.push("team/hello", "1.0.0")
	stable := waitService(t, c, ns, service, 90*time.Second, "serving 1.0.0", servesOnly(d1)).Status.LatestReadyRevisionName

	// Every change of the live Service from here on, to prove the candidate
	// never gets traffic back after the rollback.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	w, err := c.Serving.ServingV1().Services(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + service})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	d2 := p.push("team/hello", "1.1.0")
	var candidate string
	waitService(t, c, ns, service, 90*time.Second, "giving the candidate traffic", func(s *servingv1.Service) bool {
		st := liveState(s)
		if strings.HasSuffix(st.CandidateImage, d2) {
			candidate = st.Candidate
		}
		return candidate != "" && kservice.Share(s.Status.Traffic, candidate) > 0
	})
	a.exporter.set(candidate, 0.5) // the candidate now answers half its requests with errors
	bad := time.Now()

	var sent, specStable, statusStable time.Time
	var stepState string    // the rollout annotation of the last step before the rollback
	var rolledBackAt string // the resourceVersion where spec went back to stable
	var leaks []string
	deadline := time.After(90 * time.Second)
	for statusStable.IsZero() {
		select {
		case ev := <-w.ResultChan():
			s, ok := ev.Object.(*servingv1.Service)
			if !ok {
				continue
			}
			if sent.IsZero() {
				if times := a.Sent(); len(times) > 0 {
					sent = times[0]
				}
			}
			if st := liveState(s); specStable.IsZero() && st.Phase == policy.Progressing && st.Candidate == candidate {
				stepState = s.Annotations[policy.AnnotationRollout]
			}
			if specStable.IsZero() && !sent.IsZero() && kservice.Share(s.Spec.Traffic, stable) == 100 {
				specStable, rolledBackAt = time.Now(), s.ResourceVersion
			}
			if !specStable.IsZero() && kservice.Share(s.Spec.Traffic, candidate) > 0 {
				leaks = append(leaks, "spec "+s.ResourceVersion+": "+sim.TargetsText(s.Spec.Traffic))
			}
			if !specStable.IsZero() && s.Status.ObservedGeneration == s.Generation && kservice.Share(s.Status.Traffic, stable) == 100 && ready(s) {
				statusStable = time.Now()
			}
		case <-deadline:
			t.Fatalf("no rollback within 90s of the candidate turning bad (Alertmanager sent at %v)", a.Sent())
		}
	}
	t.Logf("candidate bad → Alertmanager sent: %s; sent → live spec 100%% stable: %s (rv %s); → Knative status 100%% stable and Ready: %s",
		sent.Sub(bad).Round(time.Millisecond), specStable.Sub(sent).Round(time.Millisecond), rolledBackAt, statusStable.Sub(sent).Round(time.Millisecond))
	if d := specStable.Sub(sent); d > time.Second {
		t.Errorf("live traffic back on stable %s after Alertmanager sent, want within 1s", d)
	}

	// Git reverted: the head holds stable at 100%, the rollback recorded and
	// the digest quarantined.
	var head servingv1.Service
	waitFor(t, 30*time.Second, "Git reverted", func() bool {
		tree := testutil.Tree(t, p.bare)
		if err := sigsyaml.Unmarshal([]byte(tree["apps/hello/service.yaml"]), &head); err != nil {
			return false
		}
		st, _ := policy.ParseState(head.Annotations[policy.AnnotationRollout])
		return st.Phase == policy.RolledBack && kservice.Share(head.Spec.Traffic, stable) == 100
	})
	if q := head.Annotations[policy.AnnotationQuarantine]; !strings.Contains(q, d2) {
		t.Errorf("quarantine = %q, want it to hold %s", q, d2)
	}
	// kubectl describe ksvc tells it: a Warning RolledBack event, the alert named.
	waitFor(t, 10*time.Second, "a RolledBack event on the Service", func() bool {
		for _, ev := range serviceEvents(t, c, ns, service) {
			if ev.Reason == "RolledBack" && ev.Type == "Warning" && strings.Contains(ev.Note, candidate) {
				return true
			}
		}
		return false
	})

	// Watch on while the GitOps loop applies the revert and self-heals.
	settle := time.After(5 * time.Second)
watching:
	for {
		select {
		case ev, open := <-w.ResultChan():
			if !open {
				t.Fatal("the watch of the Service ended")
			}
			if s, ok := ev.Object.(*servingv1.Service); ok {
				if kservice.Share(s.Spec.Traffic, candidate) > 0 || kservice.Share(s.Status.Traffic, candidate) > 0 {
					leaks = append(leaks, s.ResourceVersion+": spec "+sim.TargetsText(s.Spec.Traffic)+" status "+sim.TargetsText(s.Status.Traffic))
				}
			}
		case <-settle:
			break watching
		}
	}
	if len(leaks) > 0 {
		t.Errorf("the rolled-back candidate got traffic again: %v", leaks)
	}
	// The revert reached the cluster: the live state is Git's.
	waitService(t, c, ns, service, 30*time.Second, "holding Git's reverted state", func(s *servingv1.Service) bool {
		return s.Annotations[policy.AnnotationRollout] == head.Annotations[policy.AnnotationRollout]
	})
	// Only infra/policy's guard may have refused an apply, and only of a
	// commit from before the revert.
	revert := testutil.Commits(t, p.bare)[0].Hash.String()
	guarded := 0
	for _, err := range p.SyncErrors() {
		if strings.Contains(err.Error(), "slipstream rolled back "+candidate) && !strings.Contains(err.Error(), revert) {
			guarded++
			continue
		}
		t.Errorf("the cluster refused an apply: %v", err)
	}
	t.Logf("applies of Git from before the rollback refused by infra/policy/rollback-sticks.yaml: %d", guarded)

	// The guard itself, deterministically: what an apply of a step's commit
	// after the rollback sends — the step's rollout annotation and traffic —
	// is refused while the live Service records the rollback of that rollout.
	live, err := c.Serving.ServingV1().Services(ns).Get(context.Background(), service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if stepState == "" {
		t.Fatal("no step of the rollout was seen live")
	}
	step, err := policy.ParseState(stepState)
	if err != nil {
		t.Fatal(err)
	}
	// And the promotion commit, had the rollback come at the last step: the
	// candidate promoted over that stable.
	promotedAt := time.Now().UTC()
	promoted := policy.State{Phase: policy.Promoted, Stable: candidate, StableImage: step.CandidateImage,
		PreviousStable: stable, PreviousStableImage: step.StableImage, PromotedAt: &promotedAt}
	for _, replay := range []struct {
		state   string
		traffic []servingv1.TrafficTarget
	}{
		{stepState, []servingv1.TrafficTarget{pin(stable, 75, "stable"), pin(candidate, 25, "candidate")}},
		{promoted.String(), []servingv1.TrafficTarget{pin(candidate, 100, "stable")}},
	} {
		again := live.DeepCopy()
		again.Annotations[policy.AnnotationRollout] = replay.state
		again.Spec.Traffic = replay.traffic
		_, err = c.Serving.ServingV1().Services(ns).Update(context.Background(), again, metav1.UpdateOptions{})
		if err == nil || !strings.Contains(err.Error(), "slipstream rolled back "+candidate) {
			t.Errorf("replaying %s with traffic %s: err = %v, want infra/policy's refusal", replay.state, sim.TargetsText(replay.traffic), err)
		}
	}
	// A new rollout, even of the same revision (its digest taken out of
	// quarantine), is not bound by the old record: another startedAt.
	fresh := live.DeepCopy()
	started := time.Now().UTC()
	fresh.Annotations[policy.AnnotationRollout] = policy.State{Phase: policy.Progressing, Stable: stable, StableImage: step.StableImage,
		Candidate: candidate, CandidateImage: step.CandidateImage, StartedAt: &started, Step: 1}.String()
	fresh.Spec.Traffic = []servingv1.TrafficTarget{pin(stable, 90, "stable"), pin(candidate, 10, "candidate")}
	if _, err := c.Serving.ServingV1().Services(ns).Update(context.Background(), fresh, metav1.UpdateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("a new rollout of %s: %v", candidate, err)
	}

	// The same digest again, under another tag: promote refuses it.
	commits := len(testutil.Subjects(t, p.bare))
	pushedAgain := time.Now()
	p.tag("team/hello", "1.1.0", "1.1.1")
	waitFor(t, 30*time.Second, "promote to refuse the quarantined digest", func() bool {
		for _, d := range p.Delivered() {
			if d.Event.Type() == eventing.TypeImagePushed && d.Event.Extensions()[eventing.ExtDigest] == d2 &&
				d.Event.Time().After(pushedAgain.Add(-time.Second)) && d.Trigger == "image-pushed" && d.Status == 200 && d.Reply == nil {
				return true
			}
		}
		return false
	})
	if got := len(testutil.Subjects(t, p.bare)); got != commits {
		t.Errorf("the quarantined digest made %d commits", got-commits)
	}
}

// waitFor polls ok every 50 ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := cluster.Until(ctx, 50*time.Millisecond, func(context.Context) (bool, error) { return ok(), nil }); err != nil {
		t.Fatalf("waited %s for %s", within, what)
	}
}
