package promote

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/slipstream-cd/slipstream/eventing"
)

// FuzzManifests: manifests in the repository are outside input. Reading them
// never panics, and deciding and applying a push to whatever was found either
// refuses with a reason or yields files that still parse as the same Services.
func FuzzManifests(f *testing.F) {
	for _, c := range []string{"comments-odd-formatting", "multi-document", "first-deploy", "adopt-live", "rollback"} {
		matches, _ := filepath.Glob(filepath.Join("testdata", c, "original", "apps", "*", "*.yaml"))
		for _, m := range matches {
			b, _ := os.ReadFile(m)
			f.Add(b)
		}
	}
	for _, c := range unsafeManifests {
		f.Add([]byte(c.manifest))
	}
	ev, _ := eventing.NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestB, "", "", nil)
	f.Fuzz(func(t *testing.T, manifest []byte) {
		files := map[string][]byte{"apps/hello/service.yaml": manifest}
		services, _ := findServices(files)
		lives := Lives{}
		for _, s := range services {
			lives[s.key()] = Live{Found: false}
		}
		out := decideImagePushed(services, ev, lives, now)
		if len(out.NeedLive) > 0 {
			t.Fatalf("every Service has a live answer, yet the decision asks for %v", out.NeedLive)
		}
		pl := build(files, out.Changes, nil, now)
		for p, b := range pl.Files {
			again, skipped := findServices(map[string][]byte{p: b})
			if len(again) != len(services) {
				t.Fatalf("an edit lost or added Services: %d before, %d after (%v)\n%s", len(services), len(again), skipped, b)
			}
		}
	})
}
