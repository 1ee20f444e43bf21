package status

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/clip"
	"github.com/slipstream-cd/slipstream/policy"
)

// Revision is a revision of a rollout and the image it runs.
type Revision struct {
	Name   string `json:"name"`
	Image  string `json:"image,omitempty"`
	Tag    string `json:"tag,omitempty"`
	Digest string `json:"digest,omitempty"` // short: the first 12 hex digits
}

// Share is one traffic target Knative routes.
type Share struct {
	Revision string `json:"revision"`
	Tag      string `json:"tag,omitempty"`
	Percent  int64  `json:"percent"`
}

// Row is one managed Service.
type Row struct {
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	Phase     string `json:"phase"`
	// Since is when the rollout entered its phase (nil: not recorded).
	Since *time.Time `json:"since,omitempty"`
	// Step and Steps: step n of m (0 before the first).
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// Stable and Candidate are the rollout's revisions (nil: none).
	Stable    *Revision `json:"stable,omitempty"`
	Candidate *Revision `json:"candidate,omitempty"`
	// Traffic is what Knative's route serves (status.traffic); Settled is
	// false while Knative has not reconciled the Service's latest spec, and
	// Ready is its Ready condition.
	Traffic []Share `json:"traffic"`
	Settled bool    `json:"settled"`
	Ready   bool    `json:"ready"`
	// NextStep is when the step's pause ends (nil: no step is pausing).
	NextStep *time.Time `json:"nextStep,omitempty"`
	// Analysis is the last analysis check, against its limit ("" if none).
	Analysis string `json:"analysis,omitempty"`
	// Reason says why the rollout is where it is.
	Reason string `json:"reason,omitempty"`
	// Problem says what is wrong with the Service's slipstream.dev
	// annotations, when something is ("" otherwise).
	Problem string `json:"problem,omitempty"`
}

// Of is the row of one Service. A Service whose rollout state does not
// parse is shown with phase "-" and what is wrong, never dropped.
func Of(s *servingv1.Service) Row {
	r := Row{Namespace: s.Namespace, Service: s.Name, Phase: "-", Traffic: []Share{},
		Settled: s.Generation == s.Status.ObservedGeneration, Ready: s.IsReady()}
	for _, t := range s.Status.Traffic {
		sh := Share{Revision: t.RevisionName, Tag: t.Tag}
		if t.Percent != nil {
			sh.Percent = *t.Percent
		}
		r.Traffic = append(r.Traffic, sh)
	}
	st, err := policy.LiveState(s.Annotations)
	if err != nil {
		r.Problem = err.Error()
		return r
	}
	pol, perr := policy.Parse(s.Annotations)
	if perr != nil {
		r.Problem = perr.Error()
	}
	if st.Phase != "" {
		r.Phase = string(st.Phase)
	}
	r.Step, r.Steps, r.Reason, r.Since = st.Step, len(st.Steps), st.Reason, st.Since
	if r.Steps == 0 && perr == nil {
		r.Steps = len(pol.Steps)
	}
	if st.Phase == policy.Promoted || st.Phase == policy.RolledBack || st.Phase == "" {
		r.Step, r.Steps = 0, 0 // no steps to count: the table shows "-"
	}
	r.Stable, r.Candidate = revision(st.Stable, st.StableImage), revision(st.Candidate, st.CandidateImage)
	if st.Phase == policy.Progressing && st.StepStartedAt != nil && perr == nil && st.Step >= 1 && st.Step <= len(pol.Pauses) {
		end := st.StepStartedAt.Add(pol.Pauses[st.Step-1])
		r.NextStep = &end
	}
	if perr == nil && pol.Analysis != nil {
		r.Analysis = analysis(pol.Analysis, st)
	}
	return r
}

// revision is a revision with its image, nil when there is none.
func revision(name, image string) *Revision {
	if name == "" {
		return nil
	}
	r := &Revision{Name: name, Image: image, Tag: eventing.VersionOf(image)}
	r.Digest = strings.TrimPrefix(eventing.ShortDigest(image), "sha256:")
	return r
}

// analysis says what the last check found, against the limit.
func analysis(a *policy.Analysis, st policy.State) string {
	var limit []string
	if a.Min != nil {
		limit = append(limit, fmt.Sprintf("≥ %g", *a.Min))
	}
	if a.Max != nil {
		limit = append(limit, fmt.Sprintf("≤ %g", *a.Max))
	}
	out := "limit " + strings.Join(limit, " and ")
	if st.CheckedAt == nil {
		return out + "; not checked yet"
	}
	last := ""
	if st.LastCheck != "" {
		last = ": " + st.LastCheck
	}
	return fmt.Sprintf("%s; last check %s%s; %d failed so far, %d inconclusive in a row", out, st.CheckedAt.UTC().Format(time.RFC3339), last, st.FailedChecks, st.Inconclusive)
}

// Rows is the view of every Service given, sorted by namespace and name.
func Rows(services []*servingv1.Service) []Row {
	rows := make([]Row, 0, len(services))
	for _, s := range services {
		rows = append(rows, Of(s))
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Namespace != rows[j].Namespace {
			return rows[i].Namespace < rows[j].Namespace
		}
		return rows[i].Service < rows[j].Service
	})
	return rows
}

// Table renders rows for a terminal, times relative to now.
func Table(rows []Row, now time.Time) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tSERVICE\tPHASE\tSTEP\tSTABLE\tCANDIDATE\tTRAFFIC\tNEXT STEP\tREASON")
	for _, r := range rows {
		step := "-"
		if r.Steps > 0 {
			step = fmt.Sprintf("%d/%d", r.Step, r.Steps)
		}
		reason := r.Reason
		if r.Problem != "" {
			reason = strings.TrimSuffix("problem: "+r.Problem+"; "+reason, "; ")
		}
		if r.Analysis != "" {
			reason = strings.TrimSpace(reason + " (analysis: " + r.Analysis + ")")
		}
		cells := []string{r.Namespace, r.Service, r.Phase, step, short(r.Stable), short(r.Candidate), traffic(r), next(r.NextStep, now), reason}
		for i, c := range cells {
			cells[i] = cell(c)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	_ = w.Flush()
	return b.String()
}

// short is a revision as a person reads it: name (tag@digest).
func short(r *Revision) string {
	if r == nil {
		return "-"
	}
	switch {
	case r.Tag != "" && r.Digest != "":
		return fmt.Sprintf("%s (%s@%s)", r.Name, r.Tag, r.Digest)
	case r.Digest != "":
		return fmt.Sprintf("%s (@%s)", r.Name, r.Digest)
	}
	return r.Name
}

// traffic is the route's split: tag-or-revision percent, …
func traffic(r Row) string {
	if len(r.Traffic) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(r.Traffic))
	for _, t := range r.Traffic {
		who := t.Tag
		if who == "" {
			who = t.Revision
		}
		parts = append(parts, fmt.Sprintf("%s %d%%", who, t.Percent))
	}
	out := strings.Join(parts, ", ")
	switch {
	case !r.Settled:
		out += " (updating)"
	case !r.Ready:
		out += " (not Ready)"
	}
	return out
}

// next is the time to the next step: "in 42s", "due", or "-".
func next(at *time.Time, now time.Time) string {
	if at == nil {
		return "-"
	}
	if d := at.Sub(now); d > 0 {
		return "in " + d.Round(time.Second).String()
	}
	return "due"
}

// maxCell is the most characters a table cell shows (-o json and yaml
// show everything).
const maxCell = 200

// cell is s fit for one cell of a terminal table: on one line, with every
// control character (a terminal's escape sequences among them: anyone who
// can edit a Service writes its annotations) and bidirectional override
// shown as U+FFFD, and at most
// maxCell characters.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return clip.Runes(clip.Printable(s, '\ufffd'), maxCell)
}

// JSON renders rows as a JSON list.
func JSON(rows []Row) ([]byte, error) {
	b, err := json.MarshalIndent(rows, "", "  ")
	return append(b, '\n'), err
}

// YAML renders rows as a YAML list.
func YAML(rows []Row) ([]byte, error) {
	js, err := json.Marshal(rows)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(js)
}
