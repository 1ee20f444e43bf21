package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	jsonpatch "github.com/evanphx/json-patch"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	clienttesting "k8s.io/client-go/testing"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/policy"
)

var servicesResource = servingv1.SchemeGroupVersion.WithResource("services")

// admit is Knative's admission webhooks for one write of a Service: the
// defaulting webhook (SetDefaults), then the validation webhook (Validate),
// both told whether this is a create or an update of old, as Knative's
// webhooks tell them. On an update that keeps the template's name, Knative
// skips defaulting the template and refuses any change of it (a BYO
// revision name names one template) — what a GitOps apply of a template
// that lacks Knative's defaults runs into. It returns the object to store.
func admit(svc, old *servingv1.Service) (*servingv1.Service, error) {
	out := svc.DeepCopy()
	ctx := apis.WithinCreate(context.Background())
	if old != nil {
		ctx = apis.WithinUpdate(context.Background(), old)
	}
	out.SetDefaults(ctx)
	if fe := out.Validate(ctx); fe != nil {
		if errs := fe.Filter(apis.ErrorLevel); errs != nil {
			return nil, fmt.Errorf(`admission webhook "validation.webhook.serving.knative.dev" denied the request: validation failed: %v`, errs)
		}
	}
	if old != nil {
		if err := rollbackSticks(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rollbackSticks is the admission policy infra/policy/rollback-sticks.yaml
// installs, which docs/gitops.md recommends with the git writer: an update
// that gives traffic to the revision the slipstream.dev/rollback record
// rolled back, while slipstream.dev/rollout still describes that rollout
// (policy.State.RollsBack), is refused — an apply of Git from before the
// rollback. The policy matches the same rule in CEL; e2e checks it there.
func rollbackSticks(svc *servingv1.Service) error {
	record, err := policy.ParseState(svc.Annotations[policy.AnnotationRollback])
	if err != nil {
		return nil
	}
	st, err := policy.ParseState(svc.Annotations[policy.AnnotationRollout])
	if err != nil || !record.RollsBack(st) {
		return nil
	}
	for _, t := range svc.Spec.Traffic {
		if t.RevisionName == record.Candidate && t.Percent != nil && *t.Percent > 0 {
			return fmt.Errorf(`ValidatingAdmissionPolicy "slipstream-rollback-sticks" denied request: slipstream rolled back %s in this rollout; refusing traffic to it (an apply of Git from before the rollback?). promote is committing the revert.`, record.Candidate)
		}
	}
	return nil
}

// stored is the Service as stored, or nil.
func (c *Cluster) stored(namespace, name string) *servingv1.Service {
	obj, err := c.Serving.Tracker().Get(servicesResource, namespace, name)
	if err != nil {
		return nil
	}
	svc, _ := obj.(*servingv1.Service)
	return svc
}

// write is the API server's side of every create, update and patch of a
// Service (the main resource behind Knative's webhooks, or the status
// subresource as it is): optimistic concurrency on resourceVersion, a new
// resourceVersion per write, and a generation that counts spec changes.
// JSON merge patches replace lists whole, as they do for custom resources.
func (c *Cluster) write(a clienttesting.Action) (bool, runtime.Object, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var in *servingv1.Service
	var old *servingv1.Service
	switch act := a.(type) {
	case clienttesting.PatchAction:
		if old = c.stored(act.GetNamespace(), act.GetName()); old == nil {
			return true, nil, apierrors.NewNotFound(servicesResource.GroupResource(), act.GetName())
		}
		raw, err := json.Marshal(old)
		if err != nil {
			return true, nil, err
		}
		patched, err := jsonpatch.MergePatch(raw, act.GetPatch())
		if err != nil {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("invalid patch: %v", err))
		}
		in = &servingv1.Service{}
		if err := json.Unmarshal(patched, in); err != nil {
			return true, nil, apierrors.NewBadRequest(err.Error())
		}
	case clienttesting.CreateAction: // an UpdateAction is one too: told apart by the verb
		svc, ok := act.GetObject().(*servingv1.Service)
		if !ok {
			return false, nil, nil
		}
		in = svc
		old = c.stored(svc.Namespace, svc.Name)
		switch {
		case a.GetVerb() == "create" && old != nil:
			return true, nil, apierrors.NewAlreadyExists(servicesResource.GroupResource(), svc.Name)
		case a.GetVerb() == "update" && old == nil:
			return true, nil, apierrors.NewNotFound(servicesResource.GroupResource(), svc.Name)
		}
	default:
		return false, nil, nil
	}
	if old != nil && in.ResourceVersion != "" && in.ResourceVersion != old.ResourceVersion {
		return true, nil, apierrors.NewConflict(servicesResource.GroupResource(), in.Name,
			fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	var out *servingv1.Service
	switch {
	case a.GetSubresource() == "status":
		out = old.DeepCopy()
		out.Status = in.Status
	default:
		admitted, err := admit(in, old)
		if err != nil {
			return true, nil, apierrors.NewBadRequest(err.Error())
		}
		out = admitted
		out.Generation = 1
		if old != nil {
			out.Status, out.Generation = old.Status, old.Generation
			if !equality.Semantic.DeepEqual(out.Spec, old.Spec) {
				out.Generation++
			}
		}
	}
	c.version++
	out.ResourceVersion = strconv.FormatInt(c.version, 10)
	// Stored as JSON, read back from JSON: what was an empty map is gone, as in etcd.
	raw, err := json.Marshal(out)
	if err != nil {
		return true, nil, err
	}
	out = &servingv1.Service{}
	if err := json.Unmarshal(raw, out); err != nil {
		return true, nil, err
	}
	if old == nil {
		err = c.Serving.Tracker().Create(servicesResource, out, out.Namespace)
	} else {
		err = c.Serving.Tracker().Update(servicesResource, out, out.Namespace)
	}
	if err != nil {
		return true, nil, err
	}
	return true, out.DeepCopy(), nil
}
