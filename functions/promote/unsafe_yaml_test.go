package promote

import (
	"strings"
	"testing"

	"github.com/slipstream-cd/slipstream/eventing"
)

// unsafeManifests are Knative Services whose YAML promote's text edits
// cannot change safely, each with a word its skip reason must hold. They
// also seed FuzzManifests.
const unsafeHead = "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: hello\n  namespace: demo\n  annotations:\n    slipstream.dev/track: \"semver:^1.0.0\"\n"

var unsafeManifests = map[string]struct{ manifest, reason string }{
	"an alias for the containers": {
		manifest: "x-containers: &app\n  - image: registry.example.com/team/hello:1.0.0\n---\n" + unsafeHead + "spec:\n  template:\n    spec:\n      containers: *app\n",
		reason:   "alias",
	},
	"a merge key in a container": {
		manifest: unsafeHead + "spec:\n  template:\n    spec:\n      containers:\n        - <<: {image: registry.example.com/team/hello:1.0.0}\n          name: user-container\n",
		reason:   "merge key",
	},
	"an alias to an anchor in the same document": {
		manifest: unsafeHead + "x-base: &base\n  image: registry.example.com/team/hello:1.0.0\nspec:\n  template:\n    spec:\n      containers:\n        - <<: *base\n          name: user-container\n",
		reason:   "anchor &base",
	},
	"an anchor on the template": {
		manifest: unsafeHead + "spec:\n  template: &tpl\n    spec:\n      containers:\n        - image: registry.example.com/team/hello:1.0.0\n",
		reason:   "anchor",
	},
	"a custom tag on the image": {
		manifest: unsafeHead + "spec:\n  template:\n    spec:\n      containers:\n        - image: !Sub registry.example.com/team/hello:1.0.0\n",
		reason:   "tag",
	},
}

// TestManifestsPromoteCannotEditSafelyAreSkipped: YAML that decodes to a
// Knative Service but that promote's text edits cannot change safely —
// an alias, an anchor others refer to, a merge key, a custom tag — is
// skipped with its reason; nothing panics and nothing is written.
func TestManifestsPromoteCannotEditSafelyAreSkipped(t *testing.T) {
	ev, err := eventing.NewImagePushed("registry.example.com/team/hello:1.4.0@"+digestB, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range unsafeManifests {
		t.Run(name, func(t *testing.T) {
			files := map[string][]byte{"apps/hello/service.yaml": []byte(tc.manifest)}
			services, skipped := findServices(files)
			lives := Lives{}
			for _, s := range services {
				lives[s.key()] = Live{Found: false} // a first deploy: a plain manifest would be written
			}
			out := decideImagePushed(services, ev, lives, now)
			pl := build(files, out.Changes, nil, now)
			if len(pl.Files) != 0 {
				t.Errorf("wrote %v", pl.Files)
			}
			found := false
			for _, s := range skipped {
				found = found || strings.Contains(s.Reason, tc.reason)
			}
			if !found {
				t.Errorf("skipped = %+v, want a reason naming the %s", skipped, tc.reason)
			}
		})
	}
	// The same push to the same Service written plainly is edited: the
	// checks above can fail.
	plain := unsafeHead + "spec:\n  template:\n    spec:\n      containers:\n        - image: registry.example.com/team/hello:1.0.0\n"
	files := map[string][]byte{"apps/hello/service.yaml": []byte(plain)}
	services, skipped := findServices(files)
	lives := Lives{}
	for _, s := range services {
		lives[s.key()] = Live{Found: false}
	}
	if pl := build(files, decideImagePushed(services, ev, lives, now).Changes, nil, now); len(pl.Files) == 0 || len(skipped) > 0 {
		t.Errorf("the plain manifest: wrote %d files, skipped %v; want it edited", len(pl.Files), skipped)
	}
	// An unmanaged Service may use anchors: promote never edits it, so it is
	// not listed as skipped either.
	unmanaged := strings.Replace(unsafeManifests["an anchor on the template"].manifest, "    slipstream.dev/track: \"semver:^1.0.0\"\n", "    team: shop\n", 1)
	if _, skipped := findServices(map[string][]byte{"apps/other/service.yaml": []byte(unmanaged)}); len(skipped) > 0 {
		t.Errorf("an unmanaged Service was skipped: %v", skipped)
	}
}
