package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/api/equality"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// Live is what the cluster says of a Service: which revision serves
// (adoption, when the manifest pins no stable revision) and its live
// rollout state (a late step or promotion after a rollback).
type Live struct {
	// Found is false when the cluster has no such Service or it serves no
	// revision yet (a first deploy: nothing to protect).
	Found bool
	// Revision is the revision serving traffic now.
	Revision string
	// Image is that revision's image, as the live template names it.
	Image string
	// State is the live rollout state (policy.LiveState), when it parses.
	State policy.State
	// Err is set when the cluster could not be read; adoption then pins the
	// current template by a commit of its own first.
	Err error
}

// rolledBackLive says why a step or a promotion of candidate must not be
// committed — the cluster has rolled it back, and Git's revert has not been
// committed yet: committing it would give the candidate traffic again at
// the next sync — or asks for the live Service (ask). Without an answer
// (no cluster access) it lets the commit go: rollout's guard then takes
// the traffic back.
func rolledBackLive(s service, candidate string, lives Lives) (why string, ask bool) {
	l, asked := lives[s.key()]
	switch {
	case !asked:
		return "", true
	case l.Err == nil && l.State.Phase == policy.RolledBack && l.State.Candidate == candidate:
		return fmt.Sprintf("the cluster has rolled back %s (%s); the event is late", candidate, l.State.Reason), false
	}
	return "", false
}

// Lives are the cluster's answers for Services whose manifests pin no stable
// revision, by namespace/name. The handler reads them before the edit, so
// the decision stays a pure function of the files, the event and these.
type Lives map[string]Live

// desired is the outcome one event wants for one Service; empty fields stay.
type desired struct {
	svc      service
	Image    string
	Template string
	// Restore, when set, replaces the whole template: a rollback to a
	// revision whose template was changed since (by a person) writes the
	// template that made it, or Knative refuses the name (RevisionNameTaken).
	Restore    *servingv1.RevisionTemplateSpec
	Traffic    []eventing.TrafficTarget
	State      *policy.State
	Quarantine string
	// Unquarantine is a digest to take out of the quarantine (a person's
	// Unquarantine or Retry); never set with Quarantine.
	Unquarantine string
	// Summary is the line of the commit message for this Service, after its name.
	Summary string
	// Committed is the manifest.committed data (the commit is filled in later).
	Committed eventing.ManifestCommitted
}

// skip is a Service, or a file, that an event leaves alone, and why; it is
// logged and listed in the commit message.
type skip struct {
	// Subject is the Service (namespace/name) or the file concerned.
	Subject string
	// Reason says why, for people.
	Reason string
}

// String renders the skip as the commit message lists it.
func (s skip) String() string { return s.Subject + ": " + s.Reason }

func skipped(s service, format string, args ...any) skip {
	return skip{Subject: s.key(), Reason: fmt.Sprintf(format, args...)}
}

// outcome is what one event wants of the repository's Services.
type outcome struct {
	Changes []desired
	Skipped []skip
	// NeedLive lists the Services (namespace/name) whose live state decides
	// the outcome and which the Lives given do not hold: read them, decide again.
	NeedLive []string
	// NeedTemplates lists the revisions (templateKey) whose template decides
	// the outcome and which the Templates given do not hold.
	NeedTemplates []string
}

// Template is the cluster's answer for the template that made a revision
// (read from the Revision: kservice.Client.RevisionTemplate).
type Template struct {
	// Found is false when the cluster no longer has the revision.
	Found bool
	Spec  servingv1.RevisionTemplateSpec
	// Err is set when the cluster could not be read (or promote has no
	// cluster access).
	Err error
}

// Templates are the cluster's answers by templateKey.
type Templates map[string]Template

// templateKey names a revision of a Service: namespace/service/revision.
func templateKey(s service, revision string) string {
	return s.Namespace + "/" + s.Name + "/" + revision
}

// need asks for the template of a Service's revision.
func need(s service, revision string) outcome {
	return outcome{NeedTemplates: []string{templateKey(s, revision)}}
}

// answers are what the cluster said, read between two edits so that the
// decision stays a pure function of the files, the event and these.
type answers struct {
	lives     Lives
	templates Templates
}

// plan is the outcome of one event applied to the files: what to write and what changed.
type plan struct {
	Files   map[string][]byte
	Changed []desired
	// Unchanged counts Services the event wanted as they already are (a redelivery).
	Unchanged int
	Skipped   []skip
}

// sameDigest reports whether two image references are pinned to one digest.
func sameDigest(a, b string) bool { return digestOf(a) != "" && digestOf(a) == digestOf(b) }

func digestOf(image string) string {
	_, d, _ := strings.Cut(image, "@")
	return d
}

// repositoryName is an image name's repository, normalised the way
// registries name them (docker.io is index.docker.io); "" when it is not
// one.
func repositoryName(imageName string) string {
	r, err := name.NewRepository(imageName)
	if err != nil {
		return ""
	}
	return r.Name()
}

// decideImagePushed pins the pushed image in every Service that takes it.
func decideImagePushed(services []service, ev eventing.ImagePushed, lives Lives, at time.Time) outcome {
	var out outcome
	pushed := repositoryName(ev.Registry + "/" + ev.Repository)
	for _, s := range services {
		if pushed == "" || s.Repository != pushed {
			continue
		}
		pol, err := s.policy()
		switch {
		case err == policy.ErrUnmanaged:
			continue
		case err != nil:
			out.Skipped = append(out.Skipped, skipped(s, "%v", err))
			continue
		case !pol.Track.Accepts(ev.Tag):
			out.Skipped = append(out.Skipped, skipped(s, "track %s does not take tag %s", pol.Track, ev.Tag))
			continue
		case pol.Quarantined(ev.Digest):
			out.Skipped = append(out.Skipped, skipped(s, "%s is quarantined", ev.Digest))
			continue
		}
		if _, cur := splitImage(s.Image); pol.Track.Kind == policy.TrackSemver && !pol.AllowDowngrade && policy.Newer(ev.Tag, cur) {
			out.Skipped = append(out.Skipped, skipped(s, "%s would downgrade %s (set %s: \"true\" to allow)", ev.Tag, cur, policy.AnnotationAllowDowngrade))
			continue
		}
		d, why, needLive := pinCandidate(s, ev.Image, lives, at)
		switch {
		case needLive:
			out.NeedLive = append(out.NeedLive, s.key())
			continue
		case why != "":
			out.Skipped = append(out.Skipped, skipped(s, "%s", why))
			continue
		}
		d.Committed.CauseType, d.Committed.CauseID = ev.EventType(), ev.ID()
		d.svc = s
		out.Changes = append(out.Changes, d)
	}
	return out
}

// pinCandidate puts image in s as the candidate beside the stable revision,
// adopting the Service first when its manifest pins no stable revision. It
// returns needLive when that depends on the live Service and lives has no
// answer for it.
func pinCandidate(s service, image string, lives Lives, at time.Time) (d desired, why string, needLive bool) {
	cand, err := revisionFor(s, image)
	if err != nil {
		return desired{}, err.Error(), false
	}
	stable, stableImage := s.pinnedStable(), ""
	if s.State.Phase == policy.Adopting && stable == s.State.Stable {
		// Adoption is under way: the newest push waits for the pinned revision too.
		st := s.State
		st.PendingImage = image
		return desired{State: &st, Summary: fmt.Sprintf("%s waits for adoption of %s to finish", image, stable),
			Committed: committed(s, s.Image, stable, "")}, "", false
	}
	if stable != "" {
		stableImage = knownImage(s, stable)
	} else {
		l, ok := lives[s.key()]
		switch {
		case !ok:
			return desired{}, "", true
		case l.Err != nil:
			d, err := adopt(s, image, l.Err)
			if err != nil {
				return desired{}, err.Error(), false
			}
			return d, "", false
		case !l.Found:
			// First deploy: nothing serves yet, the candidate takes 100% as stable.
			if s.Template != "" && s.Template == s.State.Candidate && (s.Template == cand || sameDigest(s.Image, image)) {
				return desired{Summary: "already deployed as " + cand}, "", false // a redelivery: nothing to do
			}
			st := policy.State{Phase: policy.Pending, Candidate: cand, CandidateImage: image, StartedAt: &at, Reason: "first deploy"}
			return desired{Image: image, Template: cand, Traffic: []eventing.TrafficTarget{{RevisionName: cand, Percent: 100, Tag: "stable"}}, State: &st,
				Summary:   fmt.Sprintf("first deploy of %s as %s (100%%, tag stable)", image, cand),
				Committed: committed(s, image, "", cand)}, "", false
		default:
			stable, stableImage = l.Revision, l.Image
		}
	}
	// The manifest's template already runs this digest: the same revision
	// (a redelivery, or the same digest under another tag), so nothing
	// changes — a new image string under the same revision name would be a
	// template change Knative refuses.
	sameRevision := s.Template != "" && (cand == s.Template || sameDigest(s.Image, image))
	switch {
	case cand == stable, sameRevision && s.Template == stable:
		return desired{}, fmt.Sprintf("%s is already the stable revision", stable), false
	case sameRevision:
		return desired{Summary: fmt.Sprintf("%s is already the candidate", s.Template)}, "", false
	}
	st := policy.State{Phase: policy.Pending, Stable: stable, StableImage: stableImage, Candidate: cand, CandidateImage: image, StartedAt: &at}
	return desired{Image: image, Template: cand, State: &st,
		Traffic:   []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}, {RevisionName: cand, Percent: 0, Tag: "candidate"}},
		Summary:   fmt.Sprintf("%s as candidate %s at 0%%, %s stays stable at 100%%", image, cand, stable),
		Committed: committed(s, image, stable, cand)}, "", false
}

// knownImage is the image of a revision the manifest or its state names.
func knownImage(s service, revision string) string {
	switch {
	case s.State.Stable == revision && s.State.StableImage != "":
		return s.State.StableImage
	case s.State.Candidate == revision && s.State.CandidateImage != "":
		return s.State.CandidateImage
	case s.State.PreviousStable == revision && s.State.PreviousStableImage != "":
		return s.State.PreviousStableImage
	case s.Template == revision:
		return s.Image
	}
	return ""
}

// adopt pins the template that runs now as a named stable revision at 100%,
// changing nothing that serves, and parks the pushed image until that
// revision is the stable one (rollout then sends rollout.promoted for it).
func adopt(s service, pending string, cause error) (desired, error) {
	stable := s.Template
	if stable == "" {
		var err error
		if stable, err = revisionFor(s, s.Image); err != nil {
			return desired{}, err
		}
	}
	st := policy.State{Phase: policy.Adopting, Stable: stable, StableImage: s.Image, PendingImage: pending,
		Reason: fmt.Sprintf("the live Service could not be read (%v): pinning the running template first", cause)}
	return desired{Template: stable, State: &st, Traffic: []eventing.TrafficTarget{{RevisionName: stable, Percent: 100, Tag: "stable"}},
		Summary:   fmt.Sprintf("adopt: pin the running template %s as revision %s at 100%% (no behaviour change); %s waits for it", s.Image, stable, pending),
		Committed: committed(s, s.Image, stable, "")}, nil
}

func committed(s service, image, stable, cand string) eventing.ManifestCommitted {
	return eventing.ManifestCommitted{Namespace: s.Namespace, Service: s.Name, Path: s.Path, Image: image, StableRevision: stable, CandidateRevision: cand}
}

// find returns the managed Service named by an event, or why there is none.
func find(services []service, namespace, svc string) (service, *skip) {
	key := namespace + "/" + svc
	for _, s := range services {
		if s.Namespace == namespace && s.Name == svc {
			if _, err := s.policy(); err == policy.ErrUnmanaged {
				return service{}, &skip{Subject: key, Reason: "not managed by slipstream"}
			}
			return s, nil
		}
	}
	return service{}, &skip{Subject: key, Reason: "no manifest of this Service under the configured paths"}
}

// only is the outcome of an event for one Service.
func only(d desired) outcome { return outcome{Changes: []desired{d}} }

// skipping is the outcome of an event that changes nothing.
func skipping(s skip) outcome { return outcome{Skipped: []skip{s}} }

// decideShifted writes a step's traffic and state (git traffic writer).
func decideShifted(services []service, ev eventing.TrafficShifted, known answers) outcome {
	s, why := find(services, ev.Namespace, ev.Service)
	if why != nil {
		return skipping(*why)
	}
	pol, perr := s.policy()
	if perr == nil && pol.Writer == policy.WriterCluster {
		return skipping(skipped(s, "traffic writer is cluster: steps live in the cluster, Git records only outcomes"))
	}
	st := s.State
	st.Phase, st.Step, st.Stable, st.Candidate = policy.Progressing, ev.Step, ev.StableRevision, ev.CandidateRevision
	if ev.State != "" {
		parsed, err := policy.ParseState(ev.State)
		if err != nil {
			return skipping(skipped(s, "%v", err))
		}
		st = parsed
	}
	if why := behind(s.State, st, pol.Steps); why != "" {
		return skipping(skipped(s, "a late traffic.shifted (step %d): %s", ev.Step, why))
	}
	switch why, ask := rolledBackLive(s, ev.CandidateRevision, known.lives); {
	case ask:
		return outcome{NeedLive: []string{s.key()}}
	case why != "":
		return skipping(skipped(s, "a late traffic.shifted (step %d): %s", ev.Step, why))
	}
	pin := s.Template != ev.CandidateRevision
	if pin {
		if stop := pinOrStop(s, ev.CandidateRevision, known.templates, fmt.Sprintf("step %d is for candidate %s", ev.Step, ev.CandidateRevision)); stop != nil {
			return *stop
		}
	}
	summary := fmt.Sprintf("step %d/%d, %s", ev.Step, ev.Steps, eventing.TrafficText(ev.Traffic))
	if ev.Step == 0 {
		summary = fmt.Sprintf("candidate %s at 0%% (the template changed outside slipstream), %s", ev.CandidateRevision, eventing.TrafficText(ev.Traffic))
	}
	if pin {
		summary += "; " + pinnedNote(ev.CandidateRevision)
	}
	return only(desired{svc: s, Template: ev.CandidateRevision, Traffic: ev.Traffic, State: &st, Summary: summary,
		Committed: withCause(committed(s, s.Image, ev.StableRevision, ev.CandidateRevision), ev)})
}

// pinName decides whether the manifest's template may be pinned to
// revision, a name Knative gave it: a person who changed the template
// deleted its name, Knative named the revision (<service>-<generation>),
// and rollout rolls it out as a candidate. Pinning the name keeps the
// traffic in Git, which names revisions, true to the template; Knative
// reuses the revision only if its spec is the template's, so the revision
// is read and compared first (ask), and anything else is refused with why.
func pinName(s service, revision string, templates Templates) (pin bool, why string, ask bool) {
	if s.Template != "" {
		return false, "", false
	}
	t, asked := templates[templateKey(s, revision)]
	switch {
	case !asked:
		return false, "", true
	case t.Err != nil:
		return false, fmt.Sprintf("the manifest's template has no name, and revision %s could not be read to compare (%v)", revision, t.Err), false
	case !t.Found:
		return false, fmt.Sprintf("the manifest's template has no name, and the cluster has no revision %s", revision), false
	case !madeFrom(s, t.Spec):
		return false, fmt.Sprintf("the manifest's template has no name and is not the one that made %s (it changed again)", revision), false
	}
	return true, "", false
}

// pinOrStop is for a step or a promotion of a revision that is not the
// manifest's template: nil when the template may be pinned to it
// (pinName), or the outcome instead — a question for the cluster, or a
// skip saying what was refused and why.
func pinOrStop(s service, revision string, templates Templates, what string) *outcome {
	pin, why, ask := pinName(s, revision, templates)
	switch {
	case ask:
		out := need(s, revision)
		return &out
	case why != "":
		out := skipping(skipped(s, "%s: %s", what, why))
		return &out
	case !pin:
		out := skipping(skipped(s, "%s, the manifest runs %s", what, s.Template))
		return &out
	}
	return nil
}

// madeFrom reports whether a revision's spec is what applying the manifest's
// template makes: every field the template names has the revision's value,
// lists of the same length; a field only the revision has must be one
// Knative's webhook defaults (its value is the cluster's config-defaults,
// which promote does not know), or enableServiceLinks, which Knative sets
// only when something is created.
func madeFrom(s service, t servingv1.RevisionTemplateSpec) bool {
	var raw struct {
		Spec map[string]any `json:"spec"`
	}
	var g servingv1.RevisionTemplateSpec
	if json.Unmarshal(s.TemplateJSON, &raw) != nil || json.Unmarshal(s.TemplateJSON, &g) != nil || len(g.Spec.Containers) == 0 {
		return false
	}
	// What the template names, as written; the effective image (a
	// kustomization may set it) in the first container.
	containers, _ := raw.Spec["containers"].([]any)
	first, _ := containers[0].(map[string]any)
	if first == nil {
		return false
	}
	first["image"] = s.Image
	g.Spec.Containers[0].Image = s.Image
	g.SetDefaults(context.Background())
	def, err1 := asJSON(g.Spec)
	have, err2 := asJSON(t.Spec)
	return err1 == nil && err2 == nil && matches(have, raw.Spec, def)
}

// matches is madeFrom's rule on JSON values: have, the revision's; named,
// the template's; def, the template as Knative defaults it.
func matches(have, named, def any) bool {
	switch n := named.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return false
		}
		d, _ := def.(map[string]any)
		for k, v := range n {
			if !matches(h[k], v, d[k]) {
				return false
			}
		}
		for k := range h {
			_, inNamed := n[k]
			_, defaulted := d[k]
			if !inNamed && !defaulted && k != "enableServiceLinks" {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok || len(h) != len(n) {
			return false
		}
		d, _ := def.([]any)
		for i := range n {
			var di any
			if i < len(d) {
				di = d[i]
			}
			if !matches(h[i], n[i], di) {
				return false
			}
		}
		return true
	}
	return equality.Semantic.DeepEqual(have, named)
}

// pinnedNote is what a commit line says of a pinned name.
func pinnedNote(revision string) string {
	return "template named " + revision + ", the name Knative gave it"
}

// behind says why next, a step's state, would move Git's state cur
// backwards, or "": the state written to Git never moves backwards, so a
// redelivered or late traffic.shifted changes nothing. steps are the steps
// of the policy in Git (nil when it does not parse). It is behind when Git
// already records the end of its rollout (promoted or rolled back), when it
// walks steps the policy in Git no longer has, or when it belongs to the
// same rollout and Git is past it: a later step, the same step already
// live, or a later analysis check. A restart of the steps because the
// policy's steps changed (policy.State.StepsChanged) is not behind.
func behind(cur, next policy.State, steps []int) string {
	if steps == nil {
		steps = next.Steps
	}
	switch {
	case next.Candidate != "" && cur.Phase == policy.Promoted && cur.Stable == next.Candidate:
		return fmt.Sprintf("Git already records %s promoted", cur.Stable)
	case next.Candidate != "" && cur.Phase == policy.RolledBack && cur.Candidate == next.Candidate:
		return fmt.Sprintf("Git already records %s rolled back", cur.Candidate)
	case cur.Candidate != next.Candidate || cur.Stable != next.Stable:
		return ""
	case cur.Phase != policy.Progressing && cur.Phase != policy.Paused:
		return ""
	case next.Steps != nil && !slices.Equal(next.Steps, steps):
		return fmt.Sprintf("it walks steps %s, the policy in Git has %s now", policy.StepsText(next.Steps), policy.StepsText(steps))
	case cur.StepsChanged(steps):
		return "" // the steps start over
	case cur.Step > next.Step:
		return fmt.Sprintf("Git already records step %d", cur.Step)
	case cur.Step < next.Step:
		return ""
	case cur.StepStartedAt != nil && next.StepStartedAt == nil:
		return fmt.Sprintf("Git already records step %d live since %s", cur.Step, cur.StepStartedAt.UTC().Format(time.RFC3339))
	case cur.StepStartedAt != nil && next.StepStartedAt.Before(*cur.StepStartedAt):
		return fmt.Sprintf("Git already records step %d live since %s, later", cur.Step, cur.StepStartedAt.UTC().Format(time.RFC3339))
	case cur.CheckedAt != nil && (next.CheckedAt == nil || next.CheckedAt.Before(*cur.CheckedAt)):
		return fmt.Sprintf("Git already records the analysis check of %s", cur.CheckedAt.UTC().Format(time.RFC3339))
	}
	return ""
}

// decidePromoted makes the promoted revision stable at 100%, remembering the
// previous stable revision for the bake window; at is the event's time. When
// it ends an adoption, the image that waited goes in as the candidate.
func decidePromoted(services []service, ev eventing.RolloutPromoted, at time.Time, known answers) outcome {
	s, why := find(services, ev.Namespace, ev.Service)
	if why != nil {
		return skipping(*why)
	}
	if s.State.Phase == policy.Adopting && s.State.Stable == ev.Revision && s.State.PendingImage != "" {
		adopted := s
		adopted.Traffic = []eventing.TrafficTarget{{RevisionName: ev.Revision, Percent: 100, Tag: "stable"}}
		adopted.Latest = false
		adopted.State.Phase = policy.Promoted
		d, why, needLive := pinCandidate(adopted, s.State.PendingImage, nil, at)
		switch {
		case needLive: // cannot happen: the adopted revision is pinned above
			return skipping(skipped(s, "adoption of %s done, but no stable revision is pinned", ev.Revision))
		case why != "":
			return skipping(skipped(s, "%s", why))
		}
		d.Summary = fmt.Sprintf("adoption done, %s is stable; %s", ev.Revision, d.Summary)
		d.Committed = withCause(d.Committed, ev)
		d.svc = s
		return only(d)
	}
	if !(s.State.Phase == policy.Promoted && s.State.Stable == ev.Revision) { // not a redelivery
		switch why, ask := rolledBackLive(s, ev.Revision, known.lives); {
		case ask:
			return outcome{NeedLive: []string{s.key()}}
		case why != "":
			return skipping(skipped(s, "a late rollout.promoted: %s", why))
		}
	}
	pin := s.Template != ev.Revision && s.pinnedStable() != ev.Revision
	if pin {
		if stop := pinOrStop(s, ev.Revision, known.templates, "promoted "+ev.Revision); stop != nil {
			return *stop
		}
	}
	image := knownImage(s, ev.Revision)
	if image == "" {
		image = ev.Image
	}
	st := policy.State{Phase: policy.Promoted, Stable: ev.Revision, StableImage: image, Reason: "promoted", PromotedAt: &at}
	if prev := ev.PreviousRevision; prev != "" && prev != ev.Revision {
		st.PreviousStable, st.PreviousStableImage = prev, knownImage(s, prev)
	}
	if s.State.Candidate == ev.Revision {
		st.StartedAt = s.State.StartedAt // binds a rollback record of this rollout (policy.State.RollsBack)
	}
	if s.State.Phase == policy.Promoted && s.State.Stable == ev.Revision {
		st = s.State // already recorded: a redelivery
	}
	if ev.PreviousRevision != "" {
		st.Reason = "promoted over " + ev.PreviousRevision
	}
	d := desired{svc: s, Traffic: []eventing.TrafficTarget{{RevisionName: ev.Revision, Percent: 100, Tag: "stable"}}, State: &st,
		Summary:   fmt.Sprintf("promote %s to stable at 100%%", ev.Revision),
		Committed: withCause(committed(s, image, ev.Revision, ""), ev)}
	if pin {
		d.Template, d.Summary = ev.Revision, d.Summary+"; "+pinnedNote(ev.Revision)
	}
	return only(d)
}

// decideRolledBack puts the template back to the one that made the stable
// revision, sends all traffic to stable and quarantines the bad digest
// (stableTemplate says how the template goes back).
func decideRolledBack(services []service, ev eventing.RolloutRolledBack, templates Templates) outcome {
	s, why := find(services, ev.Namespace, ev.Service)
	if why != nil {
		return skipping(*why)
	}
	stableImage := knownImage(s, ev.StableRevision)
	d := desired{svc: s, Traffic: []eventing.TrafficTarget{{RevisionName: ev.StableRevision, Percent: 100, Tag: "stable"}}, Quarantine: digestOf(ev.Image)}
	image := s.Image
	var notes []string
	back, note, ask := stableTemplate(s, ev, stableImage, templates)
	switch {
	case ask:
		return need(s, ev.StableRevision)
	case back.restore != nil:
		d.Restore, d.Template = back.restore, ev.StableRevision
		if img := firstImage(back.restore); img != "" {
			d.Image, image, stableImage = img, img, img
		}
	case back.imageAndName:
		d.Image, d.Template, image = stableImage, ev.StableRevision, stableImage
	}
	if note != "" {
		notes = append(notes, note)
	}
	if d.Quarantine != "" && sameDigest(ev.Image, stableImage) {
		// The template changed, not the image: the digest is the stable one's.
		d.Quarantine = ""
		notes = append(notes, "digest not quarantined: the stable revision runs it too")
	}
	// The candidate is recorded: it is what was rolled back, not a template
	// change to roll out (rollout starts a candidate for a revision the
	// state does not name), and the rollback has been announced — here.
	st := policy.State{Phase: policy.RolledBack, Stable: ev.StableRevision, StableImage: stableImage, Candidate: ev.CandidateRevision,
		CandidateImage: ev.Image, Announced: true, Reason: ev.Reason}
	d.State = &st
	d.Summary = fmt.Sprintf("roll back %s to %s", ev.CandidateRevision, ev.StableRevision)
	if d.Quarantine != "" {
		d.Summary += ", quarantine " + d.Quarantine
	}
	d.Summary += " (" + ev.Reason + ")"
	for _, n := range notes {
		d.Summary += "; " + n
	}
	d.Committed = withCause(committed(s, image, ev.StableRevision, ""), ev)
	return only(d)
}

// restoredNote is what a rollback's commit line says of a restored template.
func restoredNote(stable string) string {
	return "template restored from revision " + stable + ": it was changed since"
}

// templateBack is how a rollback brings the template back to the stable
// revision: the whole template that made it, or its image and name over
// the manifest's template, or neither (left as it is).
type templateBack struct {
	restore      *servingv1.RevisionTemplateSpec
	imageAndName bool
}

// stableTemplate decides how a rollback brings the template back. Knative
// reuses a revision for a template that names it only when the specs are
// equal; the stable name over another spec is refused (RevisionNameTaken)
// and freezes the Service's traffic. So:
//   - when the manifest's template with the stable image still names the
//     stable revision (slipstream names revisions after their template),
//     only the image changed since: image and name;
//   - otherwise the template that made the stable revision is read from the
//     cluster (ask: read it first) and written whole — unless a
//     kustomization sets the image: kustomize would apply its patches to
//     the rendered template again;
//   - when that cannot be, image and name if the candidate's template is
//     one slipstream named for a push (only the image changed since the
//     stable one), else the template is left as it is — the stable name
//     over a person's template would be refused — and note says so. A
//     stable revision of another Service (a state that names one) is never
//     written.
func stableTemplate(s service, ev eventing.RolloutRolledBack, stableImage string, templates Templates) (back templateBack, note string, ask bool) {
	stable := ev.StableRevision
	if stableImage != "" {
		if name, err := revisionFor(s, stableImage); err == nil && name == stable {
			return templateBack{imageAndName: true}, "", false
		}
	}
	var cannot string
	if s.Kustomization != "" {
		cannot = "a kustomization sets its image, and the rendered template is not written back into " + s.Path
	} else {
		t, asked := templates[templateKey(s, stable)]
		switch {
		case !asked:
			return templateBack{}, "", true
		case t.Err == nil && t.Found:
			return templateBack{restore: t.Spec.DeepCopy()}, restoredNote(stable), false
		case errors.Is(t.Err, kservice.ErrForeignRevision):
			return templateBack{}, fmt.Sprintf("template left as it is: %v", t.Err), false
		case t.Err != nil:
			cannot = fmt.Sprintf("the template of %s could not be read (%v)", stable, t.Err)
		default:
			cannot = "the cluster no longer has " + stable
		}
	}
	switch {
	case stableImage == "":
		return templateBack{}, "template left as it is: the image of " + stable + " is not recorded, and " + cannot, false
	case namedForAPush(s):
		return templateBack{imageAndName: true}, "", false
	}
	return templateBack{}, fmt.Sprintf("template left as it is: it is not one slipstream named for a push, so it may differ from %s's in more than the image, and %s; restore it by hand", stable, cannot), false
}

// namedForAPush reports whether the manifest's template is one promote named for
// a pushed image — after the template, or after the digest before that
// rule — rather than one a person wrote.
func namedForAPush(s service) bool {
	if s.Template == "" {
		return false
	}
	if name, err := revisionFor(s, s.Image); err == nil && name == s.Template {
		return true
	}
	_, hex, ok := strings.Cut(digestOf(s.Image), ":")
	return ok && len(hex) >= 10 && s.Template == s.Name+"-"+hex[:10]
}

// firstImage is the image of a template's first container.
func firstImage(t *servingv1.RevisionTemplateSpec) string {
	if len(t.Spec.Containers) == 0 {
		return ""
	}
	return t.Spec.Containers[0].Image
}

func withCause(c eventing.ManifestCommitted, ev eventing.Data) eventing.ManifestCommitted {
	c.CauseType, c.CauseID = ev.EventType(), ev.ID()
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
