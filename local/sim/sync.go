package sim

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"gopkg.in/yaml.v3"
)

// Sync applies the Knative Services committed under a folder of a local
// bare repository to a Cluster, as Argo CD does with automated sync and
// selfHeal: every Once applies the head commit's manifests with kubectl's
// client-side apply (Cluster.Apply), so a new commit is applied, and so is
// any drift of the live objects from Git — at once (Argo CD waits its
// self-heal timeout first; this is the harsher case). Differences at the
// Ignore pointers do not count, as Argo CD's ignoreDifferences.
type Sync struct {
	// Ignore lists JSON pointers whose differences do not count (see Cluster.Apply).
	Ignore []string

	bare    string
	dir     string
	cluster *Cluster
}

// NewSync watches branch main of the bare repository at path bare, folder dir.
func NewSync(bare, dir string, c *Cluster) *Sync { return &Sync{bare: bare, dir: dir, cluster: c} }

// Once applies the head commit's manifests; it returns the head's hash.
// An apply the cluster refuses is an error naming the file, as a sync
// failure is in Argo CD; the other files are applied all the same.
func (s *Sync) Once(ctx context.Context) (string, error) {
	repo, err := git.PlainOpen(s.bare)
	if err != nil {
		return "", err
	}
	ref, err := repo.Reference("refs/heads/main", true)
	if err != nil {
		return "", err
	}
	head := ref.Hash().String()
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return "", err
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", err
	}
	var errs []error
	err = tree.Files().ForEach(func(f *object.File) error {
		if !strings.HasPrefix(f.Name, s.dir+"/") || (path.Ext(f.Name) != ".yaml" && path.Ext(f.Name) != ".yml") {
			return nil
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		if err := s.apply(ctx, f.Name, content); err != nil {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return head, errors.Join(errs...)
}

func (s *Sync) apply(ctx context.Context, file, content string) error {
	dec := yaml.NewDecoder(strings.NewReader(content))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return nil // end of the stream (or a file that is not YAML: skipped, as a GitOps tool reports and goes on)
		}
		if doc["kind"] != "Service" || doc["apiVersion"] != "serving.knative.dev/v1" {
			continue
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if _, err := s.cluster.Apply(ctx, raw, s.Ignore...); err != nil {
			return fmt.Errorf("applying a Service from %s: %w", file, err)
		}
	}
}
