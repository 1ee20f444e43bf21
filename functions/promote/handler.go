package promote

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"
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
}

// Option configures Promote.
type Option func(*Promote)

// WithLive lets adoption read the live Service. Default: no cluster access,
// so adoption pins the running template by a commit of its own first.
func WithLive(l LiveReader) Option { return func(p *Promote) { p.live = l } }

// WithSender sends the manifest.committed events beyond the first (the reply)
// when one event changes several Services. Default: none; rollout still finds
// those Services through the cluster.
func WithSender(s Sender) Option { return func(p *Promote) { p.send = s } }

// WithClock sets the clock for event times. Default time.Now.
func WithClock(now func() time.Time) Option { return func(p *Promote) { p.now = now } }

// New returns promote writing through repo, reading manifests under paths
// (relative to the repository root; "." is all of it).
func New(repo Repo, paths []string, opts ...Option) (*Promote, error) {
	if repo == nil {
		return nil, errors.New("promote: a repository is required")
	}
	if len(paths) == 0 {
		paths = []string{"."}
	}
	p := &Promote{repo: repo, paths: paths, now: time.Now}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Function returns the broker-facing handlers for the host.
func (p *Promote) Function() host.Function {
	return host.Function{Name: Name, Events: map[string]host.EventHandler{
		eventing.TypeImagePushed: handle(p, func(ev eventing.ImagePushed, services []service, live LiveLookup, _ time.Time) ([]desired, []string) {
			return decideImagePushed(services, ev, live)
		}),
		eventing.TypeTrafficShifted: handle(p, func(ev eventing.TrafficShifted, services []service, _ LiveLookup, _ time.Time) ([]desired, []string) {
			return decideShifted(services, ev)
		}),
		eventing.TypeRolloutPromoted: handle(p, func(ev eventing.RolloutPromoted, services []service, _ LiveLookup, at time.Time) ([]desired, []string) {
			return decidePromoted(services, ev, at)
		}),
		eventing.TypeRolloutRolledBack: handle(p, func(ev eventing.RolloutRolledBack, services []service, _ LiveLookup, _ time.Time) ([]desired, []string) {
			return decideRolledBack(services, ev)
		}),
	}}
}

// handle decodes an event of type T, commits what decide wants, and replies
// with manifest.committed.
func handle[T any, P interface {
	*T
	eventing.Data
}](p *Promote, decide func(T, []service, LiveLookup, time.Time) ([]desired, []string)) host.EventHandler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		ev, err := eventing.Decode[T, P](e)
		if err != nil {
			return nil, err
		}
		data := P(&ev)
		log := host.Logger(ctx)
		live := p.memoLive(ctx)
		var last plan
		hash, err := p.repo.Update(ctx, func(files gitrepo.Files) (gitrepo.Change, error) {
			snapshot, err := load(files, p.paths)
			if err != nil {
				return gitrepo.Change{}, err
			}
			services, skipped := findServices(snapshot)
			ds, more := decide(ev, services, live, e.Time().UTC())
			last = build(snapshot, ds, append(skipped, more...))
			return gitrepo.Change{Files: last.Files, Message: message(data, last)}, nil
		})
		for _, s := range last.Skipped {
			log.Warn("service skipped", "reason", s)
		}
		switch {
		case errors.Is(err, gitrepo.ErrNoChange) && len(last.Changed) == 0 && last.Unchanged == 0:
			return nil, fmt.Errorf("%w: nothing to change: %s", host.ErrRefused, strings.Join(orNone(last.Skipped), "; "))
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

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"no Service takes this event"}
	}
	return s
}

// memoLive answers adoption look-ups once per event, so a retried edit sees
// the same answers.
func (p *Promote) memoLive(ctx context.Context) LiveLookup {
	var mu sync.Mutex
	seen := map[string]Live{}
	return func(namespace, name string) Live {
		mu.Lock()
		defer mu.Unlock()
		key := namespace + "/" + name
		if l, ok := seen[key]; ok {
			return l
		}
		l := Live{Err: errors.New("promote has no cluster access configured")}
		if p.live != nil {
			rev, img, found, err := p.live.ServingRevision(ctx, namespace, name)
			l = Live{Found: found, Revision: rev, Image: img, Err: err}
		}
		seen[key] = l
		return l
	}
}

// load reads the YAML files under the configured paths.
func load(files gitrepo.Files, paths []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, dir := range paths {
		list, err := files.List(dir)
		if err != nil {
			return nil, err
		}
		for _, f := range list {
			if ext := path.Ext(f); ext != ".yaml" && ext != ".yml" && path.Base(f) != "Kustomization" {
				continue
			}
			b, err := files.Read(f)
			if err != nil {
				return nil, err
			}
			out[f] = b
		}
	}
	return out, nil
}

// build applies every desired change to a working copy of the files; a
// Service whose edit fails (Knative would refuse it) is skipped with the reason.
func build(snapshot map[string][]byte, ds []desired, skipped []string) plan {
	working := map[string][]byte{}
	for k, v := range snapshot {
		working[k] = v
	}
	pl := plan{Files: map[string][]byte{}, Skipped: skipped}
	for _, d := range ds {
		changed, err := apply(working, d.svc, d)
		if err != nil {
			pl.Skipped = append(pl.Skipped, fmt.Sprintf("%s: %v", d.svc.key(), err))
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
			pl.Skipped = append(pl.Skipped, fmt.Sprintf("%s: cannot announce the change: %v", d.svc.key(), err))
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
		b.WriteString("- " + d.Summary + "\n")
	}
	if len(pl.Skipped) > 0 {
		b.WriteString("\nSkipped:\n")
		for _, s := range pl.Skipped {
			b.WriteString("- " + s + "\n")
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
		if st, err := policy.ParseState(e.State); err == nil && st.StepStartedAt != nil {
			return fmt.Sprintf("slipstream: %s step %d/%d is live since %s, %s", target, e.Step, e.Steps, st.StepStartedAt.UTC().Format("15:04:05"), trafficLine(e.Traffic))
		}
		return fmt.Sprintf("slipstream: %s step %d/%d, %s", target, e.Step, e.Steps, trafficLine(e.Traffic))
	case *eventing.RolloutPromoted:
		return fmt.Sprintf("slipstream: promote %s in %s", e.Revision, target)
	case *eventing.RolloutRolledBack:
		reason := e.Reason
		if e.Alert != nil {
			reason = e.Alert.Name
		}
		return fmt.Sprintf("slipstream: roll back %s to %s (%s)", target, e.StableRevision, reason)
	}
	return "slipstream: " + ev.EventType()
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
// the reply, the others go to the sender.
func (p *Promote) replies(ctx context.Context, hash string, pl plan) (*cloudevents.Event, error) {
	var events []cloudevents.Event
	for _, d := range pl.Changed {
		c := d.Committed
		c.Commit = hash
		e, err := eventing.New(Name, c, p.now())
		if err != nil {
			return nil, fmt.Errorf("building manifest.committed for %s: %v", d.svc.key(), err) // our fault: 500
		}
		events = append(events, e)
	}
	if len(events) == 0 {
		return nil, nil
	}
	for _, e := range events[1:] {
		if p.send == nil {
			host.Logger(ctx).Warn("no K_SINK bound: manifest.committed not sent; rollout finds the Service through the cluster", "subject", e.Subject())
			continue
		}
		if err := p.send.Send(ctx, e); err != nil {
			host.Logger(ctx).Error("sending manifest.committed", "subject", e.Subject(), "error", err.Error())
		}
	}
	return &events[0], nil
}
