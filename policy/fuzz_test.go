package policy

import (
	"errors"
	"testing"
)

// FuzzParse: annotations are user input. Parsing never panics, every
// failure is a *Error, and every parsed policy keeps the invariants.
func FuzzParse(f *testing.F) {
	f.Add("semver:^1.0.0", "10,25,50,100", "1m", "git", `severity="critical"`, "up", "1")
	f.Add("regex:main-[0-9a-f]{7}", "100", "0s", "cluster", `{a=~"b|c"}`, `x{r="{{.Revision}}"}`, "0.5")
	f.Add("tag:prod", "5, 50,100", "1s,2s,3s", "git", "", "", "")
	f.Add("any", "50,10", "-1m", "kubectl", "{", "{{", "NaN")
	f.Fuzz(func(t *testing.T, track, steps, pause, writer, rollbackOn, query, max string) {
		ann := map[string]string{AnnotationTrack: track, AnnotationSteps: steps, AnnotationPause: pause, AnnotationTrafficWriter: writer}
		if rollbackOn != "" {
			ann[AnnotationRollbackOn] = rollbackOn
		}
		if query != "" {
			ann[AnnotationAnalysisQuery] = query
			ann[AnnotationAnalysisMax] = max
		}
		p, err := Parse(ann)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || len(pe.Problems) == 0 {
				t.Fatalf("error %v is not a *Error with problems", err)
			}
			return
		}
		if len(p.Steps) == 0 || p.Steps[len(p.Steps)-1] != 100 || len(p.Pauses) != len(p.Steps) {
			t.Fatalf("parsed steps %v pauses %v break the invariants", p.Steps, p.Pauses)
		}
		for i := 1; i < len(p.Steps); i++ {
			if p.Steps[i] <= p.Steps[i-1] || p.Steps[0] < 1 {
				t.Fatalf("steps %v not strictly increasing from 1", p.Steps)
			}
		}
		if p.Writer != WriterGit && p.Writer != WriterCluster {
			t.Fatalf("writer %q", p.Writer)
		}
		if p.Analysis != nil {
			if _, err := p.Analysis.Render(QueryVars{Namespace: "a", Service: "b", Revision: "c"}); err != nil {
				t.Fatalf("a parsed query does not render: %v", err)
			}
		}
	})
}
