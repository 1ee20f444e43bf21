package policy

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestPolicyDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, key := range []string{AnnotationTrack, AnnotationSteps, AnnotationPause, AnnotationTrafficWriter, AnnotationRollbackOn,
		AnnotationBake, AnnotationProgressDeadline, AnnotationAllowDowngrade, AnnotationQuarantine, AnnotationAnalysisQuery,
		AnnotationAnalysisMin, AnnotationAnalysisMax, AnnotationAnalysisInterval, AnnotationAnalysisFailures,
		AnnotationAnalysisMinReqs, AnnotationAnalysisReqsQuery, AnnotationAnalysisWaits, AnnotationAnalysisGiveUp} {
		if !strings.Contains(doc, "| `"+key+"` |") {
			t.Errorf("docs/policy.md has no row for %s", key)
		}
	}
	// Every annotation the doc lists exists in the code.
	for _, m := range regexp.MustCompile("(?m)^\\| `(slipstream\\.dev/[a-z-]+)` \\|").FindAllStringSubmatch(doc, -1) {
		if _, err := Parse(map[string]string{AnnotationTrack: "any", m[1]: "x"}); err == nil && m[1] != AnnotationTrack {
			t.Errorf("docs/policy.md lists %s, which the parser ignores", m[1])
		}
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(doc, -1)
	if len(blocks) < 3 {
		t.Fatalf("docs/policy.md: %d yaml examples, want 3", len(blocks))
	}
	for i, b := range blocks {
		var obj struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
		}
		if err := yaml.Unmarshal([]byte(b[1]), &obj); err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		if _, err := Parse(obj.Metadata.Annotations); err != nil {
			t.Errorf("example %d does not parse: %v", i+1, err)
		}
	}
}
