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
// bare repository to a cluster, as an Argo CD Application with automated
// sync and selfHeal: every Once compares the head commit's manifests with
// the live objects, and when any is OutOfSync it syncs — at once (Argo CD
// waits its self-heal timeout first; this is the harsher case). A sync
// applies every object of the application with its Applier — kubectl's
// client-side apply (Cluster.Apply, ClientSideApply) as Argo CD does, or
// Flux's server-side apply (ServerSideApply) — or only the OutOfSync ones
// with ApplyOutOfSyncOnly. Once is not safe for concurrent use: one loop
// calls it. Differences at the Ignore pointers do not make an
// object OutOfSync (ignoreDifferences), but an object that is applied is
// applied whole, ignored fields included (no RespectIgnoreDifferences).
type Sync struct {
	// Ignore lists JSON pointers whose differences do not count (see Cluster.Apply).
	Ignore []string
	// ApplyOutOfSyncOnly is Argo CD's sync option of that name.
	ApplyOutOfSyncOnly bool

	bare    string
	dir     string
	cluster Applier
	// repo is the bare repository, opened on the first pass: its refs and
	// objects are read from disk on each lookup, so pushes since are seen.
	repo *git.Repository

	// The objects of the head last read: a pass whose head has not moved
	// compares them with the cluster again without reading the tree again.
	head    string
	objects []appObject
}

// NewSync watches branch main of the bare repository at path bare, folder
// dir, and applies to c: a simulated Cluster, or a real apiserver through
// ClientSideApply (Argo CD) or ServerSideApply (Flux).
func NewSync(bare, dir string, c Applier) *Sync { return &Sync{bare: bare, dir: dir, cluster: c} }

// appObject is one Service manifest of the application.
type appObject struct {
	file     string
	manifest []byte
}

// Once syncs the head commit's manifests when any is OutOfSync; it returns
// the head's hash. An apply the cluster refuses is an error naming the
// file, as a sync failure is in Argo CD; the other objects are applied all
// the same.
func (s *Sync) Once(ctx context.Context) (string, error) {
	head, objects, err := s.read()
	if err != nil {
		return "", err
	}
	outOfSync := make([]bool, len(objects))
	syncing := false
	for i, o := range objects {
		if outOfSync[i], err = s.cluster.OutOfSync(ctx, o.manifest, s.Ignore...); err != nil {
			outOfSync[i] = true // applying it reports why
		}
		syncing = syncing || outOfSync[i]
	}
	if !syncing {
		return head, nil
	}
	var errs []error
	for i, o := range objects {
		if s.ApplyOutOfSyncOnly && !outOfSync[i] {
			continue
		}
		if _, err := s.cluster.Apply(ctx, o.manifest); err != nil {
			errs = append(errs, fmt.Errorf("applying a Service from %s: %w", o.file, err))
		}
	}
	return head, errors.Join(errs...)
}

// read returns the head commit's hash and the Knative Services under dir,
// reading the tree only when the head moved since the last pass.
func (s *Sync) read() (string, []appObject, error) {
	if s.repo == nil {
		repo, err := git.PlainOpen(s.bare)
		if err != nil {
			return "", nil, err
		}
		s.repo = repo
	}
	ref, err := s.repo.Reference("refs/heads/main", true)
	if err != nil {
		return "", nil, err
	}
	if ref.Hash().String() == s.head {
		return s.head, s.objects, nil
	}
	commit, err := s.repo.CommitObject(ref.Hash())
	if err != nil {
		return "", nil, err
	}
	tree, err := commit.Tree()
	if err != nil {
		return "", nil, err
	}
	var objects []appObject
	err = tree.Files().ForEach(func(f *object.File) error {
		if !strings.HasPrefix(f.Name, s.dir+"/") || (path.Ext(f.Name) != ".yaml" && path.Ext(f.Name) != ".yml") {
			return nil
		}
		content, err := f.Contents()
		if err != nil {
			return err
		}
		services, err := services(f.Name, content)
		objects = append(objects, services...)
		return err
	})
	if err != nil {
		return "", nil, err
	}
	s.head, s.objects = ref.Hash().String(), objects
	return s.head, objects, nil
}

// services are the Knative Services of one file.
func services(file, content string) ([]appObject, error) {
	var out []appObject
	dec := yaml.NewDecoder(strings.NewReader(content))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			return out, nil // end of the stream (or a file that is not YAML: skipped, as a GitOps tool reports and goes on)
		}
		if doc["kind"] != "Service" || doc["apiVersion"] != "serving.knative.dev/v1" {
			continue
		}
		raw, err := yaml.Marshal(doc)
		if err != nil {
			return out, fmt.Errorf("%s: %w", file, err)
		}
		out = append(out, appObject{file: file, manifest: raw})
	}
}
