package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

	mu      sync.Mutex
	broken  map[string]bool // images whose Revision never becomes Ready
	version int64           // the last resourceVersion given out
	configs map[string]*configuration
}

// configuration is what the sim keeps of a Service's Configuration: its
// template and its generation, which moves only when the template changes
// (a change of traffic alone creates no revision).
type configuration struct {
	template   string
	generation int64
}

// NewCluster returns an empty cluster whose Revisions become Ready readyAfter
// their creation. onChange (may be nil) hears every Service and Revision change.
func NewCluster(readyAfter time.Duration, onChange func(Change)) *Cluster {
	c := &Cluster{Serving: fake.NewSimpleClientset(), readyAfter: readyAfter, now: time.Now, onChange: onChange, broken: map[string]bool{},
		configs: map[string]*configuration{}}
	for _, verb := range []string{"create", "update", "patch"} {
		c.Serving.PrependReactor(verb, "services", c.write)
	}
	return c
}

// MarkBroken makes Revisions of an image never become Ready.
func (c *Cluster) MarkBroken(image string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.broken[image] = true
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

func (c *Cluster) reconcileService(ctx context.Context, svc *servingv1.Service) error {
	revName := svc.Spec.Template.Name
	if revName == "" {
		// Knative names it after the Configuration's generation.
		revName = fmt.Sprintf("%s-%05d", svc.Name, c.configGeneration(svc))
	}
	revs := c.Serving.ServingV1().Revisions(svc.Namespace)
	rev, err := revs.Get(ctx, revName, metav1.GetOptions{})
	if err == nil && svc.Spec.Template.Name != "" && !equality.Semantic.DeepEqual(rev.Spec, svc.Spec.Template.Spec) {
		// Knative's CheckNameAvailability: a name already taken by a
		// Revision of another spec is refused, and the Service's traffic
		// is not migrated while it stands (RoutesReady False).
		return c.nameTaken(ctx, svc)
	}
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
	// Knative's conditions: the configuration is ready when its latest
	// revision is; the route when every target it names is Ready (the
	// simulated ingress is programmed at once); the Service when both are.
	condition := func(t apis.ConditionType, ok bool, reason string) apis.Condition {
		if ok {
			return apis.Condition{Type: t, Status: corev1.ConditionTrue}
		}
		return apis.Condition{Type: t, Status: corev1.ConditionUnknown, Reason: reason}
	}
	configured := st.LatestReadyRevisionName == latest.Name
	st.SetConditions(apis.Conditions{
		condition(servingv1.ServiceConditionConfigurationsReady, configured, "RevisionNotReady"),
		condition(servingv1.ServiceConditionRoutesReady, routable, "RevisionMissingOrNotReady"),
		condition(apis.ConditionReady, configured && routable, "NotReady"),
	})
	return c.setStatus(ctx, svc, st)
}

// nameTaken reports what Knative's Service reconciler does when the
// template's revision name is taken by a Revision of another spec
// (MarkRevisionNameTaken): RoutesReady and Ready False, reason
// RevisionNameTaken, and nothing else reconciled — status.traffic stays.
func (c *Cluster) nameTaken(ctx context.Context, svc *servingv1.Service) error {
	st := svc.Status.DeepCopy()
	st.ObservedGeneration = svc.Generation
	msg := fmt.Sprintf("The revision name %q is taken by a conflicting Revision, so traffic will not be migrated", svc.Spec.Template.Name)
	st.SetConditions(apis.Conditions{
		{Type: servingv1.ServiceConditionConfigurationsReady, Status: corev1.ConditionUnknown, Reason: "RevisionNameTaken", Message: msg},
		{Type: servingv1.ServiceConditionRoutesReady, Status: corev1.ConditionFalse, Reason: "RevisionNameTaken", Message: msg},
		{Type: apis.ConditionReady, Status: corev1.ConditionFalse, Reason: "RevisionNameTaken", Message: msg},
	})
	return c.setStatus(ctx, svc, st)
}

// configGeneration is the generation of a Service's Configuration: one
// more each time the template changes.
func (c *Cluster) configGeneration(svc *servingv1.Service) int64 {
	raw, _ := json.Marshal(svc.Spec.Template)
	c.mu.Lock()
	defer c.mu.Unlock()
	key := svc.Namespace + "/" + svc.Name
	cfg := c.configs[key]
	switch {
	case cfg == nil:
		cfg = &configuration{template: string(raw), generation: 1}
		c.configs[key] = cfg
	case cfg.template != string(raw):
		cfg.template, cfg.generation = string(raw), cfg.generation+1
	}
	return cfg.generation
}

// setStatus writes a Service's status when it changed, and reports it.
func (c *Cluster) setStatus(ctx context.Context, svc *servingv1.Service, st *servingv1.ServiceStatus) error {
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

// TrafficOf renders a Service's live traffic, sorted by tag, e.g. "hello-3f2a 25% (candidate), hello-aa11 75% (stable)".
func TrafficOf(s *servingv1.Service) string { return TargetsText(s.Status.Traffic) }

// TargetsText is a traffic block as "revision N% (tag), …", sorted by tag.
func TargetsText(targets []servingv1.TrafficTarget) string {
	var parts []string
	ts := append([]servingv1.TrafficTarget(nil), targets...)
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
