package config

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/kelseyhightower/envconfig"
)

// TestOperationsDocListsEverySetting fails when a setting in the code has no row
// in docs/operations.md, or its row shows another default.
func TestOperationsDocListsEverySetting(t *testing.T) {
	raw, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	specs := []struct {
		prefix string
		spec   any
	}{
		{
			prefix: Prefix,
			spec:   &Shared{},
		},
		{
			prefix: Prefix + "_INTAKE",
			spec:   &Intake{},
		},
		// Per-format intake settings are documented once, as SLIPSTREAM_INTAKE_<FORMAT>_….
		{
			prefix: Prefix + "_INTAKE_<FORMAT>",
			spec:   &WebhookAuth{},
		},
		{
			prefix: Prefix + "_PROMOTE",
			spec:   &Promote{},
		},
		{
			prefix: Prefix + "_ROLLOUT",
			spec:   &Rollout{},
		},
		{
			prefix: Prefix + "_ROLLBACK",
			spec:   &Rollback{},
		},
		{
			prefix: Prefix + "_NOTIFY",
			spec:   &Notify{},
		},
	}
	for _, s := range specs {
		var b bytes.Buffer
		// The variable is the envconfig tag alone when it names a Knative variable (PORT, K_SINK).
		if err := envconfig.Usagef(s.prefix, s.spec, &b, "{{range .}}{{if .Alt}}{{.Alt}}{{else}}{{usage_key .}}{{end}}\t{{usage_default .}}\n{{end}}"); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			key, def, _ := strings.Cut(line, "\t")
			want := "| `" + key + "` | "
			if def == "" {
				want += "— |"
			} else {
				want += "`" + def + "` |"
			}
			if !strings.Contains(doc, want) {
				t.Errorf("docs/operations.md has no row starting %q", want)
			}
		}
	}
}
