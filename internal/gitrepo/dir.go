package gitrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// Dir is the files of a working tree on disk — a person's clone of the
// config repository — as Files, so the edits promote makes can be made
// there (slipstream unquarantine, retry). Paths are slash-separated and
// relative to the root; the .git folder, symbolic links and anything that
// is not a regular file are not listed, and a path that leaves the root is
// refused.
type Dir string

func (d Dir) local(p string) (string, error) {
	if p == "." {
		return string(d), nil
	}
	if !filepath.IsLocal(filepath.FromSlash(p)) {
		return "", fmt.Errorf("%q is not a path inside the repository: %w", p, os.ErrNotExist)
	}
	return filepath.Join(string(d), filepath.FromSlash(p)), nil
}

// Read returns a regular file's content.
func (d Dir) Read(p string) ([]byte, error) {
	full, err := d.local(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(full)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file: %w", p, os.ErrNotExist)
	}
	return os.ReadFile(full)
}

// List returns the regular files under dir, sorted.
func (d Dir) List(dir string) ([]string, error) {
	root, err := d.local(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case e.IsDir() && e.Name() == ".git":
			return filepath.SkipDir
		case !e.Type().IsRegular():
			return nil
		}
		rel, err := filepath.Rel(string(d), p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	sort.Strings(out)
	return out, err
}

// Version is the SHA-256 of a file's content.
func (d Dir) Version(p string) (string, bool) {
	b, err := d.Read(p)
	if err != nil {
		return "", false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), true
}

// Write writes a change's files into the working tree (its commit is the
// caller's); each must already be a path inside the root.
func (d Dir) Write(files map[string][]byte) error {
	for p, b := range files {
		full, err := d.local(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if fi, err := os.Lstat(full); err == nil {
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("%s is not a regular file", path.Clean(p))
			}
			mode = fi.Mode().Perm()
		}
		if err := os.WriteFile(full, b, mode); err != nil {
			return err
		}
	}
	return nil
}
