package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/backoff"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// Name is the function's name.
const Name = "rollout"

// Rollout steps traffic.
type Rollout struct {
	cluster    Cluster
	query      Querier
	send       Sender
	namespaces []string
	maxWait    time.Duration
	// concurrency is how many Services one event decides for at once.
	concurrency int
	now         func() time.Time
	wait        func(ctx context.Context, d time.Duration) error

	// written remembers, per Service, a state sent to Git (git writer) and the
	// live annotation it was decided on: until the cluster shows the commit,
	// decisions start from what was written, so a step's start time or a
	// check's count is recorded once, not again at every tick.
	mu      sync.Mutex
	written map[string]writtenState

	metrics   *metrics
	rollbacks *prometheus.CounterVec
}

type writtenState struct {
	base  string // the live annotations the state was decided on
	state policy.State
}

// Option configures Rollout.
type Option func(*Rollout)

// WithQuerier enables analysis with a Prometheus client. Default: none, and a
// Service that asks for analysis stops with a clear reason.
func WithQuerier(q Querier) Option { return func(r *Rollout) { r.query = q } }

// WithSender sends follow-ups beyond the reply (a tick may advance several Services).
func WithSender(s Sender) Option { return func(r *Rollout) { r.send = s } }

// WithNamespaces limits the managed namespaces. Default: all.
func WithNamespaces(ns []string) Option { return func(r *Rollout) { r.namespaces = ns } }

// WithMaxWait sets how long a request may wait for a pause that ends soon. Default 50s.
func WithMaxWait(d time.Duration) Option { return func(r *Rollout) { r.maxWait = d } }

// WithConcurrency sets how many Services one tick decides for at once
// (SLIPSTREAM_ROLLOUT_CONCURRENCY). Default 8.
func WithConcurrency(n int) Option { return func(r *Rollout) { r.concurrency = n } }

// WithRollbacks counts rollout's rollbacks into c (the host's
// slipstream_rollbacks_total, Host.Rollbacks). Default: counted, not served.
func WithRollbacks(c *prometheus.CounterVec) Option { return func(r *Rollout) { r.rollbacks = c } }

// WithClock sets the clock decisions are made by. Default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Rollout) { r.now = now } }

// WithWait sets how a request waits out a pause that ends soon (tests
// advance a fake clock instead). Default: a timer, cut short when the
// request ends.
func WithWait(wait func(ctx context.Context, d time.Duration) error) Option {
	return func(r *Rollout) { r.wait = wait }
}

// New returns rollout acting on cluster.
func New(cluster Cluster, opts ...Option) (*Rollout, error) {
	r := &Rollout{cluster: cluster, maxWait: 50 * time.Second, concurrency: 8, now: time.Now, wait: backoff.Wait, written: map[string]writtenState{}}
	for _, o := range opts {
		o(r)
	}
	if r.rollbacks == nil {
		r.rollbacks = host.RollbacksTotal()
	}
	r.metrics = newMetrics(r.now, r.rollbacks)
	switch {
	case r.cluster == nil || r.now == nil || r.wait == nil:
		return nil, errors.New("rollout: a cluster client, a clock and a wait are required")
	case r.concurrency < 1:
		return nil, errors.New("rollout: the concurrency must be 1 or more")
	case r.maxWait < 0:
		return nil, errors.New("rollout: the longest in-request wait must not be negative")
	}
	return r, nil
}

// Function returns the broker-facing handlers for the host.
func (r *Rollout) Function() host.Function {
	return host.Function{Name: Name, FromBroker: true, Events: map[string]host.EventHandler{
		eventing.TypeManifestCommitted:     r.onCommitted,
		eventing.TypeAPIServerPrefix + "*": r.onAPIServer,
		eventing.TypePing:                  r.onTick,
	}, Collectors: []prometheus.Collector{r.metrics}}
}

func (r *Rollout) onCommitted(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	c, err := eventing.Decode[eventing.ManifestCommitted](e)
	if err != nil {
		return nil, err
	}
	return r.runCommitted(ctx, c)
}

// runCommitted decides for the committed Service, first recording a new
// candidate that only the event knows (cluster writer), then deciding again.
func (r *Rollout) runCommitted(ctx context.Context, c eventing.ManifestCommitted) (*cloudevents.Event, error) {
	plan, err := r.decideWith(ctx, c.Namespace, c.Service, &c, nil)
	if err != nil {
		return nil, err
	}
	if plan.Reply != nil {
		return host.Reply(ctx, Name, r.now(), r.send, plan.Reply)
	}
	return r.run(ctx, []target{{namespace: c.Namespace, name: c.Service}}, true)
}

// apiObject is what rollout reads of an ApiServerSource (Resource mode) event.
type apiObject struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string            `json:"name"`
		Namespace string            `json:"namespace"`
		Labels    map[string]string `json:"labels"`
	} `json:"metadata"`
}

func (r *Rollout) onAPIServer(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	var obj apiObject
	if err := json.Unmarshal(e.Data(), &obj); err != nil {
		return nil, fmt.Errorf("%w: ApiServerSource data is not a Kubernetes object: %v", host.ErrMalformed, err)
	}
	name := obj.Metadata.Name
	switch obj.Kind {
	case "Service":
	case "Revision":
		name = obj.Metadata.Labels["serving.knative.dev/service"]
	default:
		return nil, fmt.Errorf("%w: ApiServerSource event for a %q; rollout watches Services and Revisions", host.ErrRefused, obj.Kind)
	}
	if name == "" || obj.Metadata.Namespace == "" || strings.HasSuffix(e.Type(), ".delete") {
		return nil, fmt.Errorf("%w: %s of %s %s/%s names no Service to act on", host.ErrRefused, e.Type(), obj.Kind, obj.Metadata.Namespace, obj.Metadata.Name)
	}
	if len(r.namespaces) > 0 && !slices.Contains(r.namespaces, obj.Metadata.Namespace) {
		return nil, fmt.Errorf("%w: namespace %s is not managed", host.ErrRefused, obj.Metadata.Namespace)
	}
	return r.run(ctx, []target{{namespace: obj.Metadata.Namespace, name: name}}, true)
}

func (r *Rollout) onTick(ctx context.Context, _ cloudevents.Event) (*cloudevents.Event, error) {
	listed := r.now() // the copies are as old as the list's request
	list, err := r.cluster.ListManaged(ctx, r.namespaces)
	if err != nil {
		return nil, clusterError(err)
	}
	r.metrics.keepOnly(list)
	var due []target
	for _, s := range list {
		if st, err := policy.ParseState(s.Annotations[policy.AnnotationRollout]); err == nil && active(st.Phase) {
			due = append(due, target{namespace: s.Namespace, name: s.Name, seen: s, listed: listed})
		} else if st, err := policy.LiveState(s.Annotations); err == nil {
			r.metrics.observe(s, st) // nothing to decide: as it is
		}
	}
	if len(due) == 0 {
		return nil, nil
	}
	return r.run(ctx, due, false)
}

// target is a Service to decide for, and the Service as a list read it at
// listed (nil: read it first). A list's copy saves each Service of a tick
// its own read; a patch decided on it carries its resourceVersion, so a
// change since is a conflict, re-read and decided again. A decision that
// patches nothing (the git writer's) has no such check, so a copy older
// than maxCopyAge — the tick waited for analysis queries — is read again.
type target struct {
	namespace, name string
	seen            *servingv1.Service
	listed          time.Time
}

// maxCopyAge is how old a list's copy of a Service may be to decide on.
const maxCopyAge = time.Second

// run decides for each Service, SLIPSTREAM_ROLLOUT_CONCURRENCY at once,
// waits in-request for a pause that ends soon, and replies with the first
// follow-up (the others go to the sender), in the order of targets.
func (r *Rollout) run(ctx context.Context, targets []target, single bool) (*cloudevents.Event, error) {
	var replies []eventing.Data
	var firstErr error
	pending := targets
	for round := 0; round < 2 && len(pending) > 0; round++ {
		plans, errs := make([]Plan, len(pending)), make([]error, len(pending))
		host.Each(len(pending), r.concurrency, func(i int) { plans[i], errs[i] = r.decideIsolated(ctx, pending[i]) })
		var next *time.Time
		var again []target
		for i, t := range pending {
			plan, err := plans[i], errs[i]
			if err != nil {
				if single && errors.Is(err, host.ErrRefused) {
					return nil, err
				}
				if !errors.Is(err, host.ErrRefused) && firstErr == nil {
					firstErr = err
				}
				continue
			}
			if plan.Reply != nil {
				replies = append(replies, plan.Reply)
			}
			if plan.WaitUntil != nil && !plan.WaitUntil.After(r.now().Add(r.maxWait)) {
				again = append(again, target{namespace: t.namespace, name: t.name}) // read again after the wait
				if next == nil || plan.WaitUntil.After(*next) {
					next = plan.WaitUntil
				}
			}
		}
		if next == nil || round == 1 {
			break
		}
		if d := next.Sub(r.now()); d > 0 {
			if err := r.wait(ctx, d); err != nil {
				break
			}
		}
		pending = again
	}
	if firstErr != nil && len(replies) == 0 {
		return nil, firstErr
	}
	return host.Reply(ctx, Name, r.now(), r.send, replies...)
}

// decideIsolated decides for one Service so that nothing about it can stop
// the others: a panic becomes that Service's error (500 when it was the only
// one), logged with its stack, and the loop goes on.
func (r *Rollout) decideIsolated(ctx context.Context, t target) (plan Plan, err error) {
	namespace, name, seen := t.namespace, t.name, t.seen
	if seen != nil && r.now().Sub(t.listed) > maxCopyAge {
		seen = nil
	}
	defer func() {
		if v := recover(); v != nil {
			host.Logger(ctx).Error("decision panicked", "service", namespace+"/"+name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			plan, err = Plan{}, fmt.Errorf("deciding for %s/%s: panic: %v", namespace, name, v)
			r.recordFailure(ctx, namespace, name, fmt.Sprintf("decision failed (a bug, logged with its stack): %v; other Services carry on", v))
		}
	}()
	return r.decideWith(ctx, namespace, name, nil, seen)
}

// recordFailure writes why a decision failed into the reason of the
// Service's rollout state, where `slipstream status` shows it — with the
// cluster writer only: with the git writer the state is Git's, and the
// failure is in the log. Best effort: it must not fail, or panic, again.
func (r *Rollout) recordFailure(ctx context.Context, namespace, name, reason string) {
	log := host.Logger(ctx).With("service", namespace+"/"+name)
	defer func() {
		if v := recover(); v != nil {
			log.Error("recording the failed decision panicked too", "panic", fmt.Sprint(v))
		}
	}()
	live, err := r.cluster.Get(ctx, namespace, name)
	if err != nil {
		log.Warn("cannot record the failed decision", "error", err)
		return
	}
	pol, perr := policy.Parse(live.Annotations)
	st, serr := policy.ParseState(live.Annotations[policy.AnnotationRollout])
	if perr != nil || serr != nil || pol.Writer != policy.WriterCluster || st.Reason == reason {
		return
	}
	st.Reason = reason
	if _, err := r.cluster.Patch(ctx, live, kservice.Change{State: &st}); err != nil {
		log.Warn("cannot record the failed decision", "error", err)
	}
}

// decideWith reads the Service (unless seen holds it), decides and applies
// the plan, re-reading and re-deciding when the patch meets a concurrent
// change.
func (r *Rollout) decideWith(ctx context.Context, namespace, name string, committed *eventing.ManifestCommitted, seen *servingv1.Service) (Plan, error) {
	log := host.Logger(ctx).With("service", namespace+"/"+name)
	var plan Plan
	attempt := 0
	err := kservice.RetryOnConflict(ctx, func() error {
		if attempt++; attempt > 1 {
			log.Info("the Service changed while deciding; deciding again")
		}
		var err error
		plan, err = r.decideOnce(ctx, log, namespace, name, committed, seen)
		seen = nil // a conflict: read it again
		return err
	})
	switch {
	case err == nil:
		return plan, nil
	case errors.Is(err, host.ErrRefused):
		return Plan{}, err
	}
	return Plan{}, clusterError(err)
}

// decideOnce reads the Service unless seen holds it (and the revision its
// phase waits on), decides, and applies the plan with the resourceVersion
// it read. Errors are the Knative adapter's, or refusals.
func (r *Rollout) decideOnce(ctx context.Context, log *slog.Logger, namespace, name string, committed *eventing.ManifestCommitted, seen *servingv1.Service) (Plan, error) {
	live, err := seen, error(nil)
	if live == nil {
		live, err = r.cluster.Get(ctx, namespace, name)
	}
	if errors.Is(err, kservice.ErrNotFound) {
		return Plan{}, fmt.Errorf("%w: Service %s/%s does not exist", host.ErrRefused, namespace, name)
	}
	if err != nil {
		return Plan{}, err
	}
	// The memory below is valid while the cluster shows what it was decided
	// on: the rollout annotation (Git's) and the rollback record, which a
	// rollback in the cluster writes while Git still shows the step.
	base := live.Annotations[policy.AnnotationRollout] + "\n" + live.Annotations[policy.AnnotationRollback]
	key := namespace + "/" + name
	if seen != nil {
		r.mu.Lock()
		w, ok := r.written[key]
		r.mu.Unlock()
		if ok && w.base != base { // decided on since the list read it: the copy is older than that
			return r.decideOnce(ctx, log, namespace, name, committed, nil)
		}
	}
	st, err := policy.LiveState(live.Annotations)
	if err != nil || (st.Phase == "" && committed == nil) {
		return Plan{}, fmt.Errorf("%w: Service %s/%s is not managed by slipstream", host.ErrRefused, namespace, name)
	}
	r.mu.Lock()
	if w, ok := r.written[key]; ok && w.base == base {
		st = w.state // Git has it; the cluster does not show it yet
	} else {
		delete(r.written, key)
	}
	r.mu.Unlock()
	in := Input{Now: r.now(), Service: live, State: st, Committed: committed}
	in.Policy, in.PolicyErr = policy.Parse(live.Annotations)
	if in.PolicyErr == nil && in.Policy.Analysis != nil && r.query == nil {
		in.PolicyErr = errors.New("the policy asks for analysis but SLIPSTREAM_ROLLOUT_PROMETHEUS_URL is not set")
	}
	waitsOn := st.Candidate
	if st.Phase == policy.Adopting {
		waitsOn = st.Stable
	}
	read := waitsOn != "" && active(st.Phase)
	if in.PolicyErr == nil {
		if l := templateCandidate(live, st); l != "" {
			waitsOn, read = l, true // a template a person changed: its revision is the candidate
		}
	}
	if read {
		if in.Revision, err = r.cluster.GetRevision(ctx, namespace, waitsOn); err != nil {
			return Plan{}, err
		}
	}
	plan := Decide(in)
	if plan.RunCheck {
		v := analyze(ctx, r.query, in.Policy.Analysis, policy.QueryVars{Namespace: namespace, Service: name, Revision: st.Candidate}, in.Now)
		log.Info("analysis", "outcome", v.Outcome.String(), "reason", v.Reason)
		in.Check = &v
		plan = Decide(in)
	}
	if plan.ReadStable { // a rollback, after the analysis or without one
		rev, err := r.cluster.GetRevision(ctx, namespace, st.Stable)
		if err != nil {
			return Plan{}, err
		}
		in.Stable = &rev
		plan = Decide(in)
	}
	if plan.RunCheck || plan.ReadStable {
		return Plan{}, fmt.Errorf("deciding for %s/%s: asked again for what it was given (a bug): %s", namespace, name, plan.Reason)
	}
	if plan.Patch {
		if _, err := r.cluster.Patch(ctx, live, plan.Change); err != nil {
			return Plan{}, err
		}
	}
	after := st
	if plan.State != nil {
		after = *plan.State
		if after.Phase == policy.RolledBack && st.Phase != policy.RolledBack {
			r.metrics.rollbacks.WithLabelValues(namespace, name).Inc()
		}
	}
	r.metrics.observe(live, after)
	for _, ev := range Events(in, plan) { // best effort: the story, not the rollout
		if err := r.cluster.Record(ctx, live, Name, ev, in.Now); err != nil {
			log.Warn("event not recorded", "reason", ev.Reason, "error", err.Error())
		}
	}
	if plan.State != nil && plan.Change.State == nil { // the git writer: promote records it, or nobody (a pass mid-step)
		r.mu.Lock()
		r.written[key] = writtenState{base: base, state: *plan.State}
		r.mu.Unlock()
	}
	log.Info("decided", "phase", st.Phase, "reason", plan.Reason, "patched", plan.Patch, "reply", replyType(plan.Reply))
	return plan, nil
}

func replyType(d eventing.Data) string {
	if d == nil {
		return ""
	}
	return d.EventType()
}

// clusterError maps the Knative adapter's errors to the delivery contract.
func clusterError(err error) error {
	switch {
	case errors.Is(err, kservice.ErrConflict):
		return fmt.Errorf("%w: %v", host.ErrConflict, err)
	case errors.Is(err, kservice.ErrForbidden):
		return fmt.Errorf("%w: %v (check rollout's RBAC)", host.ErrUnavailable, err)
	}
	return fmt.Errorf("%w: %v", host.ErrUnavailable, err)
}
