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
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
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
	// Version identifies a file's content (its blob hash): equal versions,
	// equal content. ok is false for a file that does not exist.
	Version(path string) (version string, ok bool)
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
	// listings caches each tree's files by the tree's hash: a tree's
	// content never changes, so a new head decodes only the trees that did.
	// It holds the listings the last head used, no older ones.
	listings map[plumbing.Hash][]entry
}

// entry is a file of a tree: its path under the tree and its blob.
type entry struct {
	path string
	hash plumbing.Hash
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
		head, err := r.sync(ctx)
		if err != nil {
			return "", err
		}
		files, err := r.files(head)
		if err != nil {
			return "", err
		}
		change, err := edit(files)
		if err != nil {
			return "", err
		}
		hash, err := r.commit(head, files, change)
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
	head, err := r.sync(ctx)
	if err != nil {
		return "", err
	}
	return head.Hash.String(), nil
}

func (r *Repo) branchRef() plumbing.ReferenceName { return plumbing.NewBranchReferenceName(r.branch) }

func (r *Repo) remoteRef() plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName("origin", r.branch)
}

// sync clones on first use, else fetches, and returns the remote head. The
// repository is bare, in memory: files are read from, and commits made of,
// its objects, with no worktree to check out or reset.
func (r *Repo) sync(ctx context.Context) (*object.Commit, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if r.repo == nil {
		repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
			URL: r.url, Auth: r.auth, ReferenceName: r.branchRef(), SingleBranch: true, Depth: 1, Tags: git.NoTags,
			RemoteName: "origin",
		})
		if err != nil {
			return nil, classify("cloning", r.url, err)
		}
		r.repo = repo
	} else {
		err := r.repo.FetchContext(ctx, &git.FetchOptions{
			RemoteName: "origin", Auth: r.auth, Depth: 1, Force: true, Tags: git.NoTags,
			RefSpecs: []gitconfig.RefSpec{gitconfig.RefSpec("+" + r.branchRef().String() + ":" + r.remoteRef().String())},
		})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return nil, classify("fetching", r.url, err)
		}
	}
	remote, err := r.repo.Reference(r.remoteRef(), true)
	if err != nil {
		return nil, fmt.Errorf("%w: %s has no branch %s: %v", ErrNotFound, r.url, r.branch, err)
	}
	head, err := r.repo.CommitObject(remote.Hash())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", remote.Hash(), err)
	}
	return head, nil
}

// files is the read-only view of head's tree.
func (r *Repo) files(head *object.Commit) (treeFiles, error) {
	tree, err := head.Tree()
	if err != nil {
		return treeFiles{}, fmt.Errorf("reading the tree of %s: %w", head.Hash, err)
	}
	used := map[plumbing.Hash][]entry{}
	all, err := r.list(tree, "", used)
	if err != nil {
		return treeFiles{}, err
	}
	r.listings = used // what older heads listed and this one does not is dropped
	byPath := make(map[string]plumbing.Hash, len(all))
	for _, e := range all {
		byPath[e.path] = e.hash
	}
	return treeFiles{repo: r.repo, all: all, byPath: byPath}, nil
}

// list returns every file under tree, prefixed, sorted, decoding only the
// trees not listed before, and notes in used each listing it took.
func (r *Repo) list(tree *object.Tree, prefix string, used map[plumbing.Hash][]entry) ([]entry, error) {
	rel, ok := r.listings[tree.Hash]
	if !ok {
		for _, e := range tree.Entries {
			switch {
			case e.Mode == filemode.Dir:
				sub, err := r.repo.TreeObject(e.Hash)
				if err != nil {
					return nil, fmt.Errorf("reading tree %s: %w", e.Name, err)
				}
				files, err := r.list(sub, e.Name+"/", used)
				if err != nil {
					return nil, err
				}
				rel = append(rel, files...)
			case e.Mode.IsFile():
				rel = append(rel, entry{path: e.Name, hash: e.Hash})
			}
		}
		sort.Slice(rel, func(i, j int) bool { return rel[i].path < rel[j].path })
	}
	used[tree.Hash] = rel
	if prefix == "" {
		return rel, nil
	}
	out := make([]entry, len(rel))
	for i, e := range rel {
		out[i] = entry{path: prefix + e.path, hash: e.hash}
	}
	return out, nil
}

// commit makes a commit of c on head, sets the local branch to it and
// returns its hash; ErrNoChange when no file differs.
func (r *Repo) commit(head *object.Commit, files treeFiles, c Change) (string, error) {
	paths := make([]string, 0, len(c.Files))
	for p := range c.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	root := head.TreeHash
	changed := 0
	for _, p := range paths {
		clean := path.Clean(p)
		if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", fmt.Errorf("gitrepo: path %q is outside the repository", p)
		}
		if old, ok := files.byPath[clean]; ok && old == plumbing.ComputeHash(plumbing.BlobObject, c.Files[p]) {
			continue
		}
		blob, err := r.store(plumbing.BlobObject, func(w io.Writer) error { _, err := w.Write(c.Files[p]); return err })
		if err != nil {
			return "", err
		}
		if root, err = r.put(root, strings.Split(clean, "/"), blob); err != nil {
			return "", fmt.Errorf("writing %s: %w", clean, err)
		}
		changed++
	}
	if changed == 0 {
		return "", ErrNoChange
	}
	sig := r.author
	sig.When = r.now()
	commit := &object.Commit{Author: sig, Committer: sig, Message: c.Message, TreeHash: root, ParentHashes: []plumbing.Hash{head.Hash}}
	if r.signKey != nil {
		unsigned := &plumbing.MemoryObject{}
		if err := commit.EncodeWithoutSignature(unsigned); err != nil {
			return "", err
		}
		rd, err := unsigned.Reader()
		if err != nil {
			return "", err
		}
		var sigBuf bytes.Buffer
		if err := openpgp.ArmoredDetachSign(&sigBuf, r.signKey, rd, nil); err != nil {
			return "", fmt.Errorf("signing the commit: %w", err)
		}
		commit.PGPSignature = sigBuf.String()
	}
	hash, err := r.encode(commit)
	if err != nil {
		return "", fmt.Errorf("committing: %w", err)
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(r.branchRef(), hash)); err != nil {
		return "", err
	}
	return hash.String(), nil
}

// store writes an object of type t and returns its hash.
func (r *Repo) store(t plumbing.ObjectType, write func(io.Writer) error) (plumbing.Hash, error) {
	obj := r.repo.Storer.NewEncodedObject()
	obj.SetType(t)
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if err := write(w); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

// put returns the hash of the tree at treeHash (zero: empty) with the file
// at parts set to blob, writing the trees along the path.
func (r *Repo) put(treeHash plumbing.Hash, parts []string, blob plumbing.Hash) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !treeHash.IsZero() {
		t, err := r.repo.TreeObject(treeHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		entries = slices.Clone(t.Entries)
	}
	i := slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == parts[0] })
	e := object.TreeEntry{Name: parts[0], Mode: filemode.Regular, Hash: blob}
	if len(parts) > 1 {
		sub := plumbing.ZeroHash
		if i >= 0 && entries[i].Mode == filemode.Dir {
			sub = entries[i].Hash
		}
		h, err := r.put(sub, parts[1:], blob)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e = object.TreeEntry{Name: parts[0], Mode: filemode.Dir, Hash: h}
	} else if i >= 0 && entries[i].Mode.IsFile() {
		e.Mode = entries[i].Mode // an executable stays executable
	}
	if i >= 0 {
		entries[i] = e
	} else {
		entries = append(entries, e)
	}
	// Git's order: by name, a tree's name as if it ended in "/".
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(entries, func(a, b int) bool { return key(entries[a]) < key(entries[b]) })
	return r.encode(&object.Tree{Entries: entries})
}

// encode stores a commit or a tree and returns its hash.
func (r *Repo) encode(o interface {
	Encode(plumbing.EncodedObject) error
}) (plumbing.Hash, error) {
	obj := r.repo.Storer.NewEncodedObject()
	if err := o.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.repo.Storer.SetEncodedObject(obj)
}

func (r *Repo) push(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	spec := gitconfig.RefSpec(r.branchRef().String() + ":" + r.branchRef().String())
	err := r.repo.PushContext(ctx, &git.PushOptions{RemoteName: "origin", Auth: r.auth, RefSpecs: []gitconfig.RefSpec{spec}})
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
		// The remote's branch is our commit now: say so, so the next fetch
		// finds nothing new. (A shallow fetch of a commit not yet known
		// here downloads its whole tree again.)
		local, err := r.repo.Reference(r.branchRef(), true)
		if err != nil {
			return err
		}
		return r.repo.Storer.SetReference(plumbing.NewHashReference(r.remoteRef(), local.Hash()))
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

// treeFiles reads a commit's tree from the object store.
type treeFiles struct {
	repo   *git.Repository
	all    []entry // sorted by path
	byPath map[string]plumbing.Hash
}

func (f treeFiles) Read(p string) ([]byte, error) {
	h, ok := f.byPath[path.Clean(p)]
	if !ok {
		return nil, fmt.Errorf("%s: %w", p, os.ErrNotExist)
	}
	blob, err := f.repo.BlobObject(h)
	if err != nil {
		return nil, err
	}
	rd, err := blob.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func (f treeFiles) List(dir string) ([]string, error) {
	dir = path.Clean(dir)
	var out []string
	for _, e := range f.all {
		if dir == "." || strings.HasPrefix(e.path, dir+"/") {
			out = append(out, e.path)
		}
	}
	return out, nil
}

// Version is the file's blob hash: the same for the same content.
func (f treeFiles) Version(p string) (string, bool) {
	h, ok := f.byPath[path.Clean(p)]
	return h.String(), ok
}
