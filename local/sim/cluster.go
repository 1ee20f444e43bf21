package sim

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	jsonpatch "github.com/evanphx/json-patch"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"
)

// Change is what the Cluster reports after it changed an object, as an
// ApiServerSource in Resource mode would: the kind and the object.
type Change struct {
	Kind   string // Service or Revision
	Object any
}

// Cluster is Knative Serving in memory.
type Cluster struct {
	// Serving is the clientset the functions use.
	Serving *fake.Clientset

	readyAfter time.Duration
	now        func() time.Time
	onChange   func(Change)

	mu       sync.Mutex
	broken   map[string]bool // images whose Revision never becomes Ready
	specHash map[string]string
	created  map[string]time.Time // revision key → creation time
}

// NewCluster returns an empty cluster whose Revisions become Ready readyAfter
// their creation. onChange (may be nil) hears every Service and Revision change.
func NewCluster(readyAfter time.Duration, onChange func(Change)) *Cluster {
	c := &Cluster{Serving: fake.NewSimpleClientset(), readyAfter: readyAfter, now: time.Now, onChange: onChange,
		broken: map[string]bool{}, specHash: map[string]string{}, created: map[string]time.Time{}}
	c.Serving.PrependReactor("create", "services", c.admit)
	c.Serving.PrependReactor("update", "services", c.admit)
	c.Serving.PrependReactor("patch", "services", c.admitPatch)
	return c
}

// MarkBroken makes Revisions of an image never become Ready.
func (c *Cluster) MarkBroken(image string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broken[image] = true
}

// validate runs Knative's defaulting and validation, as the admission webhook does.
func validate(svc *servingv1.Service) error {
	s := svc.DeepCopy()
	ctx := context.Background()
	s.SetDefaults(ctx)
	if fe := s.Validate(ctx); fe != nil {
		if errs := fe.Filter(apis.ErrorLevel); errs != nil {
			return fmt.Errorf("admission webhook denied the request: %v", errs)
		}
	}
	return nil
}

func (c *Cluster) admit(a clienttesting.Action) (bool, runtime.Object, error) {
	if a.GetSubresource() == "status" {
		return false, nil, nil
	}
	var obj runtime.Object
	switch act := a.(type) {
	case clienttesting.CreateAction:
		obj = act.GetObject()
	case clienttesting.UpdateAction:
		obj = act.GetObject()
	}
	if svc, ok := obj.(*servingv1.Service); ok {
		if err := validate(svc); err != nil {
			return true, nil, err
		}
	}
	return false, nil, nil
}

func (c *Cluster) admitPatch(a clienttesting.Action) (bool, runtime.Object, error) {
	p := a.(clienttesting.PatchAction)
	cur, err := c.Serving.Tracker().Get(servingv1.SchemeGroupVersion.WithResource("services"), p.GetNamespace(), p.GetName())
	if err != nil {
		return false, nil, nil // the tracker answers not found
	}
	old, _ := json.Marshal(cur)
	patched, err := jsonpatch.MergePatch(old, p.GetPatch())
	if err != nil {
		return true, nil, fmt.Errorf("invalid patch: %v", err)
	}
	var svc servingv1.Service
	if err := json.Unmarshal(patched, &svc); err != nil {
		return true, nil, err
	}
	if err := validate(&svc); err != nil {
		return true, nil, err
	}
	return false, nil, nil
}

// Reconcile plays Knative's controllers once: a Revision per new template,
// readiness after the delay, the Service's status. Run it in a loop.
func (c *Cluster) Reconcile(ctx context.Context) error {
	list, err := c.Serving.ServingV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.Items {
		if err := c.reconcileService(ctx, &list.Items[i]); err != nil {
			return err
		}
	}
	return nil
}

func specHash(s *servingv1.Service) string {
	b, _ := json.Marshal(s.Spec)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (c *Cluster) reconcileService(ctx context.Context, svc *servingv1.Service) error {
	key := svc.Namespace + "/" + svc.Name
	c.mu.Lock()
	changedSpec := c.specHash[key] != specHash(svc)
	c.mu.Unlock()
	if changedSpec {
		// A spec change is a new generation.
		svc.Generation++
		up, err := c.Serving.ServingV1().Services(svc.Namespace).Update(ctx, svc, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		svc = up
		c.mu.Lock()
		c.specHash[key] = specHash(svc)
		c.mu.Unlock()
	}
	revName := svc.Spec.Template.Name
	if revName == "" {
		revName = fmt.Sprintf("%s-%05d", svc.Name, svc.Generation)
	}
	revs := c.Serving.ServingV1().Revisions(svc.Namespace)
	rev, err := revs.Get(ctx, revName, metav1.GetOptions{})
	if err != nil {
		rev = &servingv1.Revision{ObjectMeta: metav1.ObjectMeta{Name: revName, Namespace: svc.Namespace, CreationTimestamp: metav1.NewTime(c.now()),
			Labels: map[string]string{"serving.knative.dev/service": svc.Name, "serving.knative.dev/configuration": svc.Name}}}
		rev.Spec = svc.Spec.Template.Spec
		rev.Status.SetConditions(apis.Conditions{{Type: servingv1.RevisionConditionReady, Status: corev1.ConditionUnknown, Reason: "Deploying"}})
		if rev, err = revs.Create(ctx, rev, metav1.CreateOptions{}); err != nil {
			return err
		}
		c.report("Revision", rev)
	}
	// Readiness after the delay; never for a broken image.
	if !rev.IsReady() && len(rev.Spec.Containers) > 0 {
		c.mu.Lock()
		broken := c.broken[rev.Spec.Containers[0].Image]
		c.mu.Unlock()
		if !broken && c.now().Sub(rev.CreationTimestamp.Time) >= c.readyAfter {
			rev.Status.SetConditions(apis.Conditions{{Type: servingv1.RevisionConditionReady, Status: corev1.ConditionTrue}})
			if rev, err = revs.UpdateStatus(ctx, rev, metav1.UpdateOptions{}); err != nil {
				return err
			}
			c.report("Revision", rev)
		}
	}
	return c.fillStatus(ctx, svc, rev)
}

// fillStatus sets what Knative's Service, Configuration and Route reconcilers report.
func (c *Cluster) fillStatus(ctx context.Context, svc *servingv1.Service, latest *servingv1.Revision) error {
	st := svc.Status.DeepCopy()
	st.ObservedGeneration = svc.Generation
	st.LatestCreatedRevisionName = latest.Name
	if latest.IsReady() {
		st.LatestReadyRevisionName = latest.Name
	}
	ready := map[string]bool{}
	list, err := c.Serving.ServingV1().Revisions(svc.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for _, r := range list.Items {
		ready[r.Name] = r.IsReady()
	}
	// The route moves only when every target it names is Ready.
	var traffic []servingv1.TrafficTarget
	routable := true
	for _, t := range svc.Spec.Traffic {
		t := *t.DeepCopy()
		if t.LatestRevision != nil && *t.LatestRevision {
			t.RevisionName = st.LatestReadyRevisionName
		}
		if t.Percent != nil && *t.Percent > 0 && !ready[t.RevisionName] {
			routable = false
		}
		if t.Tag != "" {
			u, _ := apis.ParseURL(fmt.Sprintf("http://%s-%s.%s.example.com", t.Tag, svc.Name, svc.Namespace))
			t.URL = u
		}
		traffic = append(traffic, t)
	}
	if len(svc.Spec.Traffic) == 0 && st.LatestReadyRevisionName != "" {
		pct := int64(100)
		traffic = []servingv1.TrafficTarget{{RevisionName: st.LatestReadyRevisionName, Percent: &pct, LatestRevision: ptr(true)}}
	}
	if routable {
		st.Traffic = traffic
	}
	cond := apis.Condition{Type: apis.ConditionReady, Status: corev1.ConditionTrue}
	if !routable || st.LatestReadyRevisionName != latest.Name {
		cond.Status, cond.Reason = corev1.ConditionUnknown, "RevisionMissingOrNotReady"
	}
	st.SetConditions(apis.Conditions{cond})
	if equalStatus(&svc.Status, st) {
		return nil
	}
	svc.Status = *st
	up, err := c.Serving.ServingV1().Services(svc.Namespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	c.report("Service", up)
	return nil
}

func ptr[T any](v T) *T { return &v }

func equalStatus(a, b *servingv1.ServiceStatus) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func (c *Cluster) report(kind string, obj any) {
	if c.onChange != nil {
		c.onChange(Change{Kind: kind, Object: obj})
	}
}

// Apply creates or updates a Service from a manifest, as kubectl apply and
// GitOps tools do: metadata and spec from the manifest, status kept.
func (c *Cluster) Apply(ctx context.Context, want *servingv1.Service) error {
	svcs := c.Serving.ServingV1().Services(want.Namespace)
	cur, err := svcs.Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		_, err = svcs.Create(ctx, want, metav1.CreateOptions{})
		return err
	}
	next := cur.DeepCopy()
	next.Annotations, next.Labels, next.Spec = want.Annotations, want.Labels, want.Spec
	if specHash(next) == specHash(cur) && equalMaps(next.Annotations, cur.Annotations) {
		return nil
	}
	_, err = svcs.Update(ctx, next, metav1.UpdateOptions{})
	return err
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TrafficOf renders a Service's live traffic, e.g. "hello-aa11 75% (stable), hello-3f2a 25% (candidate)".
func TrafficOf(s *servingv1.Service) string {
	var parts []string
	ts := append([]servingv1.TrafficTarget(nil), s.Status.Traffic...)
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Tag < ts[j].Tag })
	for _, t := range ts {
		p := int64(0)
		if t.Percent != nil {
			p = *t.Percent
		}
		parts = append(parts, fmt.Sprintf("%s %d%% (%s)", t.RevisionName, p, t.Tag))
	}
	return strings.Join(parts, ", ")
}
