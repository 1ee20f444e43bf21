package rollback

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// Kind is what to do for one alert.
type Kind int

// Kinds.
const (
	// Ignore changes nothing.
	Ignore Kind = iota
	// RollBack patches traffic to 100% stable and sends rollout.rolledback.
	RollBack
	// Resend sends rollout.rolledback again: the Service is rolled back, but
	// the first send did not get through.
	Resend
)

// String names the kind, for logs.
func (k Kind) String() string {
	switch k {
	case Ignore:
		return "ignore"
	case RollBack:
		return "roll back"
	case Resend:
		return "resend"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Action is the decision for one alert and one live Service.
type Action struct {
	Kind Kind
	// State is the rollout state rolled back to.
	State policy.State
	// Change is the patch that rolls back (RollBack): traffic 100% on
	// stable and the rollback recorded (see record).
	Change kservice.Change
	// Announced is the patch that records, after the event was sent, that
	// promote was told, so a repeated alert does not tell it again.
	Announced kservice.Change
	// Event tells promote to revert Git and quarantine the digest.
	Event eventing.RolloutRolledBack
	// Note says what happened, for the answer and the log.
	Note string
}

// record is the patch that records a rollback state: always in
// slipstream.dev/rollback, which Git never holds; with the cluster traffic
// writer in slipstream.dev/rollout too, which then belongs to the cluster.
// With the git writer slipstream.dev/rollout belongs to Git: a GitOps tool
// would put it back, so Git catches up when promote commits the revert.
func record(st policy.State, writer policy.Writer) kservice.Change {
	ch := kservice.Change{Rollback: &st}
	if writer == policy.WriterCluster {
		ch.State = &st
	}
	return ch
}

// Decide judges one alert against the live Service: roll back a rollout in
// progress, or a promotion still within its bake window; otherwise nothing.
// revision is the revision the alert names ("" when it names only the
// Service): such an alert acts only on the revision it would roll back — the
// candidate, or in the bake window the one just promoted — never because
// the stable revision is unwell. defaults are the matchers for Services
// without slipstream.dev/rollback-on.
func Decide(a Alert, revision string, live *servingv1.Service, defaults policy.Matchers, now time.Time) Action {
	if a.Status != "firing" {
		return Action{Note: "resolved: nothing changes"}
	}
	pol, perr := policy.Parse(live.Annotations)
	if perr == policy.ErrUnmanaged {
		return Action{Note: "not managed by slipstream"}
	}
	matchers := defaults
	if perr == nil && pol.RollbackOn != nil {
		matchers = pol.RollbackOn
	}
	if !labels.Matchers(matchers).Matches(labelSet(a.Labels)) {
		return Action{Note: fmt.Sprintf("does not match rollback-on %s", matchers)}
	}
	st, err := policy.LiveState(live.Annotations)
	if err != nil {
		return Action{Note: err.Error()}
	}
	writer := policy.DefaultWriter
	if perr == nil {
		writer = pol.Writer
	}
	var good, goodImage, bad, badImage string
	switch st.Phase {
	case policy.Pending, policy.Progressing, policy.Paused:
		if st.Stable == "" {
			return Action{Note: "first deploy: no stable revision to roll back to"}
		}
		good, goodImage, bad, badImage = st.Stable, st.StableImage, st.Candidate, st.CandidateImage
	case policy.Promoted:
		bake := policy.DefaultBake
		if perr == nil {
			bake = pol.Bake
		}
		if st.PromotedAt == nil || st.PreviousStable == "" || !now.Before(st.PromotedAt.Add(bake)) {
			return Action{Note: "no rollout to roll back (promoted, outside the bake window)"}
		}
		good, goodImage, bad, badImage = st.PreviousStable, st.PreviousStableImage, st.Stable, st.StableImage
	case policy.RolledBack:
		if st.Announced || st.Stable == "" {
			return Action{Note: "already rolled back"}
		}
		announced := st
		announced.Announced = true
		return Action{Kind: Resend, State: st, Announced: record(announced, writer), Event: event(live, a, st.Stable, st.Candidate, st.CandidateImage, st.Reason),
			Note: "already rolled back; telling promote again"}
	default:
		return Action{Note: "no rollout to roll back"}
	}
	if revision != "" && revision != bad {
		return Action{Note: fmt.Sprintf("the alert is about revision %s, not %s, which a rollback would remove", revision, bad)}
	}
	reason := reasonOf(a)
	next := policy.State{Phase: policy.RolledBack, Stable: good, StableImage: goodImage, Candidate: bad, CandidateImage: badImage,
		FailedChecks: st.FailedChecks, Reason: reason}
	// Bound to this rollout (policy.State.RollsBack): the same candidate
	// rolled out again later is not rolled back by this record.
	next.StartedAt, next.PromotedAt = st.StartedAt, st.PromotedAt
	policy.Stamp(st, &next, now)
	change := record(next, writer)
	change.Traffic = []eventing.TrafficTarget{{RevisionName: good, Percent: 100, Tag: "stable"}}
	// The manual controls acted on this rollout; it ends here, and they must
	// not act on the next one.
	for _, a := range []string{policy.AnnotationPaused, policy.AnnotationPromote, policy.AnnotationAbort} {
		if _, ok := live.Annotations[a]; ok {
			change.Remove = append(change.Remove, a)
		}
	}
	announced := next
	announced.Announced = true
	return Action{Kind: RollBack, State: next, Change: change, Announced: record(announced, writer),
		Event: event(live, a, good, bad, badImage, reason), Note: fmt.Sprintf("rolled back %s to %s", bad, good)}
}

func event(live *servingv1.Service, a Alert, good, bad, badImage, reason string) eventing.RolloutRolledBack {
	starts := a.StartsAt
	return eventing.RolloutRolledBack{Namespace: live.Namespace, Service: live.Name, StableRevision: good, CandidateRevision: bad, Image: badImage,
		Reason: reason, Alert: &eventing.Alert{Name: a.Name(), Labels: a.Labels, Fingerprint: a.Fingerprint, StartsAt: &starts}}
}

// reasonOf renders an alert as people read it: name{label="value", …}.
func reasonOf(a Alert) string {
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		if k != "alertname" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, a.Labels[k])
	}
	return fmt.Sprintf("alert %s{%s}", a.Name(), strings.Join(parts, ", "))
}

func labelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// Target is the Service an alert points at.
type Target struct {
	Namespace, Service, Revision string
}

// TargetOf reads the namespace, and the Service or a Revision, from an
// alert's labels, first present label of each list wins.
func TargetOf(a Alert, cfg config.Rollback) (Target, error) {
	first := func(keys []string) string {
		for _, k := range keys {
			if v := a.Labels[k]; v != "" {
				return v
			}
		}
		return ""
	}
	t := Target{Namespace: first(cfg.NamespaceLabels), Service: first(cfg.ServiceLabels), Revision: first(cfg.RevisionLabels)}
	switch {
	case t.Namespace == "":
		return t, fmt.Errorf("no namespace label (%s)", strings.Join(cfg.NamespaceLabels, ", "))
	case t.Service == "" && t.Revision == "":
		return t, fmt.Errorf("no Service label (%s) or revision label (%s)", strings.Join(cfg.ServiceLabels, ", "), strings.Join(cfg.RevisionLabels, ", "))
	}
	return t, nil
}
