package promote

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// mapFiles is a gitrepo.Files over a map, versioned by content, counting reads.
type mapFiles struct {
	files map[string]string
	reads int
}

func (m *mapFiles) Read(p string) ([]byte, error) {
	m.reads++
	c, ok := m.files[p]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	return []byte(c), nil
}

func (m *mapFiles) List(dir string) ([]string, error) {
	var out []string
	for p := range m.files {
		if strings.HasPrefix(p, dir+"/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *mapFiles) Version(p string) (string, bool) {
	c, ok := m.files[p]
	return fmt.Sprintf("%x", c), ok
}

// TestIndexReadsOnlyWhatChanged: a second scan of the same head reads no
// file; after one file changes it reads that one; a kustomization's change
// re-reads the Services of its folder; a deleted file leaves; and every scan
// finds what reading every file finds.
func TestIndexReadsOnlyWhatChanged(t *testing.T) {
	svc := func(name, image string) string {
		return fmt.Sprintf("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: %s\n  namespace: demo\n  annotations:\n    slipstream.dev/track: semver:^1.0.0\nspec:\n  template:\n    spec:\n      containers:\n        - image: %s\n", name, image)
	}
	files := &mapFiles{files: map[string]string{}}
	for i := range 50 {
		files.files[fmt.Sprintf("apps/a%02d/service.yaml", i)] = svc(fmt.Sprintf("a%02d", i), "registry.example.com/team/a")
	}
	files.files["apps/k/service.yaml"] = svc("k", "registry.example.com/team/k")
	files.files["apps/k/kustomization.yaml"] = "images:\n  - name: registry.example.com/team/k\n    newTag: 1.0.0\n"
	files.files["other/ignored.yaml"] = svc("x", "registry.example.com/team/x")
	var x index
	scan := func(wantReads int) []service {
		t.Helper()
		files.reads = 0
		snapshot, services, _, err := x.scan(files, []string{"apps"})
		if err != nil {
			t.Fatal(err)
		}
		if files.reads != wantReads {
			t.Errorf("%d files read, want %d", files.reads, wantReads)
		}
		all := map[string][]byte{}
		for p, c := range files.files {
			if strings.HasPrefix(p, "apps/") {
				all[p] = []byte(c)
			}
		}
		want, _ := findServices(all)
		if diff := cmp.Diff(want, services, cmp.AllowUnexported(service{})); diff != "" {
			t.Errorf("the index finds other Services than reading every file (-want +got):\n%s", diff)
		}
		if len(snapshot) != len(all) {
			t.Errorf("snapshot of %d files, want %d", len(snapshot), len(all))
		}
		return services
	}
	scan(52)
	scan(0)
	files.files["apps/a07/service.yaml"] = svc("a07", "registry.example.com/team/changed")
	scan(1)
	files.files["apps/k/kustomization.yaml"] = "images:\n  - name: registry.example.com/team/k\n    newTag: 2.0.0\n"
	got := scan(1)
	if i := slices.IndexFunc(got, func(s service) bool { return s.Name == "k" }); i < 0 || got[i].Image != "registry.example.com/team/k:2.0.0" {
		t.Errorf("after the kustomization changed, k is %+v", got[i])
	}
	delete(files.files, "apps/a00/service.yaml")
	if got := scan(0); slices.ContainsFunc(got, func(s service) bool { return s.Name == "a00" }) {
		t.Error("a deleted file's Service is still found")
	}
}
