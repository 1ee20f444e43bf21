package demo

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// seed makes the bare config repository with the example app.
func seed(bare, registryHost string, pause time.Duration) error {
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}}); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "slipstream-seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	repo, err := git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
	if err != nil {
		return err
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{bare}}); err != nil {
		return err
	}
	manifest := fmt.Sprintf(`# The demo app: slipstream manages it through these annotations.
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: %s
  namespace: %s
  annotations:
    slipstream.dev/track: "semver:^1.0.0"   # take every 1.x push
    slipstream.dev/steps: "10,25,50,100"
    slipstream.dev/pause: "%s"              # short for the demo; minutes in real life
    slipstream.dev/bake: "30s"
    slipstream.dev/rollback-on: 'severity="critical"'
spec:
  template:
    spec:
      containers:
        - image: %s/team/hello   # slipstream pins it by digest on the first push
`, service, namespace, pause, registryHost)
	return commitAndPush(repo, work, "apps/"+service+"/service.yaml", manifest, "add the hello app")
}

// commitAndPush writes one file into the work tree of repo, commits it as a
// person (Ada) and pushes main to origin.
func commitAndPush(repo *git.Repository, work, path, content, msg string) error {
	if err := os.MkdirAll(filepath.Dir(filepath.Join(work, path)), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(work, path), []byte(content), 0o644); err != nil {
		return err
	}
	wt, err := repo.Worktree()
	if err != nil {
		return err
	}
	if _, err := wt.Add(path); err != nil {
		return err
	}
	sig := &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		return err
	}
	return repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"}})
}
