package promote

import (
	"fmt"
	"path"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/yamlpatch"
	"github.com/slipstream-cd/slipstream/policy"
)

// service is one Knative Service manifest found in the repository.
type service struct {
	Path      string
	Doc       int // index of the document in the file
	Namespace string
	Name      string
	// Image is the effective image of the first container (after a kustomize images entry).
	Image string
	// ImageName is the image without tag or digest, as written in the manifest.
	ImageName string
	// Repository is ImageName normalised as registries name it (docker.io
	// is index.docker.io), read once with the file; "" when it is not one.
	Repository  string
	Annotations map[string]string
	Template    string // spec.template.metadata.name
	// TemplateJSON is spec.template as JSON, to name its revisions.
	TemplateJSON []byte
	Traffic      []eventing.TrafficTarget
	Latest       bool // a traffic target with a share follows the latest revision
	// Kept are the indexes of the traffic targets slipstream does not own
	// (policy.OwnsTarget): rewritten traffic keeps them as they are.
	Kept  []int
	State policy.State
	// Kustomization is the path of the kustomization.yaml whose images entry
	// sets Image, or "".
	Kustomization string
}

// manifestShape is what promote reads of a Knative Service.
type manifestShape struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Annotations map[string]string `yaml:"annotations"`
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
			Spec struct {
				Containers []struct {
					Image string `yaml:"image"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
		Traffic []struct {
			RevisionName   string `yaml:"revisionName"`
			Percent        *int   `yaml:"percent"`
			Tag            string `yaml:"tag"`
			LatestRevision *bool  `yaml:"latestRevision"`
		} `yaml:"traffic"`
	} `yaml:"spec"`
}

// kustomization is what promote reads of a kustomization.yaml.
type kustomization struct {
	Namespace string `yaml:"namespace"`
	Images    []struct {
		Name    string `yaml:"name"`
		NewName string `yaml:"newName"`
		NewTag  string `yaml:"newTag"`
		Digest  string `yaml:"digest"`
	} `yaml:"images"`
}

var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// readKustomization returns the kustomization of a folder, if it has one.
func readKustomization(files map[string][]byte, dir string) (string, *kustomization) {
	for _, n := range kustomizationNames {
		p := path.Join(dir, n)
		if b, ok := files[p]; ok {
			var k kustomization
			if yaml.Unmarshal(b, &k) == nil {
				return p, &k
			}
		}
	}
	return "", nil
}

// splitImage returns an image reference without tag and digest, and its tag.
func splitImage(ref string) (name, tag string) {
	name, _, _ = strings.Cut(ref, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		return name[:i], name[i+1:]
	}
	return name, ""
}

// findServices reads every Knative Service of every YAML file. Files that do
// not parse are reported in skipped and do not stop the others.
func findServices(files map[string][]byte) (services []service, skipped []skip) {
	for _, p := range sortedKeys(files) {
		s, k := servicesIn(files, p)
		services, skipped = append(services, s...), append(skipped, k...)
	}
	return services, skipped
}

// servicesIn reads the Knative Services of the file at p (of files, which
// has its folder's kustomization too, if any).
func servicesIn(files map[string][]byte, p string) (services []service, skipped []skip) {
	ext := path.Ext(p)
	if (ext != ".yaml" && ext != ".yml") || isKustomization(p) {
		return nil, nil
	}
	f, err := yamlpatch.Parse(files[p])
	if err != nil {
		if strings.Contains(string(files[p]), "serving.knative.dev") {
			skipped = append(skipped, skip{Subject: p, Reason: fmt.Sprintf("does not parse: %v", err)})
		}
		return nil, skipped
	}
	for i, doc := range f.Docs() {
		if doc == nil || doc.Kind != yaml.MappingNode {
			continue
		}
		var m manifestShape
		if err := doc.Decode(&m); err != nil {
			skipped = append(skipped, skip{Subject: fmt.Sprintf("%s (document %d)", p, i+1), Reason: err.Error()})
			continue
		}
		if m.Kind != "Service" || m.APIVersion != "serving.knative.dev/v1" {
			continue
		}
		// Only a managed Service is edited, so only its text must be safe to edit.
		if _, managed := m.Metadata.Annotations[policy.AnnotationTrack]; managed {
			if err := yamlpatch.Unsafe(doc); err != nil {
				skipped = append(skipped, skip{Subject: fmt.Sprintf("%s (document %d)", p, i+1),
					Reason: fmt.Sprintf("%v: promote edits manifests as text and cannot change this one safely; write it out plainly", err)})
				continue
			}
		}
		s, err := toService(files, p, i, m)
		if err == nil {
			s.TemplateJSON, err = templateJSON(doc)
		}
		if err != nil {
			skipped = append(skipped, skip{Subject: fmt.Sprintf("%s (document %d)", p, i+1), Reason: err.Error()})
			continue
		}
		services = append(services, s)
	}
	return services, skipped
}

func toService(files map[string][]byte, p string, doc int, m manifestShape) (service, error) {
	s := service{Path: p, Doc: doc, Name: m.Metadata.Name, Namespace: m.Metadata.Namespace, Annotations: m.Metadata.Annotations,
		Template: m.Spec.Template.Metadata.Name}
	if s.Name == "" {
		return s, fmt.Errorf("Knative Service without metadata.name")
	}
	if len(m.Spec.Template.Spec.Containers) == 0 || m.Spec.Template.Spec.Containers[0].Image == "" {
		return s, fmt.Errorf("Service %s has no container image", s.Name)
	}
	s.Image = m.Spec.Template.Spec.Containers[0].Image
	s.ImageName, _ = splitImage(s.Image)
	s.Repository = repositoryName(s.ImageName)
	kpath, k := readKustomization(files, path.Dir(p))
	if k != nil {
		if s.Namespace == "" {
			s.Namespace = k.Namespace
		}
		for _, img := range k.Images {
			if img.Name != s.ImageName {
				continue
			}
			name := img.Name
			if img.NewName != "" {
				name = img.NewName
			}
			s.Image = name
			if img.NewTag != "" {
				s.Image += ":" + img.NewTag
			}
			if img.Digest != "" {
				s.Image += "@" + img.Digest
			}
			s.Kustomization = kpath
		}
	}
	if s.Namespace == "" {
		s.Namespace = "default"
	}
	for i, t := range m.Spec.Traffic {
		pct := 0
		if t.Percent != nil {
			pct = *t.Percent
		}
		switch {
		case !policy.OwnsTarget(t.Tag, pct):
			s.Kept = append(s.Kept, i) // someone else's route: kept as written
		case t.LatestRevision != nil && *t.LatestRevision:
			s.Latest = true
		default:
			s.Traffic = append(s.Traffic, eventing.TrafficTarget{RevisionName: t.RevisionName, Percent: pct, Tag: t.Tag})
		}
	}
	st, err := policy.ParseState(s.Annotations[policy.AnnotationRollout])
	if err != nil {
		return s, err
	}
	s.State = st
	return s, nil
}

func isKustomization(p string) bool {
	base := path.Base(p)
	for _, n := range kustomizationNames {
		if base == n {
			return true
		}
	}
	return false
}

// pinnedStable returns the revision pinned as stable: traffic names every
// revision (nothing follows the latest) and one target is tagged stable.
func (s service) pinnedStable() string {
	if s.Latest {
		return ""
	}
	for _, t := range s.Traffic {
		if t.Tag == "stable" && t.RevisionName != "" {
			return t.RevisionName
		}
	}
	return ""
}

// policy parses the Service's delivery policy.
func (s service) policy() (policy.Policy, error) { return policy.Parse(s.Annotations) }

func (s service) key() string { return s.Namespace + "/" + s.Name }
