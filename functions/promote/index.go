package promote

import (
	"path"
	"sync"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
)

// index remembers what each file of the config repository holds — its
// content and the Services read from it — by the file's version (its blob
// hash) and its folder's kustomization's, so an event reads and parses only
// the files that changed since the last one: the cost of an event no longer
// grows with the size of the repository but with what changed in it.
type index struct {
	mu    sync.Mutex
	files map[string]indexed
}

type indexed struct {
	version, kustomization string
	content                []byte
	services               []service
	skipped                []skip
}

// scan returns the YAML files under paths (a snapshot edits start from) and
// the Services in them, reading and parsing only files whose version, or
// whose folder's kustomization's, is not the one indexed. Files no longer
// there leave the index.
func (x *index) scan(files gitrepo.Files, paths []string) (map[string][]byte, []service, []skip, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var list []string
	for _, dir := range paths {
		l, err := files.List(dir)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, f := range l {
			if ext := path.Ext(f); ext == ".yaml" || ext == ".yml" || path.Base(f) == "Kustomization" {
				list = append(list, f)
			}
		}
	}
	snapshot := make(map[string][]byte, len(list))
	versions := make(map[string]string, len(list))
	next := make(map[string]indexed, len(list))
	for _, f := range list {
		v, _ := files.Version(f)
		versions[f] = v
		if old, ok := x.files[f]; ok && old.version == v {
			snapshot[f] = old.content
			continue
		}
		b, err := files.Read(f)
		if err != nil {
			return nil, nil, nil, err
		}
		snapshot[f] = b
	}
	var services []service
	var skipped []skip
	for _, f := range sortedKeys(snapshot) {
		k := kustomizationVersion(versions, path.Dir(f))
		entry, ok := x.files[f]
		if !ok || entry.version != versions[f] || entry.kustomization != k {
			entry = indexed{version: versions[f], kustomization: k, content: snapshot[f]}
			entry.services, entry.skipped = servicesIn(snapshot, f)
		}
		next[f] = entry
		services, skipped = append(services, entry.services...), append(skipped, entry.skipped...)
	}
	x.files = next
	return snapshot, services, skipped, nil
}

// kustomizationVersion is the version of a folder's kustomization file, if
// it has one, as readKustomization would pick it.
func kustomizationVersion(versions map[string]string, dir string) string {
	for _, n := range kustomizationNames {
		if v, ok := versions[path.Join(dir, n)]; ok {
			return v
		}
	}
	return ""
}
