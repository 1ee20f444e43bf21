package sim

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"gopkg.in/yaml.v3"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// Sync applies the Knative Services committed under a folder of a local
// bare repository to a Cluster, as Argo CD or Flux would.
type Sync struct {
	bare    string
	dir     string
	cluster *Cluster
	last    string
}

// NewSync watches branch main of the bare repository at path bare, folder dir.
func NewSync(bare, dir string, c *Cluster) *Sync { return &Sync{bare: bare, dir: dir, cluster: c} }

// Once applies the head commit if it is new; it returns the head's hash.
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
	if head == s.last {
		return head, nil
	}
	commit, err := repo.CommitObject(ref.Hash())
	if err != nil {
		return "", err
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", err
	}
	err = tree.Files().ForEach(func(f *object.File) error {
		if !strings.HasPrefix(f.Name, s.dir+"/") || (path.Ext(f.Name) != ".yaml" && path.Ext(f.Name) != ".yml") {
			return nil
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		return s.apply(ctx, f.Name, content)
	})
	if err != nil {
		return "", err
	}
	s.last = head
	return head, nil
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
		raw, _ := yaml.Marshal(doc)
		var svc servingv1.Service
		if err := sigsyaml.Unmarshal(raw, &svc); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if svc.Namespace == "" {
			svc.Namespace = "default"
		}
		if err := s.cluster.Apply(ctx, &svc); err != nil {
			return fmt.Errorf("applying %s/%s from %s: %w", svc.Namespace, svc.Name, file, err)
		}
	}
}
