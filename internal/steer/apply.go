package steer

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
)

// maxConflicts bounds how often Apply decides again after the Service
// changed under it (rollout writes its state at every step).
const maxConflicts = 5

// Apply reads the Service, decides cmd and patches what it sets, bound to
// the rollout it first read: a conflict is decided again only while the
// same rollout is in progress. It returns the action taken; Changes is
// false when the Service already said what cmd asks.
func Apply(ctx context.Context, serving servingclient.Interface, namespace, name string, cmd Command, reason string) (Action, error) {
	services := serving.ServingV1().Services(namespace)
	var bound *Rollout
	for attempt := 1; ; attempt++ {
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Action{}, err
		}
		_, r, _ := Of(svc)
		switch {
		case bound == nil:
			bound = &r
		case r != *bound:
			return Action{}, fmt.Errorf("%w: %s/%s: the rollout changed while %s was being set (candidate %s, now %s): nothing set; look again (slipstream status %s)",
				ErrRefused, namespace, name, cmd, orNone(bound.Candidate), orNone(r.Candidate), name)
		}
		a, err := Decide(cmd, svc, reason)
		if err != nil || !a.Changes() {
			return a, err
		}
		_, err = services.Patch(ctx, name, types.MergePatchType, Patch(a, svc.ResourceVersion), metav1.PatchOptions{FieldManager: "slipstream-cli"})
		if err == nil {
			return a, nil
		}
		if !apierrors.IsConflict(err) || attempt == maxConflicts {
			return Action{}, err
		}
	}
}

// Patch is the merge patch of an action, valid only on the resourceVersion
// it was decided from.
func Patch(a Action, resourceVersion string) []byte {
	ann := map[string]any{}
	for k, v := range a.Set {
		ann[k] = v
	}
	for _, k := range a.Remove {
		ann[k] = nil
	}
	b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": resourceVersion, "annotations": ann}})
	return b
}
