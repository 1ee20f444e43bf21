package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/slipstream-cd/slipstream/internal/yamlpatch"
)

// writeKnativeDefaults writes into a Service's lists what Knative's
// defaulting webhook adds to them — each container's name, readiness probe
// and resources, each traffic target's latestRevision and percent — taking
// them from Knative's own SetDefaults with Knative's default config-defaults.
//
// Why: a GitOps apply (kubectl apply, server-side apply) replaces a custom
// resource's lists whole with Git's. On an update that keeps the template's
// revision name, Knative does not default the template and refuses any
// change of it; a containers list without the defaults is such a change.
// With the defaults in Git, the lists Git holds are the lists the cluster
// holds, so a commit that only moves traffic or records state applies.
// Keys already written are left as they are; skipTemplate and skipTraffic
// leave the template's lists and the traffic list alone (they are being
// rewritten whole, defaults included).
func writeKnativeDefaults(f *yamlpatch.File, doc *yaml.Node, skipTemplate, skipTraffic bool) error {
	svc, err := decodeService(doc)
	if err != nil {
		return err
	}
	defaulted := svc.DeepCopy()
	defaulted.SetDefaults(context.Background())

	type list struct {
		path []string
		want any
	}
	var lists []list
	if !skipTemplate {
		lists = append(lists, list{[]string{"spec", "template", "spec", "containers"}, defaulted.Spec.Template.Spec.Containers},
			list{[]string{"spec", "template", "spec", "initContainers"}, defaulted.Spec.Template.Spec.InitContainers})
	}
	if !skipTraffic && len(svc.Spec.Traffic) > 0 {
		lists = append(lists, list{[]string{"spec", "traffic"}, defaulted.Spec.Traffic})
	}
	for _, l := range lists {
		_, node := yamlpatch.Lookup(doc, l.path...)
		if node == nil {
			continue
		}
		want, err := asJSON(l.want)
		if err != nil {
			return err
		}
		if err := insertMissing(f, node, want); err != nil {
			return fmt.Errorf("writing Knative's defaults into %v: %v", l.path, err)
		}
	}
	return nil
}

// asJSON is v as generic JSON values.
func asJSON(v any) (any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(raw, &out)
}

// insertMissing adds to node every mapping key of want it lacks, going into
// mappings and into sequences of the same length.
func insertMissing(f *yamlpatch.File, node *yaml.Node, want any) error {
	switch w := want.(type) {
	case map[string]any:
		if node.Kind != yaml.MappingNode {
			return nil
		}
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if _, v := yamlpatch.Lookup(node, k); v != nil {
				if err := insertMissing(f, v, w[k]); err != nil {
					return err
				}
				continue
			}
			if err := f.Insert(node, k, w[k]); err != nil {
				return err
			}
		}
	case []any:
		if node.Kind != yaml.SequenceNode || len(node.Content) != len(w) {
			return nil
		}
		for i := range w {
			if err := insertMissing(f, node.Content[i], w[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
