package promote

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/policy"
)

// Name is the function's name.
const Name = "promote"

// Promote is the Git writer.
type Promote struct {
	repo  Repo
	paths []string
	live  LiveReader
	send  Sender
	now   func() time.Time
	index index
}

// Option configures Promote.
type Option func(*Promote)

// WithLive lets promote read the cluster: the live Service for adoption, a
// Revision's template for a rollback over a template a person changed.
// Default: no cluster access, so adoption pins the running template by a
// commit of its own first, and such a rollback leaves the template as it is.
func WithLive(l LiveReader) Option { return func(p *Promote) { p.live = l } }

// WithSender sends the manifest.committed events beyond the first (the reply)
// when one event changes several Services. Default: none; rollout still finds
// those Services through the cluster.
func WithSender(s Sender) Option { return func(p *Promote) { p.send = s } }

// WithClock sets the clock for event times. Default time.Now.
func WithClock(now func() time.Time) Option { return func(p *Promote) { p.now = now } }

// WithPaths sets the folders searched for manifests, relative to the
// repository root. Default ".": all of it.
func WithPaths(paths ...string) Option { return func(p *Promote) { p.paths = paths } }

// New returns promote writing through repo.
func New(repo Repo, opts ...Option) (*Promote, error) {
	p := &Promote{repo: repo, paths: []string{"."}, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	switch {
	case p.repo == nil || p.now == nil:
		return nil, errors.New("promote: a repository and a clock are required")
	case len(p.paths) == 0 || slices.Contains(p.paths, ""):
		return nil, errors.New("promote: the manifest paths must not be empty (\".\" is the whole repository)")
	}
	return p, nil
}

// Function returns the broker-facing handlers for the host.
func (p *Promote) Function() host.Function {
	return host.Function{Name: Name, FromBroker: true, Events: map[string]host.EventHandler{
		eventing.TypeImagePushed: handle(p, func(ev eventing.ImagePushed, services []service, known answers, at time.Time) outcome {
			return decideImagePushed(services, ev, known.lives, at)
		}),
		eventing.TypeTrafficShifted: handle(p, func(ev eventing.TrafficShifted, services []service, known answers, _ time.Time) outcome {
			return decideShifted(services, ev, known)
		}),
		eventing.TypeRolloutPromoted: handle(p, func(ev eventing.RolloutPromoted, services []service, known answers, at time.Time) outcome {
			return decidePromoted(services, ev, at, known)
		}),
		eventing.TypeRolloutRolledBack: handle(p, func(ev eventing.RolloutRolledBack, services []service, known answers, _ time.Time) outcome {
			return decideRolledBack(services, ev, known.templates)
		}),
	}}
}

// errNeedLive ends an edit whose decision depends on live objects not read
// yet; the handler reads them and edits again.
var errNeedLive = errors.New("the decision needs the live Services")

// maxLiveRounds bounds how often one event reads live objects: each round
// answers every one the decision asked for, so only a repository that
// keeps gaining Services in between needs another.
const maxLiveRounds = 3

// handle decodes an event of type T, commits what decide wants, and replies
// with manifest.committed. Reading the cluster is never part of the edit:
// when decide asks for live Services, they are read between two edits.
func handle[T any, P interface {
	*T
	eventing.Data
}](p *Promote, decide func(T, []service, answers, time.Time) outcome) host.EventHandler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		ev, err := eventing.Decode[T, P](e)
		if err != nil {
			return nil, err
		}
		data := P(&ev)
		log := host.Logger(ctx)
		known := answers{lives: Lives{}, templates: Templates{}}
		if p.live != nil && readsLiveFirst(data) {
			// A step or a promotion is checked against the live Service
			// (rolledBackLive): read it before the edit, not in a second round.
			p.answer(ctx, outcome{NeedLive: []string{data.Subject()}}, known)
		}
		var last plan
		var hash string
		for round := 1; ; round++ {
			var need outcome
			hash, err = p.repo.Update(ctx, func(files gitrepo.Files) (gitrepo.Change, error) {
				snapshot, services, skipped, err := p.index.scan(files, p.paths)
				if err != nil {
					return gitrepo.Change{}, err
				}
				out := decide(ev, services, known, e.Time().UTC())
				if needs(out) && p.live == nil { // nothing to read: answer at once
					p.answer(ctx, out, known)
					out = decide(ev, services, known, e.Time().UTC())
				}
				if need = out; needs(out) {
					return gitrepo.Change{}, errNeedLive
				}
				last = build(snapshot, out.Changes, append(skipped, out.Skipped...), e.Time().UTC())
				return gitrepo.Change{Files: last.Files, Message: message(data, last)}, nil
			})
			if !errors.Is(err, errNeedLive) || round == maxLiveRounds {
				break
			}
			p.answer(ctx, need, known)
		}
		for _, s := range last.Skipped {
			log.Warn("service skipped", "subject", s.Subject, "reason", s.Reason)
		}
		switch {
		case errors.Is(err, errNeedLive):
			return nil, fmt.Errorf("%w: the repository kept gaining Services to adopt while their live state was read", host.ErrConflict)
		case errors.Is(err, gitrepo.ErrNoChange) && len(last.Changed) == 0 && last.Unchanged == 0:
			return nil, fmt.Errorf("%w: nothing to change: %s", host.ErrRefused, orNone(last.Skipped))
		case errors.Is(err, gitrepo.ErrNoChange):
			log.Info("already in Git; nothing to commit")
			return nil, nil
		case errors.Is(err, gitrepo.ErrConflict):
			return nil, fmt.Errorf("%w: %v", host.ErrConflict, err)
		case err != nil:
			return nil, fmt.Errorf("%w: %v", host.ErrUnavailable, err)
		}
		log.Info("committed", "commit", hash, "services", len(last.Changed))
		return p.replies(ctx, hash, last)
	}
}

func orNone(skipped []skip) string {
	if len(skipped) == 0 {
		return "no Service takes this event"
	}
	parts := make([]string, len(skipped))
	for i, s := range skipped {
		parts[i] = s.String()
	}
	return strings.Join(parts, "; ")
}

// errNoCluster is the live answer when promote has no cluster access.
var errNoCluster = errors.New("promote has no cluster access configured")

// readsLiveFirst reports whether an event's decision always reads its
// Service's live state.
func readsLiveFirst(ev eventing.Data) bool {
	switch ev.(type) {
	case *eventing.TrafficShifted, *eventing.RolloutPromoted:
		return true
	}
	return false
}

// needs reports whether a decision asked for live objects.
func needs(out outcome) bool { return len(out.NeedLive) > 0 || len(out.NeedTemplates) > 0 }

// answer reads, with one get each, which revision the Services the decision
// named serve, and the templates of the revisions it named. A failed read
// is an answer too (Err), and so is having no cluster access: adoption then
// pins the running template by a commit first, and a rollback restores what
// it can without.
func (p *Promote) answer(ctx context.Context, out outcome, known answers) {
	for _, key := range out.NeedLive {
		if p.live == nil {
			known.lives[key] = Live{Err: errNoCluster}
			continue
		}
		namespace, name, _ := strings.Cut(key, "/")
		l, err := p.live.Live(ctx, namespace, name)
		known.lives[key] = Live{Found: l.Exists && l.Serving != "", Revision: l.Serving, Image: l.Image, State: l.State, Err: err}
	}
	for _, key := range out.NeedTemplates {
		if p.live == nil {
			known.templates[key] = Template{Err: errNoCluster}
			continue
		}
		parts := strings.SplitN(key, "/", 3) // templateKey
		if len(parts) != 3 {
			known.templates[key] = Template{Err: fmt.Errorf("malformed revision key %q", key)}
			continue
		}
		spec, found, err := p.live.RevisionTemplate(ctx, parts[0], parts[1], parts[2])
		known.templates[key] = Template{Found: found, Spec: spec, Err: err}
	}
}

// build applies every desired change to a working copy of the files; a
// Service whose edit fails (Knative would refuse it) is skipped with the
// reason. Each state is stamped with when its phase began (policy.Stamp),
// at the event's time, so a redelivery writes the same bytes.
func build(snapshot map[string][]byte, ds []desired, skips []skip, at time.Time) plan {
	working := map[string][]byte{}
	for k, v := range snapshot {
		working[k] = v
	}
	pl := plan{Files: map[string][]byte{}, Skipped: skips}
	for _, d := range ds {
		if d.State != nil {
			st := *d.State
			policy.Stamp(d.svc.State, &st, at)
			d.State = &st
		}
		changed, err := apply(working, d.svc, d)
		if err != nil && d.Restore != nil {
			// The restored template does not apply (promote validates with
			// Knative's default configuration; the cluster's may allow more):
			// the rest of the rollback still goes in, the template stays.
			d.Summary = strings.Replace(d.Summary, restoredNote(d.Template),
				fmt.Sprintf("template left as it is: the one that made %s was refused (%v); restore it by hand", d.Template, err), 1)
			d.Restore, d.Template, d.Image = nil, "", ""
			changed, err = apply(working, d.svc, d)
		}
		if err != nil {
			pl.Skipped = append(pl.Skipped, skipped(d.svc, "%v", err))
			continue
		}
		edited := map[string][]byte{}
		for f, b := range changed {
			if string(b) != string(working[f]) {
				edited[f] = b
			}
		}
		if len(edited) == 0 {
			pl.Unchanged++
			continue
		}
		// Never commit what cannot be announced.
		check := d.Committed
		check.Commit = strings.Repeat("0", 40)
		if err := check.Validate(); err != nil {
			pl.Skipped = append(pl.Skipped, skipped(d.svc, "cannot announce the change: %v", err))
			continue
		}
		for f, b := range edited {
			working[f], pl.Files[f] = b, b
		}
		pl.Changed = append(pl.Changed, d)
	}
	return pl
}

// message is the commit message: a subject, one line per Service, the
// skipped ones, and trailers naming the event.
func message(ev eventing.Data, pl plan) string {
	var b strings.Builder
	b.WriteString(subject(ev, pl))
	b.WriteString("\n\n")
	for _, d := range pl.Changed {
		b.WriteString("- " + d.svc.key() + ": " + d.Summary + "\n")
	}
	if len(pl.Skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, s := range pl.Skipped {
			b.WriteString("- " + s.String() + "\n")
		}
	}
	fmt.Fprintf(&b, "\nSlipstream-Event-Id: %s\nSlipstream-Event-Type: %s\n", ev.ID(), ev.EventType())
	if img := imageOf(ev); img != "" {
		fmt.Fprintf(&b, "Slipstream-Image: %s\n", img)
	}
	return b.String()
}

func subject(ev eventing.Data, pl plan) string {
	target := "no Service"
	if len(pl.Changed) == 1 {
		target = pl.Changed[0].svc.key()
	} else if len(pl.Changed) > 1 {
		target = fmt.Sprintf("%d Services", len(pl.Changed))
	}
	switch e := ev.(type) {
	case *eventing.ImagePushed:
		return fmt.Sprintf("slipstream: deploy %s:%s to %s", e.Repository, e.Tag, target)
	case *eventing.TrafficShifted:
		if e.Step == 0 {
			return fmt.Sprintf("slipstream: %s candidate %s at 0%%", target, e.CandidateRevision)
		}
		st, err := policy.ParseState(e.State)
		shares := versionLine(e.Traffic, st)
		if err == nil && st.StepStartedAt != nil {
			return fmt.Sprintf("slipstream: %s step %d/%d is live since %s, %s", target, e.Step, e.Steps, st.StepStartedAt.UTC().Format("15:04:05"), shares)
		}
		return fmt.Sprintf("slipstream: %s step %d/%d, %s", target, e.Step, e.Steps, shares)
	case *eventing.RolloutPromoted:
		return fmt.Sprintf("slipstream: promote %s in %s", eventing.Versioned(e.Revision, e.Image), target)
	case *eventing.RolloutRolledBack:
		reason := e.Reason
		if e.Alert != nil {
			reason = e.Alert.Name
		}
		if v := eventing.VersionOf(e.Image); v != "" {
			return fmt.Sprintf("slipstream: roll back %s of %s to %s (%s)", v, target, e.StableRevision, reason)
		}
		return fmt.Sprintf("slipstream: roll back %s to %s (%s)", target, e.StableRevision, reason)
	}
	return "slipstream: " + ev.EventType()
}

// versionLine is a step's traffic with each revision's version, from the
// rollout state's images: 1.0.0 (hello-aa11bb22cc) 75%, 1.4.0 (…) 25%.
func versionLine(ts []eventing.TrafficTarget, st policy.State) string {
	images := map[string]string{st.Stable: st.StableImage, st.Candidate: st.CandidateImage}
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = fmt.Sprintf("%s %d%%", eventing.Versioned(t.RevisionName, images[t.RevisionName]), t.Percent)
	}
	return strings.Join(parts, ", ")
}

func imageOf(ev eventing.Data) string {
	switch e := ev.(type) {
	case *eventing.ImagePushed:
		return e.Image
	case *eventing.RolloutPromoted:
		return e.Image
	case *eventing.RolloutRolledBack:
		return e.Image
	}
	return ""
}

// replies builds manifest.committed for every changed Service: the first is
// the reply, the others go to the sender (without one, rollout still finds
// those Services through the cluster).
func (p *Promote) replies(ctx context.Context, hash string, pl plan) (*cloudevents.Event, error) {
	data := make([]eventing.Data, len(pl.Changed))
	for i, d := range pl.Changed {
		c := d.Committed
		c.Commit = hash
		data[i] = c
	}
	return host.Reply(ctx, Name, p.now(), p.send, data...)
}
