package bench

import (
	"go/parser"
	"go/token"
	"strconv"
	"testing"
)

// TestDepsProbeIsTheSmallestServerWithThePackages: the probe parses as Go
// and imports exactly the smallest server's packages and the ones given,
// blank.
func TestDepsProbeIsTheSmallestServerWithThePackages(t *testing.T) {
	pkgs := []string{"k8s.io/api/core/v1", "knative.dev/serving/pkg/apis/serving/v1"}
	f, err := parser.ParseFile(token.NewFileSet(), "probe.go", depsProbe(pkgs), parser.ImportsOnly)
	if err != nil {
		t.Fatalf("the probe is not Go: %v\n%s", err, depsProbe(pkgs))
	}
	got := map[string]string{}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := ""
		if im.Name != nil {
			name = im.Name.Name
		}
		got[p] = name
	}
	want := map[string]string{"net/http": "", "os": "", pkgs[0]: "_", pkgs[1]: "_"}
	if len(got) != len(want) {
		t.Errorf("imports %v, want %v", got, want)
	}
	for p, name := range want {
		if n, ok := got[p]; !ok || n != name {
			t.Errorf("import %q: %q (present %v), want %q", p, n, ok, name)
		}
	}
	full, err := parser.ParseFile(token.NewFileSet(), "probe.go", depsProbe(nil), 0)
	if err != nil || full.Scope.Lookup("main") == nil {
		t.Errorf("without packages the probe is not the smallest server: %v", err)
	}
}
