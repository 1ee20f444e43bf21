package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/slipstream-cd/slipstream/eventing"
)

// Policy defaults, applied when an annotation is absent.
const (
	DefaultSteps            = "10,25,50,100"
	DefaultPause            = time.Minute
	DefaultWriter           = WriterGit
	DefaultBake             = 30 * time.Minute
	DefaultProgressDeadline = 10 * time.Minute
	DefaultAnalysisInterval = time.Minute
	DefaultFailureLimit     = 2
	DefaultInconclusive     = 10
)

// ErrUnmanaged means the Service has no slipstream.dev/track annotation:
// slipstream leaves it alone.
var ErrUnmanaged = errors.New("not managed by slipstream: no " + AnnotationTrack + " annotation")

// Writer says who writes each traffic step.
type Writer string

const (
	// WriterGit makes each step a commit in the config repository.
	WriterGit Writer = "git"
	// WriterCluster patches the live Service; Git records only the outcome.
	WriterCluster Writer = "cluster"
)

// TrackKind is how a Service chooses which pushed tags to take.
type TrackKind string

// Track kinds.
const (
	TrackSemver TrackKind = "semver"
	TrackRegex  TrackKind = "regex"
	TrackTag    TrackKind = "tag"
	TrackAny    TrackKind = "any"
)

// Track is a parsed slipstream.dev/track annotation.
type Track struct {
	// Kind is semver, regex, tag or any.
	Kind TrackKind
	// Expr is what follows the kind: the range, the expression or the tag.
	Expr string

	constraint *semver.Constraints
	re         *regexp.Regexp
}

// Accepts reports whether a pushed tag is one the Service takes. semver takes
// tags that parse as versions (a leading v is allowed) inside the range —
// pre-releases only when the range names one; regex takes tags the whole
// expression matches; tag takes exactly that tag; any takes every tag.
func (t Track) Accepts(tag string) bool {
	switch t.Kind {
	case TrackSemver:
		v, err := semver.NewVersion(tag)
		return err == nil && t.constraint.Check(v)
	case TrackRegex:
		return t.re.MatchString(tag)
	case TrackTag:
		return tag == t.Expr
	case TrackAny:
		return tag != ""
	}
	return false
}

// Newer reports whether tag b is a higher version than tag a; false when either
// is not a version. Used to refuse semver downgrades.
func Newer(a, b string) bool {
	va, errA := semver.NewVersion(a)
	vb, errB := semver.NewVersion(b)
	return errA == nil && errB == nil && vb.GreaterThan(va)
}

// String renders the track as written in the annotation.
func (t Track) String() string {
	if t.Kind == TrackAny {
		return string(TrackAny)
	}
	return string(t.Kind) + ":" + t.Expr
}

// Analysis is the optional metric check made at every step.
type Analysis struct {
	// Query is a PromQL template; {{.Namespace}}, {{.Service}} and {{.Revision}} are filled in.
	Query string
	// Min is the lowest acceptable value, if set.
	Min *float64
	// Max is the highest acceptable value, if set.
	Max *float64
	// Interval is the time between checks. Default 1m.
	Interval time.Duration
	// FailureLimit is how many failed checks are tolerated; one more rolls back. Default 2.
	FailureLimit int
	// MinRequests is the request count below which a check is inconclusive. Default 0 (off).
	MinRequests int
	// RequestsQuery is a PromQL template counting the candidate's requests; required with MinRequests.
	RequestsQuery string
	// InconclusiveLimit is how many inconclusive checks in a row are waited out
	// before the rollout stops waiting (InconclusiveAction). Default 10.
	InconclusiveLimit int
	// InconclusiveAction is what running out of inconclusive checks does:
	// hold the rollout for a person (pause, the default, as Argo Rollouts
	// does) or roll back.
	InconclusiveAction InconclusiveAction

	query, requests *template.Template
}

// InconclusiveAction is what a rollout does when its analysis stays
// inconclusive (no data, too few requests) too long.
type InconclusiveAction string

// Inconclusive actions.
const (
	// InconclusivePause holds the rollout, Paused, until a person decides.
	InconclusivePause InconclusiveAction = "pause"
	// InconclusiveRollBack rolls the candidate back and quarantines it.
	InconclusiveRollBack InconclusiveAction = "rollback"
)

// QueryVars are the values the analysis templates may use.
type QueryVars struct {
	Namespace, Service, Revision string
}

// Render fills in the analysis query for one revision.
func (a *Analysis) Render(v QueryVars) (string, error) { return render(a.query, v) }

// RenderRequests fills in the request-count query for one revision.
func (a *Analysis) RenderRequests(v QueryVars) (string, error) { return render(a.requests, v) }

func render(t *template.Template, v QueryVars) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		return "", fmt.Errorf("rendering %s: %w", t.Name(), err)
	}
	return b.String(), nil
}

// Policy is a managed Service's delivery policy, parsed from its annotations.
type Policy struct {
	// Track chooses which pushed tags the Service takes. Required: without it the Service is not managed.
	Track Track
	// Steps are the candidate's traffic percents, strictly increasing, 1..100, last 100. Default 10,25,50,100.
	Steps []int
	// Pauses[i] is how long step i holds, once the cluster shows it, before the next. Default 1m each.
	Pauses []time.Duration
	// Writer says who writes each step. Default git.
	Writer Writer
	// RollbackOn are the alert matchers that roll back; nil means the rollback function's default.
	RollbackOn Matchers
	// Bake is how long after promotion a matching alert still rolls back. Default 30m.
	Bake time.Duration
	// ProgressDeadline is how long a candidate may take to become Ready. Default 10m.
	ProgressDeadline time.Duration
	// AllowDowngrade lets a semver track take a lower version than the one running. Default false.
	AllowDowngrade bool
	// Quarantine lists digests that are never promoted again.
	Quarantine []string
	// Analysis is the metric check, nil when the Service has none.
	Analysis *Analysis
}

// Quarantined reports whether digest is in the quarantine list.
func (p Policy) Quarantined(digest string) bool { return slices.Contains(p.Quarantine, digest) }

// Error lists every problem of a Service's policy annotations.
type Error struct {
	// Problems has one line per problem: annotation, value, what is expected.
	Problems []string
}

// Error implements error.
func (e *Error) Error() string {
	return "invalid delivery policy: " + strings.Join(e.Problems, "; ")
}

// Parse parses the slipstream.dev/* annotations of a Knative Service.
// It returns ErrUnmanaged when there is no track annotation, and otherwise an
// *Error listing every problem, or the Policy with defaults applied.
func Parse(annotations map[string]string) (Policy, error) {
	if _, ok := annotations[AnnotationTrack]; !ok {
		return Policy{}, ErrUnmanaged
	}
	var pp policyProblems
	get := func(key, def string) (string, bool) {
		v, ok := annotations[key]
		if !ok {
			return def, false
		}
		return strings.TrimSpace(v), true
	}
	var pol Policy
	v, _ := get(AnnotationTrack, "")
	pol.Track = pp.track(v)

	v, _ = get(AnnotationSteps, DefaultSteps)
	pol.Steps = pp.steps(v)

	v, set := get(AnnotationPause, DefaultPause.String())
	pol.Pauses = pp.pauses(v, len(pol.Steps), set)

	pol.Writer = oneOf(&pp, get, AnnotationTrafficWriter, DefaultWriter, WriterGit, WriterCluster)

	if v, ok := get(AnnotationRollbackOn, ""); ok {
		ms, err := ParseMatchers(v)
		if err != nil {
			pp.add(AnnotationRollbackOn, v, err.Error())
		}
		pol.RollbackOn = ms
	}

	pol.Bake = pp.duration(annotations, AnnotationBake, DefaultBake, 0)
	pol.ProgressDeadline = pp.duration(annotations, AnnotationProgressDeadline, DefaultProgressDeadline, time.Second)

	if v, ok := get(AnnotationAllowDowngrade, "false"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			pp.add(AnnotationAllowDowngrade, v, "true or false")
		}
		pol.AllowDowngrade = b
	}

	if v, ok := get(AnnotationQuarantine, ""); ok {
		pol.Quarantine = pp.quarantine(v)
	}

	pol.Analysis = pp.analysis(annotations, get)

	if len(pp) > 0 {
		return Policy{}, &Error{Problems: pp}
	}
	return pol, nil
}

type policyProblems []string

// oneOf reads an annotation that takes one of a few words: def when it is
// not set, the word when it is one of allowed, and otherwise a problem.
func oneOf[T ~string](pp *policyProblems, get func(key, def string) (string, bool), key string, def T, allowed ...T) T {
	v, _ := get(key, string(def))
	if slices.Contains(allowed, T(v)) {
		return T(v)
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	pp.add(key, v, strings.Join(words, " or "))
	return def
}

func (pp *policyProblems) add(key, value, expected string) {
	*pp = append(*pp, fmt.Sprintf("%s: %q: %s", key, value, expected))
}

func (pp *policyProblems) track(v string) Track {
	if v == string(TrackAny) {
		return Track{Kind: TrackAny}
	}
	kind, expr, ok := strings.Cut(v, ":")
	const expected = "expected semver:<range>, regex:<expression>, tag:<tag> or any"
	if !ok || expr == "" {
		pp.add(AnnotationTrack, v, expected)
		return Track{}
	}
	t := Track{Kind: TrackKind(kind), Expr: expr}
	switch t.Kind {
	case TrackSemver:
		c, err := semver.NewConstraint(expr)
		if err != nil {
			pp.add(AnnotationTrack, v, "semver range: "+err.Error())
		}
		t.constraint = c
	case TrackRegex:
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			pp.add(AnnotationTrack, v, "regular expression: "+err.Error())
		}
		t.re = re
	case TrackTag:
		if strings.ContainsAny(expr, " ,@:/") || len(expr) > 128 {
			pp.add(AnnotationTrack, v, "an image tag (letters, digits, '_', '.', '-', at most 128)")
		}
	default:
		pp.add(AnnotationTrack, v, expected)
	}
	return t
}

func (pp *policyProblems) steps(v string) []int {
	var steps []int
	for _, f := range splitList(v) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 100 {
			pp.add(AnnotationSteps, v, fmt.Sprintf("%q is not a whole percent from 1 to 100", f))
			return nil
		}
		if len(steps) > 0 && n <= steps[len(steps)-1] {
			pp.add(AnnotationSteps, v, fmt.Sprintf("steps must increase strictly (%d after %d)", n, steps[len(steps)-1]))
			return nil
		}
		steps = append(steps, n)
	}
	if len(steps) == 0 || steps[len(steps)-1] != 100 {
		pp.add(AnnotationSteps, v, "comma-separated percents, strictly increasing, the last one 100 (e.g. 10,25,50,100)")
		return nil
	}
	return steps
}

func (pp *policyProblems) pauses(v string, nSteps int, set bool) []time.Duration {
	var ds []time.Duration
	for _, f := range splitList(v) {
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			pp.add(AnnotationPause, v, fmt.Sprintf("%q is not a duration such as 30s or 5m", f))
			return nil
		}
		ds = append(ds, d)
	}
	if nSteps == 0 {
		return nil // the steps are already reported
	}
	switch len(ds) {
	case 1:
		return slices.Repeat(ds, nSteps)
	case nSteps:
		return ds
	}
	if set {
		pp.add(AnnotationPause, v, fmt.Sprintf("one duration, or one per step (%d)", nSteps))
	}
	return nil
}

func (pp *policyProblems) duration(ann map[string]string, key string, def, min time.Duration) time.Duration {
	v, ok := ann[key]
	if !ok {
		return def
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < min {
		pp.add(key, v, fmt.Sprintf("a duration of at least %s, such as 30s or 5m", min))
	}
	return d
}

func (pp *policyProblems) quarantine(v string) []string {
	var out []string
	for _, f := range QuarantineEntries(v) {
		if !eventing.IsDigest(f) {
			pp.add(AnnotationQuarantine, f, "a digest sha256:<64 lower-case hex>")
			continue
		}
		out = append(out, f)
	}
	return out
}

func (pp *policyProblems) analysis(ann map[string]string, get func(key, def string) (string, bool)) *Analysis {
	q, ok := get(AnnotationAnalysisQuery, "")
	if !ok {
		for _, k := range []string{AnnotationAnalysisMin, AnnotationAnalysisMax, AnnotationAnalysisInterval, AnnotationAnalysisFailures,
			AnnotationAnalysisMinReqs, AnnotationAnalysisReqsQuery, AnnotationAnalysisWaits, AnnotationAnalysisGiveUp} {
			if v, set := ann[k]; set {
				pp.add(k, v, "only valid together with "+AnnotationAnalysisQuery)
			}
		}
		return nil
	}
	a := &Analysis{Query: q}
	a.query = pp.template(AnnotationAnalysisQuery, q)
	a.Min = pp.float(ann, AnnotationAnalysisMin)
	a.Max = pp.float(ann, AnnotationAnalysisMax)
	if a.Min == nil && a.Max == nil {
		pp.add(AnnotationAnalysisQuery, q, "needs "+AnnotationAnalysisMin+" or "+AnnotationAnalysisMax+" (or both)")
	}
	if a.Min != nil && a.Max != nil && *a.Min > *a.Max {
		pp.add(AnnotationAnalysisMin, ann[AnnotationAnalysisMin], "must not be greater than "+AnnotationAnalysisMax)
	}
	a.Interval = pp.duration(ann, AnnotationAnalysisInterval, DefaultAnalysisInterval, time.Second)
	a.FailureLimit = pp.count(ann, AnnotationAnalysisFailures, DefaultFailureLimit)
	a.MinRequests = pp.count(ann, AnnotationAnalysisMinReqs, 0)
	a.InconclusiveLimit = pp.count(ann, AnnotationAnalysisWaits, DefaultInconclusive)
	a.InconclusiveAction = oneOf(pp, get, AnnotationAnalysisGiveUp, InconclusivePause, InconclusivePause, InconclusiveRollBack)
	if rq, ok := get(AnnotationAnalysisReqsQuery, ""); ok {
		a.RequestsQuery = rq
		a.requests = pp.template(AnnotationAnalysisReqsQuery, rq)
	}
	if a.MinRequests > 0 && a.RequestsQuery == "" {
		pp.add(AnnotationAnalysisMinReqs, ann[AnnotationAnalysisMinReqs], "needs "+AnnotationAnalysisReqsQuery+" to count requests")
	}
	return a
}

func (pp *policyProblems) template(key, v string) *template.Template {
	if v == "" {
		pp.add(key, v, "a PromQL query")
		return nil
	}
	t, err := template.New(key).Option("missingkey=error").Parse(v)
	if err != nil {
		pp.add(key, v, "a PromQL query; {{.Namespace}}, {{.Service}} and {{.Revision}} may be used: "+err.Error())
		return nil
	}
	if _, err := render(t, QueryVars{Namespace: "ns", Service: "svc", Revision: "svc-0000000000"}); err != nil {
		pp.add(key, v, "only {{.Namespace}}, {{.Service}} and {{.Revision}} may be used: "+err.Error())
		return nil
	}
	return t
}

func (pp *policyProblems) float(ann map[string]string, key string) *float64 {
	v, ok := ann[key]
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || f != f {
		pp.add(key, v, "a number")
		return nil
	}
	return &f
}

func (pp *policyProblems) count(ann map[string]string, key string, def int) int {
	v, ok := ann[key]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		pp.add(key, v, "a whole number, 0 or more")
	}
	return n
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}
