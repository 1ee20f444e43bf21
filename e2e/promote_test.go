//go:build e2e

package e2e

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/status"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/demo"
	"github.com/slipstream-cd/slipstream/local/sim"
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
	real := map[string][]int64{} // the new revision's shares Knative reported, per mode
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
			var states []string // status.traffic as the demo's story records it
			var mid *status.Row // what slipstream status showed mid-rollout
			var midTable string
			final := waitService(t, c, ns, service, 2*time.Minute, "promoting 1.1.0", func(s *servingv1.Service) bool {
				st := liveState(s)
				if mid == nil && st.Phase == policy.Progressing && st.Step >= 2 && s.Status.ObservedGeneration == s.Generation {
					if svcs, _, err := status.List(context.Background(), c.Serving, ns, ""); err == nil && len(svcs) == 1 {
						rows := status.Rows(svcs)
						mid, midTable = &rows[0], status.Table(rows, time.Now())
					}
				}
				if tr := sim.TrafficOf(s); s.Status.ObservedGeneration == s.Generation && (len(states) == 0 || states[len(states)-1] != tr) {
					states = append(states, tr)
				}
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
			// slipstream status, reading the real apiserver: mid-rollout and promoted.
			if mid == nil {
				t.Error("slipstream status never showed the rollout past step 1")
			} else {
				t.Logf("slipstream status mid-rollout:\n%s", midTable)
				if mid.Phase != "Progressing" || mid.Steps != 4 || mid.Candidate == nil || mid.Candidate.Tag != "1.1.0" || !strings.HasSuffix(mid.Candidate.Image, "@"+d2) ||
					mid.Stable == nil || mid.Stable.Tag != "1.0.0" || len(mid.Traffic) != 2 {
					t.Errorf("status mid-rollout: %+v", *mid)
				}
			}
			svcs, _, err := status.List(context.Background(), c.Serving, ns, service)
			if err != nil {
				t.Fatal(err)
			}
			if rows := status.Rows(svcs); rows[0].Phase != "Promoted" || rows[0].Stable == nil || rows[0].Stable.Tag != "1.1.0" || len(rows[0].Traffic) != 1 || rows[0].Traffic[0].Percent != 100 {
				t.Errorf("status once promoted: %+v", rows[0])
			} else {
				t.Logf("slipstream status once promoted:\n%s", status.Table(rows, time.Now()))
			}
			// The rollout's story on the Service, as kubectl describe ksvc shows it.
			reasons := map[string]int{}
			for _, ev := range serviceEvents(t, c, ns, service) {
				reasons[ev.Reason]++
			}
			t.Logf("events on the Service: %v", reasons)
			for _, want := range []string{"StepShifted", "StepLive", "Promoted"} {
				if reasons[want] == 0 {
					t.Errorf("no %s event on the Service (events: %v)", want, reasons)
				}
			}
			if final.Status.LatestReadyRevisionName != candidate {
				t.Errorf("latest ready revision = %s, want the candidate %s", final.Status.LatestReadyRevisionName, candidate)
			}
			if errs := p.SyncErrors(); len(errs) > 0 {
				t.Errorf("the cluster refused %d applies of promote's commits, first: %v", len(errs), errs[0])
			}
			subjects := testutil.Subjects(t, p.bare)
			t.Logf("Git history (%d commits):\n  %s", len(subjects), strings.Join(subjects, "\n  "))
			real[mode] = shares(states)
		})
	}

	// The shared scenario: the demo's story runs the same inputs (push
	// 1.0.0, then 1.1.0, steps 10,25,50,100) on the simulated Knative; the
	// new revision's shares in status.traffic must be the ones real Knative
	// reported, in the same order.
	t.Run("the demo's simulated Knative agrees", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		e, err := demo.Start(ctx, demo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		sum, err := demo.Story(ctx, e)
		if err != nil {
			t.Fatalf("the demo's story: %v", err)
		}
		simulated := shares(sum.Traffic)
		if len(real) != 2 {
			t.Fatalf("real Knative's shares were recorded for %d modes, want both (argocd, flux): run the whole test", len(real))
		}
		for mode, got := range real {
			if !slices.Equal(got, simulated) {
				t.Errorf("the new revision's shares: real Knative (%s) %v, simulated %v", mode, got, simulated)
			}
		}
		t.Logf("the new revision's shares, real and simulated: %v", simulated)
	})
}

// shares is the share of the revision that ends with 100% in each of the
// traffic states (sim.TrafficOf's format), consecutive repeats dropped.
func shares(states []string) []int64 {
	if len(states) == 0 {
		return nil
	}
	target := regexp.MustCompile(`(\S+) (\d+)% \(`)
	last := states[len(states)-1]
	var rev string
	for _, m := range target.FindAllStringSubmatch(last, -1) {
		if m[2] == "100" {
			rev = m[1]
		}
	}
	var out []int64
	for _, st := range states {
		share := int64(0)
		for _, m := range target.FindAllStringSubmatch(st, -1) {
			if m[1] == rev {
				n, _ := strconv.ParseInt(m[2], 10, 64)
				share += n
			}
		}
		if len(out) == 0 || out[len(out)-1] != share {
			out = append(out, share)
		}
	}
	return out
}
