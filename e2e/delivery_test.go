//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/rollback"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/sim"
)

// deployCommits counts the commits that deploy a tag.
func deployCommits(t *testing.T, p *pipeline, tag string) int {
	n := 0
	for _, s := range testutil.Subjects(t, p.bare) {
		if strings.Contains(s, "deploy team/hello:"+tag+" ") {
			n++
		}
	}
	return n
}

// TestDeliveryFailures is scenario 4: a registry's notification sent twice
// makes one commit; a push while the Git server is down lands once it is
// back (the broker redelivers), and only once.
func TestDeliveryFailures(t *testing.T) {
	c := startCluster(t)

	t.Run("duplicate registry notifications", func(t *testing.T) {
		p := startPipeline(t, c, "dup", options{mode: argoCD, duplicate: true})
		d1 := p.push("team/hello", "1.0.0")
		waitService(t, c, p.ns, p.service, 90*time.Second, "serving 1.0.0", servesOnly(d1))
		d2 := p.push("team/hello", "1.1.0")
		waitService(t, c, p.ns, p.service, 90*time.Second, "promoting 1.1.0", promotedTo(servesOnly(d2)))
		for tag, d := range map[string]string{"1.0.0": d1, "1.1.0": d2} {
			if n := deployCommits(t, p, tag); n != 1 {
				t.Errorf("%s (%s): %d deploy commits, want 1", tag, d, n)
			}
		}
	})

	t.Run("Git server down during a push", func(t *testing.T) {
		p := startPipeline(t, c, "gitdown", options{mode: argoCD})
		d1 := p.push("team/hello", "1.0.0")
		waitService(t, c, p.ns, p.service, 90*time.Second, "serving 1.0.0", servesOnly(d1))
		p.gitDown.Store(true)
		d2 := p.push("team/hello", "1.1.0")
		waitFor(t, 30*time.Second, "promote to fail against the Git server", func() bool {
			for _, d := range p.Delivered() {
				if d.Trigger == "image-pushed" && d.Event.Extensions()[eventing.ExtDigest] == d2 && d.Status >= 500 {
					return true
				}
			}
			return false
		})
		p.gitDown.Store(false)
		waitService(t, c, p.ns, p.service, 90*time.Second, "promoting 1.1.0 once Git is back", promotedTo(servesOnly(d2)))
		if n := deployCommits(t, p, "1.1.0"); n != 1 {
			t.Errorf("%d deploy commits for 1.1.0, want 1", n)
		}
	})
}

// TestRollbackUnderConflicts is scenario 5: while another writer updates
// the live Service back to back, an alert's rollback reads, is refused
// with a conflict by the real apiserver (resourceVersion precondition),
// retries, and ends with all traffic on stable.
func TestRollbackUnderConflicts(t *testing.T) {
	c := startCluster(t)
	ns := "conflicts"
	p := startPipeline(t, c, ns, options{mode: argoCD, pause: "30s"})
	d1 := p.push("team/hello", "1.0.0")
	stable := waitService(t, c, ns, service, 90*time.Second, "serving 1.0.0", servesOnly(d1)).Status.LatestReadyRevisionName
	d2 := p.push("team/hello", "1.1.0")
	var candidate string
	waitService(t, c, ns, service, 60*time.Second, "giving 1.1.0 traffic", func(s *servingv1.Service) bool {
		st := liveState(s)
		candidate = st.Candidate
		return strings.HasSuffix(st.CandidateImage, d2) && kservice.Share(s.Spec.Traffic, candidate) > 0
	})

	conflictsBefore := conflicts(t, p)
	ctx, stop := context.WithCancel(context.Background())
	var touches atomic.Int64
	done := make(chan struct{})
	defer func() { stop(); <-done }()
	go func() { // another writer: an annotation changed back to back
		defer close(done)
		svcs := c.Serving.ServingV1().Services(ns)
		for ctx.Err() == nil {
			patch := fmt.Sprintf(`{"metadata":{"annotations":{"e2e.example.com/touch":"%d"}}}`, touches.Add(1))
			_, _ = svcs.Patch(ctx, service, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
		}
	}()
	body, _ := json.Marshal(map[string]any{
		"version": "4", "status": "firing", "receiver": "slipstream", "groupKey": "{}:{service_name=\"hello\"}",
		"groupLabels": map[string]string{"service_name": service}, "commonLabels": map[string]string{"service_name": service},
		"commonAnnotations": map[string]string{}, "externalURL": "http://alertmanager.example.com", "truncatedAlerts": 0,
		"alerts": []map[string]any{{
			"status": "firing", "startsAt": time.Now().UTC().Format(time.RFC3339), "endsAt": "0001-01-01T00:00:00Z",
			"fingerprint": "e2e0001", "generatorURL": "http://prometheus.example.com/graph",
			"labels":      map[string]string{"alertname": "RevisionErrors", "severity": "critical", "namespace": ns, "service_name": service, "revision_name": candidate},
			"annotations": map[string]string{"summary": "errors"},
		}},
	})
	resp, reply := testutil.Post(t, p.urls["rollback"]+rollback.Route, http.Header{"Authorization": {"Bearer " + alertToken}, "Content-Type": {"application/json"}}, strings.NewReader(string(body)))
	stop()
	<-done
	if resp.StatusCode/100 != 2 {
		t.Fatalf("rollback answered %d: %s", resp.StatusCode, reply)
	}
	live := waitService(t, c, ns, service, 30*time.Second, "all on stable", func(s *servingv1.Service) bool {
		return kservice.Share(s.Spec.Traffic, stable) == 100 && ready(s) && kservice.Share(s.Status.Traffic, stable) == 100
	})
	seen := conflicts(t, p) - conflictsBefore
	t.Logf("another writer patched %d times; the apiserver refused %d PATCHes of services with 409; rollback answered %d; traffic %s",
		touches.Load(), seen, resp.StatusCode, sim.TargetsText(live.Status.Traffic))
	if seen == 0 {
		t.Errorf("no PATCH was refused with a conflict: the test did not exercise rollback's retry")
	}
}

// conflicts is the apiserver's count of PATCH requests on Knative Services
// answered 409, from its own metrics.
func conflicts(t *testing.T, p *pipeline) int {
	t.Helper()
	raw, err := p.c.Kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `code="409"`) ||
			!strings.Contains(line, `resource="services"`) || !strings.Contains(line, `verb="PATCH"`) || !strings.Contains(line, `group="serving.knative.dev"`) {
			continue
		}
		n, err := strconv.Atoi(line[strings.LastIndex(line, " ")+1:])
		if err == nil {
			total += n
		}
	}
	return total
}
