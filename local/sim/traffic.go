package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Traffic sends simulated requests to every Service by its live
// status.traffic, counts errors per revision (an image, or an environment
// variable, marked bad answers 5xx), and posts Alertmanager notifications when a revision's error ratio
// is above the threshold — like a Prometheus rule on
// revision_app_request_count and Alertmanager's webhook.
type Traffic struct {
	cluster   *Cluster
	alertURL  string
	auth      string
	client    *http.Client
	threshold float64
	minReqs   int
	// forEvals is the rule's `for:` in evaluations: the ratio must be above
	// the threshold that many windows in a row before the alert fires
	// (pending before), as docs/alerts.md's rules wait `for: 30s`.
	forEvals  int
	breaching map[string]int // revision → windows in a row above the threshold

	mu     sync.Mutex
	bad    map[string]bool           // image, or env:NAME=value → answers errors
	counts map[string]*[2]int        // revision → requests, errors in the current window
	firing map[string]map[string]any // revision → the alert being sent
}

// NewTraffic posts alerts to alertURL with the Authorization header auth.
func NewTraffic(c *Cluster, alertURL, auth string) *Traffic {
	return &Traffic{cluster: c, alertURL: alertURL, auth: auth, client: &http.Client{Timeout: 5 * time.Second}, threshold: 0.05, minReqs: 10, forEvals: 2,
		bad: map[string]bool{}, counts: map[string]*[2]int{}, firing: map[string]map[string]any{}, breaching: map[string]int{}}
}

// MarkBad makes every Revision of image answer with errors.
func (t *Traffic) MarkBad(image string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bad[image] = true
}

// MarkBadEnv makes every Revision whose first container sets the
// environment variable name to value answer with errors: a bad
// configuration rather than a bad image.
func (t *Traffic) MarkBadEnv(name, value string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.bad["env:"+name+"="+value] = true
}

// answersErrors reports whether a Revision's first container is marked bad.
func (t *Traffic) answersErrors(c corev1.Container) bool {
	if t.bad[c.Image] {
		return true
	}
	for _, e := range c.Env {
		if t.bad["env:"+e.Name+"="+e.Value] {
			return true
		}
	}
	return false
}

// Step sends n requests to every Service, then evaluates the rule over them
// (one evaluation window) and notifies Alertmanager-style.
func (t *Traffic) Step(ctx context.Context, n int) error {
	svcs, err := t.cluster.Serving.ServingV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.counts = map[string]*[2]int{}
	type series struct{ ns, svc, rev string }
	var all []series
	for _, s := range svcs.Items {
		for _, tt := range s.Status.Traffic {
			if tt.Percent == nil || *tt.Percent == 0 {
				continue
			}
			reqs := n * int(*tt.Percent) / 100
			rev, err := t.cluster.Serving.ServingV1().Revisions(s.Namespace).Get(ctx, tt.RevisionName, metav1.GetOptions{})
			if err != nil || len(rev.Spec.Containers) == 0 {
				continue
			}
			c := &[2]int{reqs, 0}
			if t.answersErrors(rev.Spec.Containers[0]) {
				c[1] = reqs // every request fails
			}
			t.counts[s.Namespace+"/"+tt.RevisionName] = c
			all = append(all, series{s.Namespace, s.Name, tt.RevisionName})
		}
	}
	var notify []map[string]any
	seen := map[string]bool{}
	for _, se := range all {
		key := se.ns + "/" + se.rev
		seen[key] = true
		c := t.counts[key]
		if c[0] >= t.minReqs && float64(c[1])/float64(c[0]) > t.threshold {
			t.breaching[key]++
		} else {
			t.breaching[key] = 0
		}
		fires := t.breaching[key] >= t.forEvals
		switch {
		case fires:
			a := t.firing[key]
			if a == nil {
				a = map[string]any{"status": "firing", "startsAt": time.Now().UTC(), "endsAt": time.Time{}, "fingerprint": fmt.Sprintf("%x", len(key)*7919+len(t.firing)),
					"labels":      map[string]string{"alertname": "KnativeRevisionHighErrorRate", "namespace": se.ns, "service_name": se.svc, "revision_name": se.rev, "severity": "critical"},
					"annotations": map[string]string{"summary": fmt.Sprintf("%d of %d requests failed", c[1], c[0])}}
				t.firing[key] = a
			}
			notify = append(notify, a)
		case t.firing[key] != nil:
			a := t.firing[key]
			delete(t.firing, key)
			a["status"], a["endsAt"] = "resolved", time.Now().UTC()
			notify = append(notify, a)
		}
	}
	for key := range t.breaching {
		if !seen[key] {
			delete(t.breaching, key)
		}
	}
	for key, a := range t.firing { // a revision that no longer serves: resolved
		if !seen[key] {
			delete(t.firing, key)
			a["status"], a["endsAt"] = "resolved", time.Now().UTC()
			notify = append(notify, a)
		}
	}
	t.mu.Unlock()
	if len(notify) == 0 {
		return nil
	}
	return t.post(ctx, notify)
}

// post sends an Alertmanager webhook (payload version 4).
func (t *Traffic) post(ctx context.Context, alerts []map[string]any) error {
	status := "resolved"
	for _, a := range alerts {
		if a["status"] == "firing" {
			status = "firing"
		}
	}
	body, _ := json.Marshal(map[string]any{"version": "4", "groupKey": `{}:{alertname="KnativeRevisionHighErrorRate"}`, "status": status,
		"receiver": "slipstream", "alerts": alerts, "groupLabels": map[string]string{"alertname": "KnativeRevisionHighErrorRate"}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.alertURL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", t.auth)
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("alertmanager webhook answered %d", resp.StatusCode)
	}
	return nil
}

// ErrorRatio reports the last window's error ratio of a revision.
func (t *Traffic) ErrorRatio(namespace, revision string) (requests, errors int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c := t.counts[namespace+"/"+revision]; c != nil {
		return c[0], c[1]
	}
	return 0, 0
}
