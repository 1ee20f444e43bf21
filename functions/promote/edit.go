package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/yamlpatch"
	"github.com/slipstream-cd/slipstream/policy"
)

// trafficEntry renders a traffic target with its keys in the usual order,
// latestRevision written as Knative's webhook defaults it (see
// writeKnativeDefaults).
type trafficEntry struct {
	RevisionName   string `yaml:"revisionName"`
	Percent        int    `yaml:"percent"`
	Tag            string `yaml:"tag,omitempty"`
	LatestRevision bool   `yaml:"latestRevision"`
}

// apply edits the files of one Service (its manifest, and its kustomization
// when that sets the image) and returns them; the Service must still pass
// Knative's validation.
func apply(files map[string][]byte, s service, d desired) (map[string][]byte, error) {
	out := map[string][]byte{}
	f, err := yamlpatch.Parse(files[s.Path])
	if err != nil {
		return nil, fmt.Errorf("%s: %v", s.Path, err)
	}
	doc := f.Docs()[s.Doc]
	rewriteTraffic := d.Traffic != nil && !sameTraffic(s, d.Traffic)
	quarantine, setQuarantine := policy.AddQuarantine(s.Annotations[policy.AnnotationQuarantine], d.Quarantine)
	setQuarantine = setQuarantine && d.Quarantine != ""
	if d.Unquarantine != "" {
		quarantine, setQuarantine = policy.RemoveQuarantine(s.Annotations[policy.AnnotationQuarantine], d.Unquarantine)
	}
	if d.Restore == nil && !(d.Image != "" && d.Image != s.Image) && !(d.Template != "" && d.Template != s.Template) && !rewriteTraffic &&
		!(d.State != nil && d.State.String() != s.Annotations[policy.AnnotationRollout]) && !setQuarantine {
		return out, nil // nothing to change: Knative's defaults wait for a real edit
	}
	// First, so that what it adds at the end of the template comes before
	// anything the edits below add there.
	if err := writeKnativeDefaults(f, doc, d.Restore != nil, rewriteTraffic); err != nil {
		return nil, err
	}
	if d.Image != "" && d.Image != s.Image && s.Kustomization != "" {
		k, err := setKustomizeImage(files[s.Kustomization], s.ImageName, d.Image)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", s.Kustomization, err)
		}
		out[s.Kustomization] = k
	}
	if d.Restore != nil {
		if err := restoreTemplate(f, doc, s, *d.Restore); err != nil {
			return nil, err
		}
	} else {
		if d.Image != "" && d.Image != s.Image && s.Kustomization == "" {
			_, containers := yamlpatch.Lookup(doc, "spec", "template", "spec", "containers")
			_, img := yamlpatch.Lookup(containers.Content[0], "image")
			if err := f.SetScalar(img, d.Image); err != nil {
				return nil, err
			}
		}
		if d.Template != "" && d.Template != s.Template {
			if err := setKey(f, doc, d.Template, "spec", "template", "metadata", "name"); err != nil {
				return nil, err
			}
		}
	}
	if rewriteTraffic {
		entries := make([]any, 0, len(d.Traffic)+len(s.Kept))
		for _, t := range d.Traffic {
			entries = append(entries, trafficEntry{RevisionName: t.RevisionName, Percent: t.Percent, Tag: t.Tag})
		}
		k, v := yamlpatch.Lookup(doc, "spec", "traffic")
		for _, i := range s.Kept {
			entries = append(entries, v.Content[i]) // someone else's route, as written
		}
		if k != nil {
			err = f.SetBlock(k, v, entries)
		} else {
			_, spec := yamlpatch.Lookup(doc, "spec")
			err = f.Insert(spec, "traffic", entries)
		}
		if err != nil {
			return nil, err
		}
	}
	if d.State != nil && d.State.String() != s.Annotations[policy.AnnotationRollout] {
		if err := setKey(f, doc, d.State.String(), "metadata", "annotations", policy.AnnotationRollout); err != nil {
			return nil, err
		}
	}
	if setQuarantine {
		if err := setKey(f, doc, quarantine, "metadata", "annotations", policy.AnnotationQuarantine); err != nil {
			return nil, err
		}
	}
	b, err := f.Bytes()
	if err != nil {
		return nil, err
	}
	if err := validate(b, s.Doc); err != nil {
		return nil, err
	}
	out[s.Path] = b
	return out, nil
}

// restoreTemplate writes t as the Service's whole spec.template. With a
// kustomization setting the image, the first container keeps the image
// reference the manifest names (the kustomization is pointed at t's).
func restoreTemplate(f *yamlpatch.File, doc *yaml.Node, s service, t servingv1.RevisionTemplateSpec) error {
	if s.Kustomization != "" && len(t.Spec.Containers) > 0 {
		var current struct {
			Spec struct {
				Containers []struct {
					Image string `json:"image"`
				} `json:"containers"`
			} `json:"spec"`
		}
		if err := json.Unmarshal(s.TemplateJSON, &current); err == nil && len(current.Spec.Containers) > 0 {
			t.Spec.Containers[0].Image = current.Spec.Containers[0].Image
		}
	}
	v, err := asJSON(t)
	if err != nil {
		return err
	}
	if m, ok := v.(map[string]any); ok {
		if meta, ok := m["metadata"].(map[string]any); ok {
			delete(meta, "creationTimestamp") // ObjectMeta's null, not part of a template
		}
	}
	k, node := yamlpatch.Lookup(doc, "spec", "template")
	if k == nil {
		return fmt.Errorf("no spec.template to restore")
	}
	return f.SetBlock(k, node, v)
}

// setKey sets a scalar at a path of mappings, creating the missing ones.
func setKey(f *yamlpatch.File, doc *yaml.Node, value string, keys ...string) error {
	if _, v := yamlpatch.Lookup(doc, keys...); v != nil {
		return f.SetScalar(v, value)
	}
	// Find the deepest existing block mapping and insert the rest below it.
	for i := len(keys) - 1; i >= 0; i-- {
		parentKey, parent := yamlpatch.Lookup(doc, keys[:i]...)
		if i == 0 {
			parent = doc
		}
		if parent == nil {
			continue
		}
		var v any = value
		for j := len(keys) - 1; j > i; j-- {
			v = map[string]any{keys[j]: v}
		}
		if parent.Kind == yaml.MappingNode && len(parent.Content) > 0 && parent.Style&yaml.FlowStyle == 0 {
			return f.Insert(parent, keys[i], v)
		}
		if parentKey != nil {
			return f.SetBlock(parentKey, parent, map[string]any{keys[i]: v})
		}
		return fmt.Errorf("cannot add %s", strings.Join(keys, "."))
	}
	return fmt.Errorf("cannot add %s", strings.Join(keys, "."))
}

func sameTraffic(s service, want []eventing.TrafficTarget) bool {
	return !s.Latest && slices.Equal(s.Traffic, want)
}

// setKustomizeImage points a kustomization's images entry at image (tag and digest).
func setKustomizeImage(src []byte, imageName, image string) ([]byte, error) {
	f, err := yamlpatch.Parse(src)
	if err != nil {
		return nil, err
	}
	_, tag := splitImage(image)
	digest := digestOf(image)
	_, images := yamlpatch.Lookup(f.Docs()[0], "images")
	for _, entry := range images.Content {
		if _, n := yamlpatch.Lookup(entry, "name"); n == nil || n.Value != imageName {
			continue
		}
		for _, kv := range [][2]string{{"newTag", tag}, {"digest", digest}} {
			if _, v := yamlpatch.Lookup(entry, kv[0]); v != nil {
				err = f.SetScalar(v, kv[1])
			} else {
				err = f.Insert(entry, kv[0], kv[1])
			}
			if err != nil {
				return nil, err
			}
		}
	}
	return f.Bytes()
}

// decodeService reads a YAML document as a Knative Service (through JSON,
// as the API server would).
func decodeService(doc *yaml.Node) (*servingv1.Service, error) {
	var obj map[string]any
	if err := doc.Decode(&obj); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var svc servingv1.Service
	if err := json.Unmarshal(raw, &svc); err != nil {
		return nil, fmt.Errorf("not a Knative Service: %v", err)
	}
	return &svc, nil
}

// validate runs Knative's own defaulting and validation, as its admission
// webhook would, on one document of a file. Warnings pass; errors refuse.
func validate(file []byte, doc int) error {
	f, err := yamlpatch.Parse(file)
	if err != nil {
		return fmt.Errorf("edited manifest does not parse: %v", err)
	}
	svc, err := decodeService(f.Docs()[doc])
	if err != nil {
		return err
	}
	ctx := context.Background()
	svc.SetDefaults(ctx)
	if fe := svc.Validate(ctx); fe != nil {
		if errs := fe.Filter(apis.ErrorLevel); errs != nil {
			return fmt.Errorf("Knative would refuse it: %v", errs)
		}
	}
	return nil
}
