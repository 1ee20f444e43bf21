package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/jsonmergepatch"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned/typed/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// Apply applies one Knative Service manifest (YAML or JSON) the way
// `kubectl apply` does — client-side, as Argo CD applies by default: the
// manifest becomes the last-applied-configuration annotation, and the
// change sent is the three-way JSON merge patch between the last applied
// manifest, this one and the live object. For a custom resource that patch
// replaces lists whole, so a containers list that lacks what Knative's
// webhook defaulted replaces the live one. It reports whether anything was
// sent; an object that already matches sends nothing.
//
// ignore lists JSON pointers (such as /spec/traffic) whose differences do
// not count, as Argo CD's ignoreDifferences: when they are all that differs
// nothing is sent; when anything else differs the whole manifest is applied,
// ignored fields included (Argo CD without RespectIgnoreDifferences).
func (c *Cluster) Apply(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	return ClientSideApply{c.Serving.ServingV1()}.Apply(ctx, manifest, ignore...)
}

// OutOfSync reports whether applying manifest would change the live object
// at anything but the ignore pointers: Argo CD's OutOfSync status.
func (c *Cluster) OutOfSync(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	return ClientSideApply{c.Serving.ServingV1()}.OutOfSync(ctx, manifest, ignore...)
}

// Applier applies manifests as a GitOps tool does: Sync's view of a cluster.
type Applier interface {
	// Apply applies one manifest and reports whether anything was sent;
	// when only the ignore pointers differ, nothing is.
	Apply(ctx context.Context, manifest []byte, ignore ...string) (bool, error)
	// OutOfSync reports whether applying manifest would change the live
	// object at anything but the ignore pointers.
	OutOfSync(ctx context.Context, manifest []byte, ignore ...string) (bool, error)
}

// ClientSideApply is `kubectl apply` (see Cluster.Apply) against any
// Knative Serving clientset, the simulated one or a real apiserver's.
type ClientSideApply struct {
	Services servingclient.ServicesGetter
}

// Apply is Cluster.Apply against a.Services.
func (a ClientSideApply) Apply(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	p, err := a.prepare(ctx, manifest)
	if err != nil {
		return false, err
	}
	if drifted, err := p.differs(ignore); err != nil || !drifted {
		return false, err
	}
	if err := p.send(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// OutOfSync is Cluster.OutOfSync against a.Services.
func (a ClientSideApply) OutOfSync(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	p, err := a.prepare(ctx, manifest)
	if err != nil {
		return false, err
	}
	return p.differs(ignore)
}

// apply is one prepared client-side apply: a create, or a patch.
type apply struct {
	svcs     servingclient.ServiceInterface
	name     string
	modified []byte // the manifest with its last-applied annotation
	create   bool
	patch    []byte // the three-way merge patch, when not create
}

// prepare computes what applying manifest sends.
func (a ClientSideApply) prepare(ctx context.Context, manifest []byte) (*apply, error) {
	modified, err := sigsyaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(modified, &obj); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil {
		return nil, fmt.Errorf("manifest has no metadata")
	}
	name, _ := meta["name"].(string)
	namespace, _ := meta["namespace"].(string)
	if namespace == "" {
		namespace = "default"
		meta["namespace"] = namespace
	}
	// kubectl records the manifest, without the annotation itself.
	annotations, _ := meta["annotations"].(map[string]any)
	if annotations == nil {
		annotations = map[string]any{}
	}
	delete(annotations, corev1.LastAppliedConfigAnnotation)
	if len(annotations) == 0 {
		delete(meta, "annotations")
	}
	lastApplied, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	annotations[corev1.LastAppliedConfigAnnotation] = string(lastApplied)
	meta["annotations"] = annotations
	if modified, err = json.Marshal(obj); err != nil {
		return nil, err
	}

	p := &apply{svcs: a.Services.Services(namespace), name: name, modified: modified}
	live, err := p.svcs.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		p.create = true
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	current, err := json.Marshal(live)
	if err != nil {
		return nil, err
	}
	if p.patch, err = jsonmergepatch.CreateThreeWayJSONMergePatch([]byte(live.Annotations[corev1.LastAppliedConfigAnnotation]), modified, current); err != nil {
		return nil, fmt.Errorf("computing the apply patch: %w", err)
	}
	return p, nil
}

// differs reports whether the apply changes anything but the ignore pointers.
func (a *apply) differs(ignore []string) (bool, error) {
	if a.create {
		return true, nil
	}
	return differs(a.patch, ignore)
}

// send creates or patches the live object.
func (a *apply) send(ctx context.Context) error {
	if a.create {
		var svc servingv1.Service
		if err := json.Unmarshal(a.modified, &svc); err != nil {
			return fmt.Errorf("manifest: %w", err)
		}
		_, err := a.svcs.Create(ctx, &svc, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
		return err
	}
	_, err := a.svcs.Patch(ctx, a.name, types.MergePatchType, a.patch, metav1.PatchOptions{FieldManager: "kubectl-client-side-apply"})
	return err
}

// differs reports whether a merge patch changes anything but the ignored
// paths and kubectl's own last-applied annotation (which a GitOps tool does
// not compare).
func differs(patch []byte, ignore []string) (bool, error) {
	var p map[string]any
	if err := json.Unmarshal(patch, &p); err != nil {
		return false, err
	}
	for _, ptr := range append([]string{"/metadata/annotations/" + strings.ReplaceAll(corev1.LastAppliedConfigAnnotation, "/", "~1")}, ignore...) {
		removePath(p, strings.Split(strings.TrimPrefix(ptr, "/"), "/"))
	}
	return len(p) > 0, nil
}

// removePath deletes a JSON pointer's path from m, and the mappings it leaves empty.
func removePath(m map[string]any, path []string) {
	key := strings.ReplaceAll(strings.ReplaceAll(path[0], "~1", "/"), "~0", "~")
	if len(path) == 1 {
		delete(m, key)
		return
	}
	child, ok := m[key].(map[string]any)
	if !ok {
		return
	}
	removePath(child, path[1:])
	if len(child) == 0 {
		delete(m, key)
	}
}
