package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/yamlpatch"
	"github.com/slipstream-cd/slipstream/policy"
)

// templateJSON is a Service document's spec.template as JSON.
func templateJSON(doc *yaml.Node) ([]byte, error) {
	_, node := yamlpatch.Lookup(doc, "spec", "template")
	var t any
	if node != nil {
		if err := node.Decode(&t); err != nil {
			return nil, fmt.Errorf("spec.template: %v", err)
		}
	}
	if t == nil {
		t = map[string]any{}
	}
	return json.Marshal(t)
}

// revisionFor names the revision of s's template with image in its first
// container (policy.RevisionName).
func revisionFor(s service, image string) (string, error) {
	identity, err := templateIdentity(s.TemplateJSON, image)
	if err != nil {
		return "", err
	}
	return policy.RevisionName(s.Name, identity)
}

// templateIdentity is what names a revision: the template with image in its
// first container, as Knative's webhook defaults it (so writing Knative's
// defaults into Git does not rename it), without its own name, and every
// image pinned by digest reduced to repository@digest (so the same digest
// under another tag is the same revision).
func templateIdentity(raw []byte, image string) ([]byte, error) {
	var t servingv1.RevisionTemplateSpec
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("spec.template: %v", err)
	}
	if len(t.Spec.Containers) == 0 {
		return nil, fmt.Errorf("spec.template has no container")
	}
	t.Spec.Containers[0].Image = image
	t.Name, t.GenerateName = "", ""
	t.SetDefaults(context.Background())
	for _, cs := range [][]corev1.Container{t.Spec.Containers, t.Spec.InitContainers} {
		for i := range cs {
			cs[i].Image = byDigest(cs[i].Image)
		}
	}
	return json.Marshal(t)
}

// byDigest drops the tag of an image reference pinned by digest.
func byDigest(image string) string {
	name, digest, ok := strings.Cut(image, "@")
	if !ok {
		return image
	}
	repo, _ := splitImage(name)
	return repo + "@" + digest
}
