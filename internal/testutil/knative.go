package testutil

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// ServiceOption changes a Service that Service builds.
type ServiceOption func(*servingv1.Service)

// Service builds a live Knative Service for tests, in the manner of
// knative's pkg/testing/v1: a name and namespace, reconciled (generation 1
// observed), then the options in order.
func Service(namespace, name string, opts ...ServiceOption) *servingv1.Service {
	s := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Generation: 1, Annotations: map[string]string{}}}
	s.Status.ObservedGeneration = 1
	for _, o := range opts {
		o(s)
	}
	return s
}

// WithAnnotation sets an annotation.
func WithAnnotation(key, value string) ServiceOption {
	return func(s *servingv1.Service) { s.Annotations[key] = value }
}

// WithState sets the rollout state annotation (slipstream.dev/rollout).
func WithState(st policy.State) ServiceOption {
	return WithAnnotation(policy.AnnotationRollout, st.String())
}

// WithImage sets the image of the template's one container.
func WithImage(image string) ServiceOption {
	return func(s *servingv1.Service) { s.Spec.Template.Spec.Containers = []corev1.Container{{Image: image}} }
}

// WithTemplateName names the template's revision (spec.template.metadata.name).
func WithTemplateName(name string) ServiceOption {
	return func(s *servingv1.Service) { s.Spec.Template.Name = name }
}

// WithGeneration sets the generation and the generation Knative observed.
func WithGeneration(generation, observed int64) ServiceOption {
	return func(s *servingv1.Service) { s.Generation, s.Status.ObservedGeneration = generation, observed }
}

// WithResourceVersion sets the resourceVersion a patch is decided on.
func WithResourceVersion(v string) ServiceOption {
	return func(s *servingv1.Service) { s.ResourceVersion = v }
}

// WithLatest sets the latest created and latest ready revisions of the status.
func WithLatest(created, ready string) ServiceOption {
	return func(s *servingv1.Service) {
		s.Status.LatestCreatedRevisionName, s.Status.LatestReadyRevisionName = created, ready
	}
}

// WithRouted sets the Service's Ready, ConfigurationsReady and RoutesReady
// conditions True: Knative has programmed its route.
func WithRouted() ServiceOption {
	return WithConditions(corev1.ConditionTrue, "")
}

// WithConditions sets the Service's Ready, ConfigurationsReady and
// RoutesReady conditions to status, with reason.
func WithConditions(status corev1.ConditionStatus, reason string) ServiceOption {
	return func(s *servingv1.Service) {
		conds := apis.Conditions{}
		for _, c := range []apis.ConditionType{servingv1.ServiceConditionReady, servingv1.ServiceConditionConfigurationsReady, servingv1.ServiceConditionRoutesReady} {
			conds = append(conds, apis.Condition{Type: c, Status: status, Reason: reason})
		}
		s.Status.SetConditions(conds)
	}
}

// WithSpecTraffic sets spec.traffic, every target pinned by revision name.
func WithSpecTraffic(targets ...eventing.TrafficTarget) ServiceOption {
	return func(s *servingv1.Service) { s.Spec.Traffic = kservice.ToKnative(targets) }
}

// WithStatusTraffic sets status.traffic: what the route serves.
func WithStatusTraffic(targets ...eventing.TrafficTarget) ServiceOption {
	return func(s *servingv1.Service) { s.Status.Traffic = kservice.ToKnative(targets) }
}

// WithTraffic sets spec.traffic and a status.traffic that shows it.
func WithTraffic(targets ...eventing.TrafficTarget) ServiceOption {
	return func(s *servingv1.Service) {
		s.Spec.Traffic, s.Status.Traffic = kservice.ToKnative(targets), kservice.ToKnative(targets)
	}
}
