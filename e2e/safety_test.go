//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// promotedTo reports a Service Knative reports Ready, serving all traffic
// from its latest ready revision, whose rollout is Promoted.
func promotedTo(ok func(*servingv1.Service) bool) func(*servingv1.Service) bool {
	return func(s *servingv1.Service) bool {
		return ready(s) && liveState(s).Phase == policy.Promoted &&
			kservice.Share(s.Status.Traffic, s.Status.LatestReadyRevisionName) == 100 && ok(s)
	}
}

// TestSafetyCasesOnRealKnative is scenario 3: the safety issue's cases that
// real Knative can show, each ending in a Service Knative accepts and
// reports Ready, with no apply of the GitOps loop refused.
func TestSafetyCasesOnRealKnative(t *testing.T) {
	c := startCluster(t)
	cases := []struct {
		name    string
		service string
		pause   string
		run     func(t *testing.T, p *pipeline, d1 string)
	}{{
		name: "same digest under a second tag",
		run: func(t *testing.T, p *pipeline, d1 string) {
			before := p.commits()
			tagged := time.Now()
			p.tag("team/hello", "1.0.0", "1.0")
			waitFor(t, 30*time.Second, "promote to answer the push of 1.0", func() bool {
				for _, d := range p.Delivered() {
					if d.Trigger == "image-pushed" && d.Event.Extensions()[eventing.ExtTag] == "1.0" && d.Event.Time().After(tagged.Add(-time.Second)) && d.Status/100 == 2 {
						return true
					}
				}
				return false
			})
			if got := p.commits(); got != before {
				t.Errorf("the same digest under another tag made %d commits", got-before)
			}
			waitService(t, p.c, p.ns, p.service, 10*time.Second, "still serving 1.0.0", servesOnly(d1))
		},
	}, {
		name: "a template change by a person",
		run: func(t *testing.T, p *pipeline, _ string) {
			p.edit("hello: greet in French", func(svc map[string]any) {
				containers, _, _ := unstructured.NestedSlice(svc, "spec", "template", "spec", "containers")
				c0 := containers[0].(map[string]any)
				c0["env"] = []any{map[string]any{"name": "GREETING", "value": "bonjour"}}
				_ = unstructured.SetNestedSlice(svc, containers, "spec", "template", "spec", "containers")
				unstructured.RemoveNestedField(svc, "spec", "template", "metadata", "name") // as docs/gitops.md asks
			})
			waitService(t, p.c, p.ns, p.service, 90*time.Second, "promoting the person's template", promotedTo(func(s *servingv1.Service) bool {
				env := s.Spec.Template.Spec.Containers[0].Env
				return len(env) == 1 && env[0].Value == "bonjour"
			}))
		},
	}, {
		name: "a new image mid-rollout",
		run: func(t *testing.T, p *pipeline, _ string) {
			d2 := p.push("team/hello", "1.1.0")
			waitService(t, p.c, p.ns, p.service, 60*time.Second, "giving 1.1.0 traffic", func(s *servingv1.Service) bool {
				st := liveState(s)
				return strings.HasSuffix(st.CandidateImage, d2) && kservice.Share(s.Status.Traffic, st.Candidate) > 0
			})
			d3 := p.push("team/hello", "1.2.0")
			waitService(t, p.c, p.ns, p.service, 90*time.Second, "promoting 1.2.0", promotedTo(servesOnly(d3)))
		},
	}, {
		name: "a person's extra traffic tag",
		run: func(t *testing.T, p *pipeline, d1 string) {
			live := waitService(t, p.c, p.ns, p.service, 10*time.Second, "serving", ready)
			old := live.Status.LatestReadyRevisionName
			p.edit("hello: a preview route to the running revision", func(svc map[string]any) {
				traffic, _, _ := unstructured.NestedSlice(svc, "spec", "traffic")
				traffic = append(traffic, map[string]any{"revisionName": old, "percent": int64(0), "tag": "preview", "latestRevision": false})
				_ = unstructured.SetNestedSlice(svc, traffic, "spec", "traffic")
			})
			d2 := p.push("team/hello", "1.1.0")
			waitService(t, p.c, p.ns, p.service, 90*time.Second, "promoting 1.1.0 with the preview tag kept", promotedTo(func(s *servingv1.Service) bool {
				if !servesOnly(d2)(s) {
					return false
				}
				for _, tt := range s.Status.Traffic {
					if tt.Tag == "preview" && tt.RevisionName == old {
						return true
					}
				}
				return false
			}))
		},
	}, {
		name:  "a transient Ready=False",
		pause: "4s",
		run: func(t *testing.T, p *pipeline, _ string) {
			d2 := p.push("team/hello", "1.1.0")
			var candidate string
			waitService(t, p.c, p.ns, p.service, 60*time.Second, "giving 1.1.0 traffic", func(s *servingv1.Service) bool {
				st := liveState(s)
				candidate = st.Candidate
				return strings.HasSuffix(st.CandidateImage, d2) && kservice.Share(s.Status.Traffic, candidate) > 0 && ready(s)
			})
			// The networking layer fails to load balance the route for a
			// while; Knative's route reconciler takes the Service out of Ready.
			if err := p.c.FailIngress(context.Background(), p.ns, p.service, true); err != nil {
				t.Fatal(err)
			}
			down := waitService(t, p.c, p.ns, p.service, 60*time.Second, "Ready=False while its ingress failed", func(s *servingv1.Service) bool {
				c := s.Status.GetCondition(apis.ConditionReady)
				return s.Status.ObservedGeneration == s.Generation && c != nil && c.IsFalse()
			})
			t.Logf("while the ingress failed: %s", describe(down))
			// The outage lasts until rollout has decided on the Service as
			// Knative reports it now: it must wait it out, not roll back.
			seen := time.Now()
			waitFor(t, 30*time.Second, "rollout to decide during the outage", func() bool {
				for _, d := range p.Delivered() {
					if d.Subscriber == p.urls["rollout"] && d.Status/100 == 2 && d.Event.Time().After(seen) &&
						strings.HasPrefix(d.Event.Type(), eventing.TypeAPIServerPrefix) {
						return true
					}
				}
				return false
			})
			if err := p.c.FailIngress(context.Background(), p.ns, p.service, false); err != nil {
				t.Fatal(err)
			}
			s := waitService(t, p.c, p.ns, p.service, 90*time.Second, "promoting 1.1.0 after the ingress recovered", func(s *servingv1.Service) bool {
				return liveState(s).Phase == policy.RolledBack || promotedTo(servesOnly(d2))(s)
			})
			if st := liveState(s); st.Phase != policy.Promoted {
				t.Errorf("a transient Ready=False ended the rollout %s: %s", st.Phase, st.Reason)
			}
		},
	}, {
		name:    "a long Service name",
		service: "checkout-recommendations-for-returning-customers", // 48 characters
		run: func(t *testing.T, p *pipeline, _ string) {
			d2 := p.push("team/hello", "1.1.0")
			s := waitService(t, p.c, p.ns, p.service, 90*time.Second, "promoting 1.1.0", promotedTo(servesOnly(d2)))
			if n := len(s.Status.LatestReadyRevisionName); n > 63 {
				t.Errorf("revision name %s has %d characters", s.Status.LatestReadyRevisionName, n)
			}
		},
	}}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := "safety-" + string(rune('a'+i))
			p := startPipeline(t, c, ns, options{mode: argoCD, service: tc.service, pause: tc.pause})
			d1 := p.push("team/hello", "1.0.0")
			// Promoted in the live state: Git has the first deploy's last commit
			// (the promotion record), so a case that counts commits counts its own.
			waitService(t, c, ns, p.service, 90*time.Second, "serving 1.0.0, promoted", promotedTo(servesOnly(d1)))
			tc.run(t, p, d1)
			if errs := p.SyncErrors(); len(errs) > 0 {
				t.Errorf("the cluster refused %d applies, first: %v", len(errs), errs[0])
			}
		})
	}
}
