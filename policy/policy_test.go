package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const digest = "sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d"

func ptr(f float64) *float64 { return &f }

func TestParse(t *testing.T) {
	m := time.Minute
	tests := []struct {
		name string
		ann  map[string]string
		want Policy
	}{{
		name: "defaults",
		ann:  map[string]string{AnnotationTrack: "any"},
		want: Policy{Track: Track{Kind: TrackAny}, Steps: []int{10, 25, 50, 100}, Pauses: []time.Duration{m, m, m, m},
			Writer: WriterGit, Bake: 30 * m, ProgressDeadline: 10 * m},
	}, {
		name: "everything set, as in ARCHITECTURE §4",
		ann: map[string]string{
			AnnotationTrack: "semver:^1.0.0", AnnotationSteps: "5, 50,100", AnnotationPause: "30s,2m,0s",
			AnnotationTrafficWriter: "cluster", AnnotationRollbackOn: `severity="critical"`, AnnotationBake: "1h",
			AnnotationProgressDeadline: "2m", AnnotationAllowDowngrade: "true", AnnotationQuarantine: digest,
			AnnotationAnalysisQuery: `sum(rate(revision_app_request_count{namespace_name="{{.Namespace}}",revision_name="{{.Revision}}",response_code_class="5xx"}[1m]))`,
			AnnotationAnalysisMax:   "0.01", AnnotationAnalysisInterval: "30s", AnnotationAnalysisFailures: "0",
			AnnotationAnalysisMinReqs: "20", AnnotationAnalysisReqsQuery: `sum(increase(revision_app_request_count{revision_name="{{.Revision}}"}[1m]))`,
			AnnotationAnalysisWaits: "3", AnnotationAnalysisGiveUp: "rollback",
		},
		want: Policy{Track: Track{Kind: TrackSemver, Expr: "^1.0.0"}, Steps: []int{5, 50, 100},
			Pauses: []time.Duration{30 * time.Second, 2 * m, 0}, Writer: WriterCluster, Bake: time.Hour, ProgressDeadline: 2 * m,
			AllowDowngrade: true, Quarantine: []string{digest},
			Analysis: &Analysis{
				Query: `sum(rate(revision_app_request_count{namespace_name="{{.Namespace}}",revision_name="{{.Revision}}",response_code_class="5xx"}[1m]))`,
				Max:   ptr(0.01), Interval: 30 * time.Second, FailureLimit: 0, MinRequests: 20, InconclusiveLimit: 3,
				InconclusiveAction: InconclusiveRollBack,
				RequestsQuery:      `sum(increase(revision_app_request_count{revision_name="{{.Revision}}"}[1m]))`,
			}},
	}, {
		name: "one step",
		ann:  map[string]string{AnnotationTrack: "tag:latest", AnnotationSteps: "100"},
		want: Policy{Track: Track{Kind: TrackTag, Expr: "latest"}, Steps: []int{100}, Pauses: []time.Duration{m},
			Writer: WriterGit, Bake: 30 * m, ProgressDeadline: 10 * m},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.ann)
			if err != nil {
				t.Fatal(err)
			}
			opts := cmp.Options{cmpopts.IgnoreUnexported(Track{}, Analysis{}), cmpopts.IgnoreFields(Policy{}, "RollbackOn")}
			if diff := cmp.Diff(tc.want, got, opts); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			// Invariants of every parsed policy.
			if len(got.Pauses) != len(got.Steps) || got.Steps[len(got.Steps)-1] != 100 {
				t.Errorf("steps %v and pauses %v: one pause per step, last step 100", got.Steps, got.Pauses)
			}
			if v, ok := tc.ann[AnnotationRollbackOn]; ok && got.RollbackOn.String() != "{"+v+"}" {
				t.Errorf("rollback-on = %s, want {%s}", got.RollbackOn, v)
			}
		})
	}
}

func TestParseUnmanaged(t *testing.T) {
	_, err := Parse(map[string]string{AnnotationSteps: "10,100"})
	if !errors.Is(err, ErrUnmanaged) {
		t.Errorf("Parse without track = %v, want ErrUnmanaged", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		ann  map[string]string
		errs []string // each problem names annotation and value
	}{
		{
			name: "unknown inconclusive action",
			ann: map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: "errors", AnnotationAnalysisMax: "1",
				AnnotationAnalysisGiveUp: "shrug"},
			errs: []string{`slipstream.dev/analysis-inconclusive-action: "shrug": pause or rollback`},
		},
		{
			name: "inconclusive action without a query",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisGiveUp: "pause"},
			errs: []string{`slipstream.dev/analysis-inconclusive-action: "pause": only valid together with slipstream.dev/analysis-query`},
		},
		{
			name: "track without kind",
			ann:  map[string]string{AnnotationTrack: "1.0.0"},
			errs: []string{`slipstream.dev/track: "1.0.0": expected semver:<range>`},
		},
		{
			name: "track unknown kind",
			ann:  map[string]string{AnnotationTrack: "glob:1.*"},
			errs: []string{`slipstream.dev/track: "glob:1.*"`},
		},
		{
			name: "track bad semver",
			ann:  map[string]string{AnnotationTrack: "semver:^^1"},
			errs: []string{`slipstream.dev/track: "semver:^^1": semver range`},
		},
		{
			name: "track bad regex",
			ann:  map[string]string{AnnotationTrack: "regex:(1"},
			errs: []string{`slipstream.dev/track: "regex:(1": regular expression`},
		},
		{
			name: "track empty",
			ann:  map[string]string{AnnotationTrack: ""},
			errs: []string{`slipstream.dev/track: ""`},
		},
		{
			name: "steps not increasing",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "10,10,100"},
			errs: []string{`slipstream.dev/steps: "10,10,100": steps must increase strictly (10 after 10)`},
		},
		{
			name: "steps last not 100",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "10,50"},
			errs: []string{`slipstream.dev/steps: "10,50"`, "the last one 100"},
		},
		{
			name: "steps out of range",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "0,100"},
			errs: []string{`"0" is not a whole percent from 1 to 100`},
		},
		{
			name: "steps over 100",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "50,150"},
			errs: []string{`"150" is not a whole percent`},
		},
		{
			name: "steps not numbers",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "ten,100"},
			errs: []string{`"ten" is not a whole percent`},
		},
		{
			name: "steps empty",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: ""},
			errs: []string{`slipstream.dev/steps: ""`},
		},
		{
			name: "pause count",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationSteps: "10,50,100", AnnotationPause: "1m,2m"},
			errs: []string{`slipstream.dev/pause: "1m,2m": one duration, or one per step (3)`},
		},
		{
			name: "pause not a duration",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationPause: "5"},
			errs: []string{`slipstream.dev/pause: "5": "5" is not a duration`},
		},
		{
			name: "pause negative",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationPause: "-1m"},
			errs: []string{`"-1m" is not a duration`},
		},
		{
			name: "writer",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationTrafficWriter: "kubectl"},
			errs: []string{`slipstream.dev/traffic-writer: "kubectl": git or cluster`},
		},
		{
			name: "rollback-on",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationRollbackOn: `severity=~"("`},
			errs: []string{`slipstream.dev/rollback-on: "severity=~\"(\""`},
		},
		{
			name: "rollback-on garbage",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationRollbackOn: `critical!`},
			errs: []string{`slipstream.dev/rollback-on: "critical!"`},
		},
		{
			name: "rollback-on empty",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationRollbackOn: ``},
			errs: []string{`slipstream.dev/rollback-on: ""`},
		},
		{
			name: "bake",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationBake: "a while"},
			errs: []string{`slipstream.dev/bake: "a while"`},
		},
		{
			name: "progress deadline too short",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationProgressDeadline: "0s"},
			errs: []string{`slipstream.dev/progress-deadline: "0s": a duration of at least 1s`},
		},
		{
			name: "allow-downgrade",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAllowDowngrade: "yes please"},
			errs: []string{`slipstream.dev/allow-downgrade: "yes please": true or false`},
		},
		{
			name: "quarantine",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationQuarantine: digest + ",sha256:abc"},
			errs: []string{`slipstream.dev/quarantine: "sha256:abc"`},
		},
		{
			name: "analysis settings without a query",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisMax: "1"},
			errs: []string{`slipstream.dev/analysis-max: "1": only valid together with slipstream.dev/analysis-query`},
		},
		{
			name: "analysis without bounds",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: "up"},
			errs: []string{`needs slipstream.dev/analysis-min or slipstream.dev/analysis-max`},
		},
		{
			name: "analysis min over max",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: "up", AnnotationAnalysisMin: "2", AnnotationAnalysisMax: "1"},
			errs: []string{`slipstream.dev/analysis-min: "2": must not be greater`},
		},
		{
			name: "analysis bad numbers",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: "up", AnnotationAnalysisMin: "low", AnnotationAnalysisMax: "NaN", AnnotationAnalysisFailures: "-1", AnnotationAnalysisInterval: "0s"},
			errs: []string{`slipstream.dev/analysis-min: "low": a number`, `slipstream.dev/analysis-max: "NaN": a number`, `slipstream.dev/analysis-interval: "0s"`, `slipstream.dev/analysis-failure-limit: "-1"`},
		},
		{
			name: "analysis unknown template field",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: `up{pod="{{.Pod}}"}`, AnnotationAnalysisMax: "1"},
			errs: []string{`slipstream.dev/analysis-query: "up{pod=\"{{.Pod}}\"}": only {{.Namespace}}`},
		},
		{
			name: "analysis broken template",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: `up{{`, AnnotationAnalysisMax: "1"},
			errs: []string{`slipstream.dev/analysis-query: "up{{"`},
		},
		{
			name: "analysis min requests without a query",
			ann:  map[string]string{AnnotationTrack: "any", AnnotationAnalysisQuery: "up", AnnotationAnalysisMax: "1", AnnotationAnalysisMinReqs: "10"},
			errs: []string{`slipstream.dev/analysis-min-requests: "10": needs slipstream.dev/analysis-requests-query`},
		},
		{
			name: "every problem at once",
			ann:  map[string]string{AnnotationTrack: "nope", AnnotationSteps: "50,10", AnnotationTrafficWriter: "x", AnnotationBake: "y"},
			errs: []string{"slipstream.dev/track", "slipstream.dev/steps", "slipstream.dev/traffic-writer", "slipstream.dev/bake"},
		},
	}
	t.Run("every problem is its own line", func(t *testing.T) {
		_, err := Parse(tests[len(tests)-1].ann)
		if pe := (*Error)(nil); !errors.As(err, &pe) || len(pe.Problems) != 4 {
			t.Errorf("Parse() = %v, want 4 problems", err)
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.ann)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse() = %v, want *Error", err)
			}
			for _, want := range tc.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestTrackAccepts(t *testing.T) {
	tests := []struct {
		track string
		yes   []string
		no    []string
	}{
		{
			track: "semver:^1.0.0",
			yes:   []string{"1.0.0", "1.4.2", "v1.9.0"},
			no:    []string{"2.0.0", "0.9.0", "1.5.0-rc.1", "latest", "", "sha256-abc.sig"},
		},
		{
			track: "semver:>=1.5.0-0 <2.0.0",
			yes:   []string{"1.5.0-rc.1", "1.6.0"},
			no:    []string{"1.4.0", "2.0.0"},
		},
		{
			track: "semver:~1.2",
			yes:   []string{"1.2.0", "1.2.9"},
			no:    []string{"1.3.0"},
		},
		{
			track: "regex:main-[0-9a-f]{7}",
			yes:   []string{"main-abc1234"},
			no:    []string{"main-abc12345", "xmain-abc1234", "main-ABC1234"},
		},
		{
			track: "regex:v?1\\..*",
			yes:   []string{"1.0", "v1.2.3"},
			no:    []string{"11.0"},
		},
		{
			track: "tag:prod",
			yes:   []string{"prod"},
			no:    []string{"production", "Prod", ""},
		},
		{
			track: "any",
			yes:   []string{"latest", "1.0.0", "x"},
			no:    []string{""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.track, func(t *testing.T) {
			p, err := Parse(map[string]string{AnnotationTrack: tc.track})
			if err != nil {
				t.Fatal(err)
			}
			if p.Track.String() != tc.track {
				t.Errorf("String() = %q, want %q", p.Track.String(), tc.track)
			}
			for _, tag := range tc.yes {
				if !p.Track.Accepts(tag) {
					t.Errorf("%s refuses %q", tc.track, tag)
				}
			}
			for _, tag := range tc.no {
				if p.Track.Accepts(tag) {
					t.Errorf("%s accepts %q", tc.track, tag)
				}
			}
		})
	}
}

func TestNewer(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{
			a:    "1.0.0",
			b:    "1.1.0",
			want: true,
		},
		{
			a:    "1.1.0",
			b:    "1.0.0",
			want: false,
		},
		{
			a:    "1.0.0",
			b:    "1.0.0",
			want: false,
		},
		{
			a:    "v1.0.0",
			b:    "1.0.1",
			want: true,
		},
		{
			a:    "latest",
			b:    "1.0.0",
			want: false,
		},
		{
			a:    "1.0.0-rc.1",
			b:    "1.0.0",
			want: true,
		},
	}
	for _, tc := range tests {
		if got := Newer(tc.a, tc.b); got != tc.want {
			t.Errorf("Newer(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestQuarantinedAndRender(t *testing.T) {
	p, err := Parse(map[string]string{AnnotationTrack: "any", AnnotationQuarantine: "\n  " + digest + "\n",
		AnnotationAnalysisQuery: `x{ns="{{.Namespace}}",svc="{{.Service}}",rev="{{.Revision}}"}`, AnnotationAnalysisMin: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Quarantined(digest) || p.Quarantined("sha256:"+strings.Repeat("0", 64)) {
		t.Errorf("Quarantined: list %v", p.Quarantine)
	}
	q, err := p.Analysis.Render(QueryVars{Namespace: "demo", Service: "hello", Revision: "hello-3f2a9c01b2"})
	if err != nil || q != `x{ns="demo",svc="hello",rev="hello-3f2a9c01b2"}` {
		t.Errorf("Render = %q, %v", q, err)
	}
	if r, err := p.Analysis.RenderRequests(QueryVars{}); r != "" || err != nil {
		t.Errorf("RenderRequests without a requests query = %q, %v", r, err)
	}
}
