package intake

import (
	"os"
	"strings"
	"testing"

	"github.com/slipstream-cd/slipstream/internal/webauth"
)

// TestFormatsTable checks the registration table's rows: unique names, a
// parser or CloudEvent types, a signature header; exactly one format takes
// CloudEvents at /.
func TestFormatsTable(t *testing.T) {
	seen := map[string]bool{}
	cloudevents := 0
	for _, f := range formats {
		if f.name == "" || f.name != strings.ToLower(f.name) || seen[f.name] {
			t.Errorf("format %q: names are unique and lower-case", f.name)
		}
		seen[f.name] = true
		if (f.parse == nil) == (len(f.events) == 0) {
			t.Errorf("format %s: exactly one of parse and events", f.name)
		}
		if len(f.events) > 0 {
			cloudevents++
		}
		if f.signature != webauth.HeaderSignature && f.signature != webauth.HeaderGitHubSignature {
			t.Errorf("format %s: signature header %q", f.name, f.signature)
		}
	}
	if cloudevents != 1 {
		t.Errorf("%d formats take CloudEvents at /, want 1", cloudevents)
	}
}

// TestFormatsDocumented: every format of the table is in the settings
// reference and has its section in docs/registries.md, and those documents
// name no format intake does not have.
func TestFormatsDocumented(t *testing.T) {
	ops, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, l := range strings.Split(string(ops), "\n") {
		if strings.HasPrefix(l, "| `SLIPSTREAM_INTAKE_FORMATS` |") {
			row = l
		}
	}
	regs, err := os.ReadFile("../../docs/registries.md")
	if err != nil {
		t.Fatal(err)
	}
	var headings []string
	for _, l := range strings.Split(string(regs), "\n") {
		if strings.HasPrefix(l, "## ") && strings.Contains(l, " — `") {
			headings = append(headings, l)
		}
	}
	for _, name := range Formats() {
		if !strings.Contains(row, "`"+name+"`") {
			t.Errorf("docs/operations.md: the SLIPSTREAM_INTAKE_FORMATS row does not list %s", name)
		}
		found := false
		for _, h := range headings {
			found = found || strings.Contains(h, "— `"+name+"`")
		}
		if !found {
			t.Errorf("docs/registries.md has no section \"## … — `%s`\"", name)
		}
	}
	if len(headings) != len(Formats()) {
		t.Errorf("docs/registries.md has %d format sections, the table %d formats", len(headings), len(Formats()))
	}
}
