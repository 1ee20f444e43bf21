package testutil

import (
	"fmt"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// NewGitRepo makes a real bare repository whose branch main holds files, and
// returns its file:// URL and its directory. It skips the test without git.
func NewGitRepo(t testing.TB, files map[string]string) (url, bare string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	bare, err := NewBareRepo(t.TempDir(), files)
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + bare, bare
}

// NewBareRepo makes dir/config.git, a bare repository whose main branch
// has files in one commit, and returns its path.
func NewBareRepo(dir string, files map[string]string) (string, error) {
	bare := filepath.Join(dir, "config.git")
	if _, err := git.PlainInitWithOptions(bare, &git.PlainInitOptions{Bare: true, InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}}); err != nil {
		return "", err
	}
	if err := Commit("file://"+bare, filepath.Join(dir, "seed"), files, "seed", true); err != nil {
		return "", err
	}
	return bare, nil
}

// GitHTTPBackend serves the bare repositories under root over Git's smart
// HTTP protocol, pushes included, with the git CLI's own server (`git
// http-backend` as CGI), as user.
func GitHTTPBackend(root, user string) (http.Handler, error) {
	execPath, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		return nil, fmt.Errorf("git --exec-path: %w", err)
	}
	return &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=" + user},
	}, nil
}

// Commit commits files to main as another writer would (a person, another
// tool): it clones url into work (or initialises it when init), commits, pushes.
func Commit(url, work string, files map[string]string, msg string, init bool) error {
	var repo *git.Repository
	var err error
	if init {
		repo, err = git.PlainInitWithOptions(work, &git.PlainInitOptions{InitOptions: git.InitOptions{DefaultBranch: "refs/heads/main"}})
		if err == nil {
			_, err = repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}})
		}
	} else {
		repo, err = git.PlainClone(work, false, &git.CloneOptions{URL: url, ReferenceName: "refs/heads/main"})
	}
	if err != nil {
		return err
	}
	wt, _ := repo.Worktree()
	for p, c := range files {
		full := filepath.Join(work, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			return err
		}
		if _, err := wt.Add(p); err != nil {
			return err
		}
	}
	sig := &object.Signature{Name: "Ada", Email: "ada@example.com", When: time.Now()}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig, Committer: sig}); err != nil {
		return err
	}
	return repo.Push(&git.PushOptions{RemoteName: "origin", RefSpecs: []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"}})
}

// Commits returns the commits on main of a bare repository, newest first.
func Commits(t testing.TB, bare string) []*object.Commit {
	t.Helper()
	repo, err := git.PlainOpen(bare)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := repo.Reference("refs/heads/main", true)
	if err != nil {
		t.Fatal(err)
	}
	iter, err := repo.Log(&git.LogOptions{From: ref.Hash()})
	if err != nil {
		t.Fatal(err)
	}
	var out []*object.Commit
	_ = iter.ForEach(func(c *object.Commit) error { out = append(out, c); return nil })
	return out
}

// Subjects returns the first lines of the commit messages on main, newest first.
func Subjects(t testing.TB, bare string) []string {
	var out []string
	for _, c := range Commits(t, bare) {
		subject, _, _ := strings.Cut(c.Message, "\n")
		out = append(out, subject)
	}
	return out
}

// Tree returns every file on main of a bare repository.
func Tree(t testing.TB, bare string) map[string]string {
	t.Helper()
	head := Commits(t, bare)[0]
	tree, err := head.Tree()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	_ = tree.Files().ForEach(func(f *object.File) error {
		s, err := f.Contents()
		out[f.Name] = s
		return err
	})
	return out
}

// ReadTree reads a folder of the test's testdata into a map of files.
func ReadTree(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteTree replaces a folder with files (for -update flags).
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
