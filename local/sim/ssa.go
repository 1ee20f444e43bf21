package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned/typed/serving/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// FluxFieldManager is the field manager Flux's kustomize-controller applies with.
const FluxFieldManager = "kustomize-controller"

// ServerSideApply applies manifests as Flux's kustomize-controller does: a
// server-side apply of the whole manifest under FieldManager, forcing
// ownership of fields another manager set (Flux always forces), so every
// field Git holds — lists whole, since a Knative Service's schema has no
// merge keys — becomes Git's value. OutOfSync is Flux's drift check: a
// dry run of the same apply compared with the live object. It needs a real
// apiserver: the fake clientset has no server-side apply.
type ServerSideApply struct {
	Services     servingclient.ServicesGetter
	FieldManager string
}

// Apply applies manifest unless only the ignore pointers would change; it
// reports whether the live object changed.
func (a ServerSideApply) Apply(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	drifted, err := a.OutOfSync(ctx, manifest, ignore...)
	if err != nil || !drifted {
		return false, err
	}
	_, err = a.patch(ctx, manifest, false)
	return err == nil, err
}

// OutOfSync reports whether applying manifest would change the live object
// at anything but the ignore pointers (and the fields the server manages).
func (a ServerSideApply) OutOfSync(ctx context.Context, manifest []byte, ignore ...string) (bool, error) {
	after, err := a.patch(ctx, manifest, true)
	if err != nil {
		return false, err
	}
	live, err := a.Services.Services(after.Namespace).Get(ctx, after.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	x, err := comparable(after, ignore)
	if err != nil {
		return false, err
	}
	y, err := comparable(live, ignore)
	if err != nil {
		return false, err
	}
	return !reflect.DeepEqual(x, y), nil
}

// patch sends the server-side apply of manifest, as a dry run or for real.
func (a ServerSideApply) patch(ctx context.Context, manifest []byte, dryRun bool) (*servingv1.Service, error) {
	body, err := sigsyaml.YAMLToJSON(manifest)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var meta struct {
		Metadata struct{ Name, Namespace string } `json:"metadata"`
	}
	if err := json.Unmarshal(body, &meta); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	ns := meta.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: a.FieldManager, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return a.Services.Services(ns).Patch(ctx, meta.Metadata.Name, types.ApplyPatchType, body, opts)
}

// comparable is a Service as a map without what the server writes (status,
// versions, managed fields, timestamps) and the ignore pointers.
func comparable(svc *servingv1.Service, ignore []string) (map[string]any, error) {
	b, err := json.Marshal(svc)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for _, ptr := range append([]string{"/status", "/metadata/managedFields", "/metadata/resourceVersion",
		"/metadata/generation", "/metadata/creationTimestamp", "/metadata/uid"}, ignore...) {
		removePath(m, strings.Split(strings.TrimPrefix(ptr, "/"), "/"))
	}
	return m, nil
}
