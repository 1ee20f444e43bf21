//go:build e2e

package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// liveState is the rollout state the live Service's annotations hold.
func liveState(s *servingv1.Service) policy.State {
	st, _ := policy.LiveState(s.Annotations)
	return st
}

// servesOnly reports whether Knative serves 100% of the Service's traffic
// from one Ready revision whose image has the digest.
func servesOnly(digest string) func(*servingv1.Service) bool {
	return func(s *servingv1.Service) bool {
		if !ready(s) || len(s.Status.Traffic) == 0 {
			return false
		}
		for _, t := range s.Status.Traffic {
			if t.Percent != nil && *t.Percent == 100 {
				return strings.HasSuffix(s.Spec.Template.Spec.Containers[0].Image, digest) && t.RevisionName == s.Status.LatestReadyRevisionName
			}
		}
		return false
	}
}

// TestPushToPromotion is scenario 1: a push with crane reaches intake from
// a real registry, promote commits over git http-backend, the GitOps loop
// applies each commit — as Argo CD (client-side apply) and as Flux
// (server-side apply) — and Knative's own controller makes the candidate
// Ready and reports every step in status.traffic until it is promoted. No
// commit may be refused by Knative's webhook (the safety issue's case 0).
func TestPushToPromotion(t *testing.T) {
	c := startCluster(t)
	for _, mode := range []string{argoCD, flux} {
		t.Run(mode, func(t *testing.T) {
			ns := "shop-" + mode
			p := startPipeline(t, c, ns, options{mode: mode})

			start := time.Now()
			d1 := p.push("team/hello", "1.0.0")
			waitService(t, c, ns, service, 90*time.Second, "serving 1.0.0", servesOnly(d1))
			t.Logf("first push → 1.0.0 serving 100%%: %s", time.Since(start).Round(10*time.Millisecond))

			start = time.Now()
			d2 := p.push("team/hello", "1.1.0")
			var seen []int64
			var candidate string
			final := waitService(t, c, ns, service, 2*time.Minute, "promoting 1.1.0", func(s *servingv1.Service) bool {
				st := liveState(s)
				if st.Candidate != "" && strings.HasSuffix(st.CandidateImage, d2) {
					candidate = st.Candidate
				}
				if candidate != "" && s.Status.ObservedGeneration == s.Generation {
					for _, tt := range s.Status.Traffic {
						if tt.RevisionName == candidate && tt.Percent != nil && *tt.Percent > 0 &&
							(len(seen) == 0 || seen[len(seen)-1] != *tt.Percent) {
							seen = append(seen, *tt.Percent)
						}
					}
				}
				return servesOnly(d2)(s) && st.Phase == policy.Promoted
			})
			t.Logf("second push → promoted: %s; candidate weights Knative reported: %v", time.Since(start).Round(10*time.Millisecond), seen)
			for _, w := range []int64{10, 25, 50, 100} {
				if !slices.Contains(seen, w) {
					t.Errorf("status.traffic never gave the candidate %d%% (saw %v)", w, seen)
				}
			}
			if !slices.IsSorted(seen) {
				t.Errorf("candidate weights went back: %v", seen)
			}
			if final.Status.LatestReadyRevisionName != candidate {
				t.Errorf("latest ready revision = %s, want the candidate %s", final.Status.LatestReadyRevisionName, candidate)
			}
			if errs := p.SyncErrors(); len(errs) > 0 {
				t.Errorf("the cluster refused %d applies of promote's commits, first: %v", len(errs), errs[0])
			}
			subjects := testutil.Subjects(t, p.bare)
			t.Logf("Git history (%d commits):\n  %s", len(subjects), strings.Join(subjects, "\n  "))
		})
	}
}
