package rollback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/webauth"
	"github.com/slipstream-cd/slipstream/policy"
)

// Name is the function's name.
const Name = "rollback"

// Route is where Alertmanager posts.
const Route = "/webhooks/alertmanager"

// Rollback answers Alertmanager.
type Rollback struct {
	cfg     config.Rollback
	cluster Cluster
	send    Sender
	now     func() time.Time
	// rollbacks counts the rollbacks made (slipstream_rollbacks_total).
	rollbacks *prometheus.CounterVec
}

// Option configures Rollback.
type Option func(*Rollback)

// WithRollbacks counts rollback's rollbacks into c (the host's
// slipstream_rollbacks_total, Host.Rollbacks). Default: counted, not served.
func WithRollbacks(c *prometheus.CounterVec) Option { return func(r *Rollback) { r.rollbacks = c } }

// WithClock sets the clock that judges bake windows and stamps events. Default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Rollback) { r.now = now } }

// New returns rollback with validated settings, patching through cluster
// and telling promote through send.
func New(cfg config.Rollback, cluster Cluster, send Sender, opts ...Option) (*Rollback, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := &Rollback{cfg: cfg, cluster: cluster, send: send, now: time.Now, rollbacks: host.RollbacksTotal()}
	for _, o := range opts {
		o(r)
	}
	if r.cluster == nil || r.send == nil || r.now == nil {
		return nil, errors.New("rollback: a cluster client, a sender and a clock are required")
	}
	return r, nil
}

// Function returns the webhook route for the host.
func (r *Rollback) Function() host.Function {
	return host.Function{Name: Name, Webhooks: map[string]host.WebhookHandler{Route: r.handle}, AuthorizeHeaders: r.authorize}
}

func (r *Rollback) authorize(_ string, req *http.Request) error {
	header := req.Header.Get("Authorization")
	switch {
	case r.cfg.TokenFile.Set() && strings.HasPrefix(strings.ToLower(header), "bearer "):
		return webauth.Token(r.cfg.TokenFile.Value(), header)
	case r.cfg.PasswordFile.Set():
		return webauth.Basic(r.cfg.Username, r.cfg.PasswordFile.Value(), header)
	case r.cfg.TokenFile.Set():
		return webauth.Token(r.cfg.TokenFile.Value(), header)
	}
	return nil // SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED
}

// handle decides per Service named by the notification's alerts, up to
// cfg.Concurrency Services at once: a storm (one bad dependency failing
// many Services) arrives as one grouped notification, and each Service
// waits for no other.
func (r *Rollback) handle(ctx context.Context, _ *http.Request, body []byte) (host.Response, error) {
	n, err := parse(body)
	if err != nil {
		return host.Response{}, err
	}
	log := host.Logger(ctx).With("groupKey", n.GroupKey)
	notes := make([]string, len(n.Alerts))
	failed, acted := make([]bool, len(n.Alerts)), make([]bool, len(n.Alerts))
	claims := &claims{done: map[string]bool{}} // a Service is rolled back once per notification
	host.Each(len(n.Alerts), r.cfg.Concurrency, func(i int) {
		a := n.Alerts[i]
		done, err := r.alert(ctx, a, claims)
		note := done.text
		acted[i] = done.rolledBack
		if err != nil {
			failed[i], note = true, "failed: "+err.Error()
			log.Error("alert not handled", "alert", a.Name(), "fingerprint", a.Fingerprint, "error", err.Error())
		} else {
			log.Info("alert handled", "alert", a.Name(), "fingerprint", a.Fingerprint, "status", a.Status, "outcome", note)
		}
		notes[i] = fmt.Sprintf("%s (%s): %s", a.Name(), a.Fingerprint, note)
	})
	if len(notes) == 0 {
		notes = append(notes, "no alerts")
	}
	msg := strings.Join(notes, "; ")
	if slices.Contains(failed, true) {
		return host.Response{}, fmt.Errorf("%w: %s", host.ErrUnavailable, msg)
	}
	answer := host.Response{Status: http.StatusOK, Message: msg} // ignored: nothing to do
	if slices.Contains(acted, true) {
		answer.Outcome = host.OutcomeRolledBack
	}
	return answer, nil
}

// claims are the Services an alert of one notification has taken on.
type claims struct {
	mu   sync.Mutex
	done map[string]bool
}

// claim reports whether key is this caller's to roll back: the first alert
// that decides to roll a Service back does; the others leave it to it.
func (c *claims) claim(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done[key] {
		return false
	}
	c.done[key] = true
	return true
}

// taken reports whether an alert of the notification has claimed key.
func (c *claims) taken(key string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done[key]
}

// alertNote is what one alert did, and whether it rolled its Service back.
type alertNote struct {
	text       string
	rolledBack bool
}

// alert handles one alert: read the Service, decide, patch, tell promote.
func (r *Rollback) alert(ctx context.Context, a Alert, claims *claims) (alertNote, error) {
	say := func(s string) alertNote { return alertNote{text: s} }
	if a.Status != "firing" {
		return say("resolved: nothing changes"), nil
	}
	t, err := TargetOf(a, r.cfg)
	if err != nil {
		return say("ignored: " + err.Error()), nil
	}
	if t.Service == "" {
		rev, err := r.cluster.GetRevision(ctx, t.Namespace, t.Revision)
		if err != nil {
			return alertNote{}, err
		}
		if !rev.Found || rev.Service == "" {
			return say(fmt.Sprintf("ignored: revision %s/%s belongs to no Knative Service", t.Namespace, t.Revision)), nil
		}
		t.Service = rev.Service
	}
	key := t.Namespace + "/" + t.Service
	var live *servingv1.Service
	var act Action
	gone := false     // the Service does not exist: nothing to roll back
	claimed := false  // this alert rolls key back
	other := false    // another alert of the notification does
	stableFound := "" // the stable revision a read found in the cluster
	err = kservice.RetryOnConflict(ctx, func() error {
		var err error
		live, err = r.cluster.Get(ctx, t.Namespace, t.Service)
		if gone = errors.Is(err, kservice.ErrNotFound); err != nil {
			return err
		}
		if _, managed := live.Annotations[policy.AnnotationRollout]; managed {
			// The counter exists at 0 before a first rollback, so increase()
			// sees that one too (only for managed Services: alert labels
			// must not grow the label set).
			r.rollbacks.WithLabelValues(live.Namespace, live.Name)
		}
		act = Decide(a, t.Revision, live, r.cfg.DefaultRollbackOn, r.now())
		if act.Kind != Ignore && !claimed {
			if other = !claims.claim(key); other {
				return nil
			}
			claimed = true
		}
		if act.Kind != RollBack {
			return nil
		}
		// Knative does not route to a revision it no longer has: a patch
		// would leave the traffic where it is and claim a rollback. Read
		// once per revision: a conflict's retry keeps its window short (a
		// writer patching back to back otherwise wins every race).
		if act.State.Stable != stableFound {
			good, err := r.cluster.GetRevision(ctx, t.Namespace, act.State.Stable)
			if err != nil {
				return err
			}
			if !good.Found {
				return fmt.Errorf("cannot roll back %s: stable revision %s no longer exists in the cluster (garbage-collected?); traffic stays as it is until a person acts",
					act.State.Candidate, act.State.Stable)
			}
			stableFound = act.State.Stable
		}
		live, err = r.cluster.Patch(ctx, live, act.Change) // a conflict: read it again and decide again
		return err
	})
	switch {
	case gone:
		return say(fmt.Sprintf("ignored: Service %s does not exist", key)), nil
	case err != nil:
		return alertNote{}, err
	case other, act.Kind == Ignore && !claimed && claims.taken(key):
		// Whether this alert read the Service before or after another alert
		// of the notification rolled it back, the answer is the same.
		return say(key + ": rolled back for another alert of this notification"), nil
	case act.Kind == Ignore:
		return say(key + ": " + act.Note), nil
	}
	if err := r.announce(ctx, live, act); err != nil {
		return alertNote{}, fmt.Errorf("%s: traffic is on %s, but promote was not told: %w", key, act.State.Stable, err)
	}
	if act.Kind == RollBack { // best effort, after the rollback: the story on the Service (rollout's key for the same rollback)
		r.rollbacks.WithLabelValues(live.Namespace, live.Name).Inc()
		ev := kservice.Event{Warning: true, Reason: "RolledBack", Key: kservice.EventKey("RolledBack", act.State.Candidate, act.State.StartedAt, act.State.Stable),
			Note: fmt.Sprintf("%s rolled back, 100%% on %s: alert %s (%s)", act.State.Candidate, act.State.Stable, a.Name(), a.Fingerprint)}
		if err := r.cluster.Record(ctx, live, Name, ev, r.now()); err != nil {
			host.Logger(ctx).Warn("event not recorded", "service", key, "error", err.Error())
		}
	}
	return alertNote{text: key + ": " + act.Note, rolledBack: act.Kind == RollBack}, nil
}

// announce sends rollout.rolledback and records that it did, so repeats of
// the alert do not send it again. The record is best-effort: without it a
// repeat sends the same event (same id) once more.
func (r *Rollback) announce(ctx context.Context, live *servingv1.Service, act Action) error {
	e, err := eventing.New(Name, act.Event, r.now())
	if err != nil {
		return fmt.Errorf("building rollout.rolledback: %v", err)
	}
	if err := r.send.Send(ctx, e); err != nil {
		return err
	}
	if _, err := r.cluster.Patch(ctx, live, act.Announced); err != nil {
		host.Logger(ctx).Warn("could not record that rollout.rolledback was sent", "service", live.Namespace+"/"+live.Name, "error", err.Error())
	}
	return nil
}
