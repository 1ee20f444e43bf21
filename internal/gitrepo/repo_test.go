package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/go-git/go-git/v5"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"

	"github.com/slipstream-cd/slipstream/internal/testutil"
)

func newBare(t testing.TB, files map[string]string) (string, string) {
	return testutil.NewGitRepo(t, files)
}

func outside(t testing.TB, url, work string, files map[string]string, msg string, init bool) {
	t.Helper()
	if err := testutil.Commit(url, work, files, msg, init); err != nil {
		t.Fatal(err)
	}
}

func outsideCommit(url, work string, files map[string]string, msg string, init bool) error {
	return testutil.Commit(url, work, files, msg, init)
}

func history(t testing.TB, bare string) []string {
	var msgs []string
	for _, c := range testutil.Commits(t, bare) {
		msgs = append(msgs, strings.TrimSpace(c.Message))
	}
	return msgs
}

func fileAt(t testing.TB, bare, path string) string {
	t.Helper()
	repo, _ := git.PlainOpen(bare)
	ref, _ := repo.Reference("refs/heads/main", true)
	c, _ := repo.CommitObject(ref.Hash())
	f, err := c.File(path)
	if err != nil {
		return ""
	}
	s, _ := f.Contents()
	return s
}

func setFile(path, content, msg string) Edit {
	return func(files Files) (Change, error) {
		return Change{Files: map[string][]byte{path: []byte(content)}, Message: msg}, nil
	}
}

func TestUpdateCommitsOnceAndIsIdempotent(t *testing.T) {
	url, bare := newBare(t, map[string]string{"apps/hello/service.yaml": "a: 1\n", "README.md": "hi\n"})
	r, err := New(url, "main", WithAuthor("slipstream", "bot@example.com"), WithClock(func() time.Time { return time.Unix(1700000000, 0) }))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	hash, err := r.Update(context.Background(), func(files Files) (Change, error) {
		listed, _ = files.List(".")
		old, err := files.Read("apps/hello/service.yaml")
		if err != nil || string(old) != "a: 1\n" {
			return Change{}, fmt.Errorf("read %q %v", old, err)
		}
		return Change{Files: map[string][]byte{"apps/hello/service.yaml": []byte("a: 2\n")}, Message: "bump a"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"README.md", "apps/hello/service.yaml"}; strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("List = %v, want %v", listed, want)
	}
	if got := fileAt(t, bare, "apps/hello/service.yaml"); got != "a: 2\n" {
		t.Errorf("pushed content %q", got)
	}
	if h := history(t, bare); len(h) != 2 || h[0] != "bump a" {
		t.Errorf("history %q", h)
	}
	repo, _ := git.PlainOpen(bare)
	c, _ := repo.CommitObject(mustHash(t, repo))
	if c.Hash.String() != hash || c.Author.Email != "bot@example.com" || c.Committer.Name != "slipstream" || c.Author.When.Unix() != 1700000000 {
		t.Errorf("commit %s by %v/%v at %v, want %s", c.Hash, c.Author, c.Committer, c.Author.When, hash)
	}
	// The same edit again: the repository already holds the result.
	if _, err := r.Update(context.Background(), setFile("apps/hello/service.yaml", "a: 2\n", "bump a")); !errors.Is(err, ErrNoChange) {
		t.Errorf("second Update = %v, want ErrNoChange", err)
	}
	if h := history(t, bare); len(h) != 2 {
		t.Errorf("a no-op made a commit: %q", h)
	}
}

func mustHash(t testing.TB, repo *git.Repository) (h [20]byte) {
	ref, err := repo.Reference("refs/heads/main", true)
	if err != nil {
		t.Fatal(err)
	}
	return ref.Hash()
}

func TestConflictIsRetriedOnTheNewHead(t *testing.T) {
	url, bare := newBare(t, map[string]string{"a.yaml": "a\n"})
	r, _ := New(url, "main", WithRetries(3, time.Millisecond))
	calls := 0
	_, err := r.Update(context.Background(), func(files Files) (Change, error) {
		calls++
		if calls == 1 {
			// Someone pushes between our fetch and our push.
			outside(t, url, filepath.Join(t.TempDir(), "other"), map[string]string{"b.yaml": "b\n"}, "outside change", false)
		}
		_, errB := files.Read("b.yaml")
		return Change{Files: map[string][]byte{"a.yaml": []byte(fmt.Sprintf("a2 (saw b: %v)\n", errB == nil))}, Message: "edit a"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("edit ran %d times, want 2 (once more on the new head)", calls)
	}
	if got := fileAt(t, bare, "a.yaml"); got != "a2 (saw b: true)\n" {
		t.Errorf("the retry did not see the new head: %q", got)
	}
	if h := history(t, bare); strings.Join(h, "|") != "edit a|outside change|seed" {
		t.Errorf("history %q: the outside change must survive (no force push)", h)
	}
}

func TestConflictGivesUp(t *testing.T) {
	url, bare := newBare(t, map[string]string{"a.yaml": "a\n"})
	r, _ := New(url, "main", WithRetries(2, time.Millisecond))
	n := 0
	_, err := r.Update(context.Background(), func(files Files) (Change, error) {
		n++
		outside(t, url, filepath.Join(t.TempDir(), "other"), map[string]string{fmt.Sprintf("o%d.yaml", n): "o\n"}, fmt.Sprintf("outside %d", n), false)
		return Change{Files: map[string][]byte{"a.yaml": []byte("mine\n")}, Message: "mine"}, nil
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Update = %v, want ErrConflict", err)
	}
	if n != 3 {
		t.Errorf("edit ran %d times, want 3 (1 + 2 retries)", n)
	}
	if h := history(t, bare); h[0] != "outside 3" {
		t.Errorf("history %q", h)
	}
}

func TestConcurrentWritersLoseNothing(t *testing.T) {
	url, bare := newBare(t, map[string]string{"README.md": "config\n"})
	const writers = 20
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r, err := New(url, "main", WithRetries(60, time.Millisecond))
			if err == nil {
				_, err = r.Update(context.Background(), setFile(fmt.Sprintf("apps/s%02d/service.yaml", i), fmt.Sprintf("svc: %d\n", i), fmt.Sprintf("deploy s%02d", i)))
			}
			errs <- err
		}(i)
	}
	wg.Add(1)
	personDir := t.TempDir()
	go func() { // a person commits at the same time, retrying by hand as people do
		defer wg.Done()
		var err error
		for try := 0; try < 100; try++ {
			if err = outsideCommit(url, filepath.Join(personDir, fmt.Sprint(try)), map[string]string{"README.md": "edited by a person\n"}, "person edits README", false); err == nil {
				break
			}
		}
		errs <- err
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	h := history(t, bare)
	if len(h) != writers+2 {
		t.Errorf("%d commits, want %d: %q", len(h), writers+2, h)
	}
	for i := 0; i < writers; i++ {
		if got := fileAt(t, bare, fmt.Sprintf("apps/s%02d/service.yaml", i)); got != fmt.Sprintf("svc: %d\n", i) {
			t.Errorf("s%02d lost: %q", i, got)
		}
	}
	if got := fileAt(t, bare, "README.md"); got != "edited by a person\n" {
		t.Errorf("the person's change was lost: %q", got)
	}
}

func TestErrorsAreClassified(t *testing.T) {
	url, _ := newBare(t, map[string]string{"a": "a\n"})
	missing, _ := New("file://"+filepath.Join(t.TempDir(), "nope.git"), "main", WithTimeout(5*time.Second))
	if _, err := missing.Update(context.Background(), setFile("a", "b", "m")); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing repository: %v, want ErrNotFound", err)
	}
	noBranch, _ := New(url, "release")
	if _, err := noBranch.Update(context.Background(), setFile("a", "b", "m")); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing branch: %v, want ErrNotFound", err)
	}
	r, _ := New(url, "main")
	boom := errors.New("manifest does not parse")
	if _, err := r.Update(context.Background(), func(Files) (Change, error) { return Change{}, boom }); !errors.Is(err, boom) {
		t.Errorf("edit error: %v", err)
	}
	if _, err := r.Update(context.Background(), setFile("../escape", "x", "m")); err == nil || !strings.Contains(err.Error(), "outside the repository") {
		t.Errorf("path outside the repository: %v", err)
	}
	down, _ := New("http://127.0.0.1:1/config.git", "main", WithTimeout(2*time.Second))
	if _, err := down.Update(context.Background(), setFile("a", "b", "m")); !errors.Is(err, ErrUnavailable) {
		t.Errorf("server down: %v, want ErrUnavailable", err)
	}
}

// TestSmartHTTPWithBasicAuth pushes through real `git http-backend` behind basic auth.
func TestSmartHTTPWithBasicAuth(t *testing.T) {
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	_, bare := newBare(t, map[string]string{"a.yaml": "a\n"})
	repo, _ := git.PlainOpen(bare)
	cfg, _ := repo.Config()
	cfg.Raw.Section("http").SetOption("receivepack", "true")
	repo.SetConfig(cfg)
	var requests atomic.Int64
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"}, Env: []string{"GIT_PROJECT_ROOT=" + filepath.Dir(bare), "GIT_HTTP_EXPORT_ALL=1"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if u, p, ok := r.BasicAuth(); !ok || u != "git" || p != "tok" {
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := srv.URL + "/" + filepath.Base(bare)

	wrong, _ := New(url, "main", WithAuth(&githttp.BasicAuth{Username: "git", Password: "wrong"}))
	if _, err := wrong.Update(context.Background(), setFile("a.yaml", "b\n", "m")); !errors.Is(err, ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	}
	r, _ := New(url, "main", WithAuth(&githttp.BasicAuth{Username: "git", Password: "tok"}))
	if _, err := r.Update(context.Background(), setFile("a.yaml", "over http\n", "over http")); err != nil {
		t.Fatalf("push over smart HTTP: %v", err)
	}
	if got := fileAt(t, bare, "a.yaml"); got != "over http\n" {
		t.Errorf("content %q", got)
	}
	// The second update fetches incrementally instead of cloning again.
	before := requests.Load()
	if _, err := r.Update(context.Background(), setFile("a.yaml", "again\n", "again")); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load() - before; n > 6 {
		t.Errorf("second update made %d requests; expected a fetch and a push", n)
	}
}

func TestSignedCommits(t *testing.T) {
	url, bare := newBare(t, map[string]string{"a": "a\n"})
	entity, err := openpgp.NewEntity("slipstream", "", "slipstream@example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, _ := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	entity.SerializePrivate(w, nil)
	w.Close()
	w, _ = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	entity.Serialize(w)
	w.Close()

	key, err := ReadSigningKey(priv.Bytes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := New(url, "main", WithSigningKey(key))
	if _, err := r.Update(context.Background(), setFile("a", "signed\n", "signed change")); err != nil {
		t.Fatal(err)
	}
	head := testutil.Commits(t, bare)[0]
	if head.PGPSignature == "" {
		t.Fatal("the commit is not signed")
	}
	if _, err := head.Verify(pub.String()); err != nil {
		t.Errorf("signature does not verify: %v", err)
	}
	if _, err := ReadSigningKey(pub.Bytes(), nil); err == nil {
		t.Error("a public key was accepted as a signing key")
	}
}

// TestTreeListingsDoNotOutliveTheirHead: the listings kept are those of
// the current head's trees (here the root, apps, apps/a and apps/b), however
// many commits came before; what a new head changed is listed afresh.
func TestTreeListingsDoNotOutliveTheirHead(t *testing.T) {
	url, _ := newBare(t, map[string]string{"apps/a/service.yaml": "a: 0\n", "apps/b/service.yaml": "b: 0\n"})
	r, err := New(url, "main")
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 20; i++ {
		var seen string
		_, err := r.Update(context.Background(), func(files Files) (Change, error) {
			b, err := files.Read("apps/a/service.yaml")
			seen = string(b)
			return Change{Files: map[string][]byte{"apps/a/service.yaml": []byte(fmt.Sprintf("a: %d\n", i))}, Message: "bump"}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("a: %d\n", i-1); seen != want {
			t.Fatalf("update %d read %q, want %q", i, seen, want)
		}
	}
	if n := len(r.listings); n != 4 {
		t.Errorf("%d tree listings kept after 20 commits, want the head's 4", n)
	}
}
