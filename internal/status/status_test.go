package status

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

var t0 = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

const (
	stableImage = "registry.example.com/team/hello:1.0.0@sha256:aa11bb22cc33dd44ee55ff66aa77bb88cc99dd00ee11ff22aa33bb44cc55dd66"
	candImage   = "registry.example.com/team/hello:1.1.0@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"
)

// midRollout is hello at step 2 of 4 (75/25), its pause of 1m started at
// t0, Knative showing it; opts change it.
func midRollout(opts ...testutil.ServiceOption) *servingv1.Service {
	st := policy.State{Phase: policy.Progressing, Stable: "hello-00001", StableImage: stableImage, Candidate: "hello-00002", CandidateImage: candImage,
		Steps: []int{10, 25, 50, 100}, Step: 2, StepStartedAt: &t0, Reason: "step 2 of 4 is live"}
	return testutil.Service("demo", "hello", append([]testutil.ServiceOption{testutil.WithAnnotation(policy.AnnotationTrack, "semver:^1.0.0"),
		testutil.WithAnnotation(policy.AnnotationPause, "1m"), testutil.WithState(st),
		testutil.WithTraffic(eventing.TrafficTarget{RevisionName: "hello-00001", Percent: 75, Tag: "stable"}, eventing.TrafficTarget{RevisionName: "hello-00002", Percent: 25, Tag: "candidate"}),
		testutil.WithRouted()}, opts...)...)
}

func TestOf(t *testing.T) {
	next := t0.Add(time.Minute)
	failed := policy.State{Phase: policy.RolledBack, Stable: "hello-00001", StableImage: stableImage, Candidate: "hello-00002", CandidateImage: candImage,
		StartedAt: &t0, Reason: "alert HighErrorRate firing"}
	tests := []struct {
		name  string
		svc   *servingv1.Service
		check func(t *testing.T, r Row)
	}{
		{
			name: "mid-rollout",
			svc:  midRollout(),
			check: func(t *testing.T, r Row) {
				if r.Phase != "Progressing" || r.Step != 2 || r.Steps != 4 || !r.Settled || r.Problem != "" || r.Analysis != "" {
					t.Errorf("row %+v", r)
				}
				if r.Stable == nil || r.Stable.Name != "hello-00001" || r.Stable.Tag != "1.0.0" || r.Stable.Digest != "aa11bb22cc33" {
					t.Errorf("stable %+v", r.Stable)
				}
				if r.Candidate == nil || r.Candidate.Tag != "1.1.0" || r.Candidate.Digest != "3f2a9c01b2d4" || r.Candidate.Image != candImage {
					t.Errorf("candidate %+v", r.Candidate)
				}
				if len(r.Traffic) != 2 || r.Traffic[0] != (Share{Revision: "hello-00001", Tag: "stable", Percent: 75}) || r.Traffic[1].Percent != 25 {
					t.Errorf("traffic %+v", r.Traffic)
				}
				if r.NextStep == nil || !r.NextStep.Equal(next) {
					t.Errorf("next step %v, want %v", r.NextStep, next)
				}
			},
		},
		{
			name: "a rollback the cluster made shows, though Git still has the step",
			svc:  midRollout(testutil.WithAnnotation(policy.AnnotationRollback, failed.String())),
			check: func(t *testing.T, r Row) {
				if r.Phase != "RolledBack" || r.Reason != failed.Reason || r.NextStep != nil {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name: "a state that does not parse is shown with what is wrong",
			svc:  midRollout(testutil.WithAnnotation(policy.AnnotationRollout, "{not json")),
			check: func(t *testing.T, r Row) {
				if r.Phase != "-" || r.Problem == "" || r.Service != "hello" || len(r.Traffic) != 2 {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name: "a policy that does not parse: the state still shows, and the problem",
			svc:  midRollout(testutil.WithAnnotation(policy.AnnotationPause, "soon")),
			check: func(t *testing.T, r Row) {
				if r.Phase != "Progressing" || !strings.Contains(r.Problem, policy.AnnotationPause) || r.NextStep != nil {
					t.Errorf("row %+v", r)
				}
			},
		},
		{
			name: "Knative has not reconciled the latest spec",
			svc:  midRollout(testutil.WithGeneration(3, 2)),
			check: func(t *testing.T, r Row) {
				if r.Settled {
					t.Errorf("settled with generation 3 observed 2")
				}
			},
		},
		{
			name: "not Ready",
			svc:  midRollout(testutil.WithConditions(corev1.ConditionFalse, "RevisionFailed")),
			check: func(t *testing.T, r Row) {
				if !r.Settled || r.Ready {
					t.Errorf("settled %v ready %v, want reconciled and not Ready", r.Settled, r.Ready)
				}
				if got := traffic(r); got != "stable 75%, candidate 25% (not Ready)" {
					t.Errorf("traffic %q", got)
				}
			},
		},
		{
			name: "analysis: the last check against the limit",
			svc: midRollout(testutil.WithAnnotation(policy.AnnotationAnalysisQuery, `errors{rev="{{.Revision}}"}`), testutil.WithAnnotation(policy.AnnotationAnalysisMax, "0.01"),
				testutil.WithState(policy.State{Phase: policy.Progressing, Stable: "hello-00001", Candidate: "hello-00002", Step: 1, StepStartedAt: &t0,
					CheckedAt: &next, LastCheck: `fail: errors{rev="hello-00002"} = 0.05, above the maximum 0.01`, FailedChecks: 1})),
			check: func(t *testing.T, r Row) {
				for _, want := range []string{"limit ≤ 0.01", "last check 2026-11-26T08:01:00Z", "= 0.05, above the maximum 0.01", "1 failed so far"} {
					if !strings.Contains(r.Analysis, want) {
						t.Errorf("analysis %q does not say %q", r.Analysis, want)
					}
				}
				if r.Steps != 4 { // not recorded in the state: the policy's
					t.Errorf("steps %d, want the policy's 4", r.Steps)
				}
			},
		},
		{
			name: "analysis not run yet",
			svc:  midRollout(testutil.WithAnnotation(policy.AnnotationAnalysisQuery, "up"), testutil.WithAnnotation(policy.AnnotationAnalysisMin, "1")),
			check: func(t *testing.T, r Row) {
				if r.Analysis != "limit ≥ 1; not checked yet" {
					t.Errorf("analysis %q", r.Analysis)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.check(t, Of(tc.svc)) })
	}
}

func TestTable(t *testing.T) {
	other := midRollout(testutil.WithGeneration(3, 2))
	other.Namespace = "alpha"
	rows := Rows([]*servingv1.Service{midRollout(), other})
	if rows[0].Namespace != "alpha" {
		t.Fatalf("rows not sorted by namespace: %+v", rows)
	}
	for _, tc := range []struct {
		now  time.Time
		want []string
	}{
		{t0.Add(18 * time.Second), []string{"in 42s", "2/4", "hello-00001 (1.0.0@aa11bb22cc33)", "hello-00002 (1.1.0@3f2a9c01b2d4)", "stable 75%, candidate 25%", "step 2 of 4 is live"}},
		{t0.Add(2 * time.Minute), []string{"due"}},
	} {
		out := Table(rows, tc.now)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "NAMESPACE") {
			t.Fatalf("table:\n%s", out)
		}
		if !strings.Contains(lines[1], "(updating)") || strings.Contains(lines[2], "(updating)") {
			t.Errorf("only the unreconciled Service is updating:\n%s", out)
		}
		for _, want := range tc.want {
			if !strings.Contains(lines[2], want) {
				t.Errorf("row %q does not show %q", lines[2], want)
			}
		}
	}
}

func TestJSONAndYAMLCarryTheRows(t *testing.T) {
	rows := Rows([]*servingv1.Service{midRollout()})
	js, err := JSON(rows)
	if err != nil {
		t.Fatal(err)
	}
	y, err := YAML(rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{js, y} {
		var back []Row
		if err := yaml.Unmarshal(b, &back); err != nil {
			t.Fatalf("%v:\n%s", err, b)
		}
		if len(back) != 1 || back[0].Candidate.Digest != "3f2a9c01b2d4" || back[0].Traffic[1].Percent != 25 || !back[0].NextStep.Equal(t0.Add(time.Minute)) {
			t.Errorf("round trip: %+v", back)
		}
	}
	var raw []map[string]any
	if err := json.Unmarshal(js, &raw); err != nil || raw[0]["phase"] != "Progressing" {
		t.Errorf("json field names: %v %v", raw, err)
	}
}

// TestTableCellsAreInert: what anyone who can edit a Service writes into
// its annotations reaches the terminal without a control character or a
// bidirectional override, on one line, and at most maxCell characters.
func TestTableCellsAreInert(t *testing.T) {
	st := policy.State{Phase: policy.Progressing, Stable: "hello-00001", Candidate: "hello-\x1b[2J00002", Step: 1,
		Reason: "ok\x1b]52;c;ZXZpbA==\x07 hidden\r\nrow \u202egnirts " + strings.Repeat("x", 500)}
	out := Table(Rows([]*servingv1.Service{midRollout(testutil.WithState(st))}), t0)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want the header and one row:\n%q", len(lines), out)
	}
	for _, r := range out {
		if r != '\n' && (r < 0x20 || (r >= 0x7f && r < 0xa0) || r == '\u202e') {
			t.Fatalf("the table carries %U:\n%q", r, out)
		}
	}
	if !strings.Contains(lines[1], "ok\ufffd]52;c;ZXZpbA==\ufffd hidden row \ufffdgnirts") || !strings.Contains(lines[1], "hello-\ufffd[2J00002") {
		t.Errorf("row %q", lines[1])
	}
	if n := len([]rune(lines[1][strings.Index(lines[1], "ok\ufffd"):])); n != maxCell {
		t.Errorf("the reason cell has %d characters, want it cut at %d", n, maxCell)
	}
}

func TestOfCarriesWhenThePhaseBegan(t *testing.T) {
	since := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	r := Of(testutil.Service("demo", "hello", testutil.WithState(policy.State{Phase: policy.Paused, Candidate: "hello-2", Since: &since})))
	if r.Since == nil || !r.Since.Equal(since) {
		t.Errorf("since = %v, want %v", r.Since, since)
	}
	b, err := JSON([]Row{r})
	if err != nil || !strings.Contains(string(b), `"since": "2026-11-26T08:00:00Z"`) {
		t.Errorf("JSON %s (%v) lacks since", b, err)
	}
}
