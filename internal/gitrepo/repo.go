package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/slipstream-cd/slipstream/internal/backoff"
)

// Errors an Update is classified into.
var (
	// ErrConflict: the branch kept moving; every retry was rejected as non-fast-forward.
	ErrConflict = errors.New("git push rejected: the branch moved (non-fast-forward)")
	// ErrAuth: the server refused the credentials.
	ErrAuth = errors.New("git authentication failed")
	// ErrNotFound: no such repository or branch.
	ErrNotFound = errors.New("git repository or branch not found")
	// ErrNoChange: the edit left every file as it was; nothing was committed.
	ErrNoChange = errors.New("no change")
	// ErrUnavailable: the server could not be reached or failed; try later.
	ErrUnavailable = errors.New("git server unavailable")
)

// Files is a read-only view of the files at the branch head.
type Files interface {
	// Read returns a file's content, or an error wrapping os.ErrNotExist.
	Read(path string) ([]byte, error)
	// List returns every file path under dir ("." for the root), sorted.
	List(dir string) ([]string, error)
}

// Change is what an edit wants committed.
type Change struct {
	// Files maps repository paths to their new content.
	Files map[string][]byte
	// Message is the commit message.
	Message string
}

// Edit computes a change from the files at the branch head. It must be a pure
// function of its input: it may run again on a newer head after a conflict.
type Edit func(Files) (Change, error)

// Repo is one branch of one repository. It is safe for concurrent use.
type Repo struct {
	url, branch string
	auth        transport.AuthMethod
	author      object.Signature
	timeout     time.Duration
	retries     int
	backoff     time.Duration
	now         func() time.Time
	wait        func(ctx context.Context, d time.Duration) error
	signKey     *openpgp.Entity

	mu   sync.Mutex
	repo *git.Repository
	fs   billy.Filesystem
}

// Option configures a Repo.
type Option func(*Repo)

// WithAuth sets the transport credentials (HTTPS basic or SSH). Default none.
func WithAuth(a transport.AuthMethod) Option { return func(r *Repo) { r.auth = a } }

// WithAuthor sets the commit author and committer. Default slipstream <slipstream@localhost>.
func WithAuthor(name, email string) Option {
	return func(r *Repo) { r.author.Name, r.author.Email = name, email }
}

// WithTimeout bounds each clone, fetch and push. Default 30s.
func WithTimeout(d time.Duration) Option { return func(r *Repo) { r.timeout = d } }

// WithRetries sets how many times a rejected push is retried, and the first
// backoff (doubled each time, with jitter). Default 8 retries from 50ms.
func WithRetries(n int, backoff time.Duration) Option {
	return func(r *Repo) { r.retries, r.backoff = n, backoff }
}

// WithSigningKey signs every commit with an OpenPGP key. Default: unsigned.
func WithSigningKey(e *openpgp.Entity) Option { return func(r *Repo) { r.signKey = e } }

// ReadSigningKey reads an armored OpenPGP private key, decrypting it with
// passphrase when it is protected.
func ReadSigningKey(armored, passphrase []byte) (*openpgp.Entity, error) {
	list, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("reading the OpenPGP key: %v", err)
	}
	if len(list) == 0 || list[0].PrivateKey == nil {
		return nil, errors.New("the OpenPGP key file holds no private key")
	}
	e := list[0]
	if e.PrivateKey.Encrypted {
		if err := e.PrivateKey.Decrypt(passphrase); err != nil {
			return nil, fmt.Errorf("decrypting the OpenPGP key: %v", err)
		}
		for _, sub := range e.Subkeys {
			if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
				_ = sub.PrivateKey.Decrypt(passphrase)
			}
		}
	}
	return e, nil
}

// WithClock sets the clock for commit times. Default time.Now.
func WithClock(now func() time.Time) Option { return func(r *Repo) { r.now = now } }

// New returns a Repo for url and branch; nothing is fetched until the first Update.
func New(url, branch string, opts ...Option) (*Repo, error) {
	r := &Repo{url: url, branch: branch, author: object.Signature{Name: "slipstream", Email: "slipstream@localhost"},
		timeout: 30 * time.Second, retries: 8, backoff: 50 * time.Millisecond, now: time.Now, wait: backoff.Wait}
	for _, o := range opts {
		o(r)
	}
	switch {
	case url == "":
		return nil, errors.New("gitrepo: URL is empty")
	case branch == "":
		return nil, errors.New("gitrepo: branch is empty")
	case r.timeout <= 0 || r.retries < 0 || r.backoff <= 0:
		return nil, errors.New("gitrepo: timeout and backoff must be positive, retries not negative")
	}
	return r, nil
}

// Update runs edit on the branch head and commits and pushes its change. It
// returns the new commit's hash, or ErrNoChange when the edit changed nothing.
// Errors from edit are returned as they are.
func (r *Repo) Update(ctx context.Context, edit Edit) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delay := r.backoff
	for attempt := 0; ; attempt++ {
		if err := r.sync(ctx); err != nil {
			return "", err
		}
		change, err := edit(fsFiles{r.fs})
		if err != nil {
			return "", err
		}
		hash, err := r.commit(change)
		if err != nil {
			return "", err
		}
		err = r.push(ctx)
		if err == nil {
			return hash, nil
		}
		if !errors.Is(err, ErrConflict) {
			return "", err
		}
		if attempt >= r.retries {
			return "", fmt.Errorf("%w after %d attempts", ErrConflict, attempt+1)
		}
		// Full jitter keeps competing writers from retrying in lockstep.
		if err := r.wait(ctx, time.Duration(rand.Int64N(int64(delay)))+delay/2); err != nil {
			return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		delay *= 2
	}
}

// Head returns the hash of the branch head after fetching it.
func (r *Repo) Head(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.sync(ctx); err != nil {
		return "", err
	}
	ref, err := r.repo.Head()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return ref.Hash().String(), nil
}

func (r *Repo) branchRef() plumbing.ReferenceName { return plumbing.NewBranchReferenceName(r.branch) }

func (r *Repo) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", r.branch)
}

// sync clones on first use, else fetches, then resets the worktree to the remote head.
func (r *Repo) sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if r.repo == nil {
		fs := memfs.New()
		repo, err := git.CloneContext(ctx, memory.NewStorage(), fs, &git.CloneOptions{
			URL: r.url, Auth: r.auth, ReferenceName: r.branchRef(), SingleBranch: true, Depth: 1, Tags: git.NoTags,
		})
		if err != nil {
			return classify("cloning", r.url, err)
		}
		r.repo, r.fs = repo, fs
		return nil
	}
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin", Auth: r.auth, Depth: 1, Force: true, Tags: git.NoTags,
		RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec("+" + r.branchRef().String() + ":" + r.remoteRef().String())},
	})
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return classify("fetching", r.url, err)
	}
	remote, err := r.repo.Reference(r.remoteRef(), true)
	if err != nil {
		return fmt.Errorf("%w: %s has no branch %s: %v", ErrNotFound, r.url, r.branch, err)
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: remote.Hash(), Mode: git.HardReset}); err != nil {
		return fmt.Errorf("resetting to %s: %w", remote.Hash(), err)
	}
	return nil
}

// commit writes the changed files and commits them; ErrNoChange when none differ.
func (r *Repo) commit(c Change) (string, error) {
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	changed := 0
	for _, p := range paths {
		clean := path.Clean(p)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", fmt.Errorf("gitrepo: path %q is outside the repository", p)
		}
		old, err := readFile(r.fs, clean)
		if err == nil && bytes.Equal(old, c.Files[p]) {
			continue
		}
		if err := writeFile(r.fs, clean, c.Files[p]); err != nil {
			return "", err
		}
		if _, err := wt.Add(clean); err != nil {
			return "", fmt.Errorf("staging %s: %w", clean, err)
		}
		changed++
	}
	if changed == 0 {
		return "", ErrNoChange
	}
	sig := r.author
	sig.When = r.now()
	h, err := wt.Commit(c.Message, &git.CommitOptions{Author: &sig, Committer: &sig, SignKey: r.signKey})
	if err != nil {
		return "", fmt.Errorf("committing: %w", err)
	}
	return h.String(), nil
}

func (r *Repo) push(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	spec := gitconfig.RefSpec(r.branchRef().String() + ":" + r.branchRef().String())
	err := r.repo.PushContext(ctx, &git.PushOptions{RemoteName: "origin", Auth: r.auth, RefSpecs: []gitconfig.RefSpec{spec}})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil
	case errors.Is(err, plumbing.ErrObjectNotFound):
		// Our clone is shallow: when the remote head is a commit we never
		// fetched, go-git's fast-forward check walks into the shallow boundary
		// and reports a missing object. We fetched just before, so that commit
		// is new on the remote: the branch moved, as with a non-fast-forward.
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return classify("pushing to", r.url, err)
}

// classify turns go-git errors into this package's sentinels. A rejected
// non-fast-forward push is reported only as text, so it is matched here, once.
func classify(op, url string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "non-fast-forward"), strings.Contains(msg, "fetch first"),
		strings.Contains(msg, "failed to update ref"), strings.Contains(msg, "cannot lock ref"):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed):
		return fmt.Errorf("%s %s: %w: %v", op, url, ErrAuth, err)
	case errors.Is(err, transport.ErrRepositoryNotFound), errors.Is(err, plumbing.ErrReferenceNotFound),
		strings.Contains(msg, "couldn't find remote ref"):
		return fmt.Errorf("%s %s: %w: %v", op, url, ErrNotFound, err)
	}
	return fmt.Errorf("%s %s: %w: %v", op, url, ErrUnavailable, err)
}

// fsFiles reads the worktree.
type fsFiles struct{ fs billy.Filesystem }

func (f fsFiles) Read(p string) ([]byte, error) { return readFile(f.fs, path.Clean(p)) }

func (f fsFiles) List(dir string) ([]string, error) {
	var out []string
	var walk func(string) error
	walk = func(d string) error {
		infos, err := f.fs.ReadDir(d)
		if err != nil {
			return err
		}
		for _, fi := range infos {
			p := path.Join(d, fi.Name())
			if d == "." || d == "" {
				p = fi.Name()
			}
			switch {
			case fi.IsDir() && fi.Name() == ".git":
			case fi.IsDir():
				if err := walk(p); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				out = append(out, p)
			}
		}
		return nil
	}
	if err := walk(path.Clean(dir)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

func readFile(fs billy.Filesystem, p string) ([]byte, error) {
	f, err := fs.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func writeFile(fs billy.Filesystem, p string, content []byte) error {
	if dir := path.Dir(p); dir != "." {
		if err := fs.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := fs.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
