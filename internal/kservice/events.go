package kservice

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/clip"
)

// Event is a Kubernetes Event about a Knative Service: what `kubectl
// describe ksvc` and event exporters show of a rollout.
type Event struct {
	// Warning marks a rollback or a failed check; else the Event is Normal.
	Warning bool
	// Reason is CamelCase and short: StepShifted, StepLive, Promoted, …
	Reason string
	// Note says what happened, for people (cut at 1 KiB, the API's limit).
	Note string
	// Key makes the Event one: a repeat of a decision (same Key) records
	// nothing new.
	Key string
}

// EventKey is an Event's Key for one rollout: the reason, the candidate and
// when that rollout started (the same candidate rolled out again is another
// rollout, whose Events must not be taken for repeats), and what tells this
// Event from others of the rollout (a step, a check's time). rollout and
// rollback key a rollback alike, so it is recorded once.
func EventKey(reason, candidate string, started *time.Time, detail string) string {
	at := ""
	if started != nil {
		at = started.UTC().Format("20060102T150405.000000000")
	}
	return reason + "/" + candidate + "@" + at + "/" + detail
}

// maxNote is the events.k8s.io/v1 limit on an Event's note.
const maxNote = 1024

// Record creates ev about svc (events.k8s.io/v1) as reported by
// controller (slipstream.dev/<controller>). An Event already recorded (the
// same Service and Key) is not an error. With a client that does not talk
// to an apiserver (a fake clientset) it records nothing.
func (c *Client) Record(ctx context.Context, svc *servingv1.Service, controller string, ev Event, now time.Time) error {
	rc, ok := c.serving.ServingV1().RESTClient().(*rest.RESTClient)
	if !ok || rc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	body, err := json.Marshal(eventFor(svc, "slipstream.dev/"+controller, ev, now))
	if err != nil {
		return err
	}
	err = rc.Post().AbsPath("/apis/events.k8s.io/v1/namespaces", svc.Namespace, "events").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx).Error()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("recording %s on Service %s/%s: %w", ev.Reason, svc.Namespace, svc.Name, classify(err))
	}
	return nil
}

// eventFor is the Event object: named by the Service and the key, so a
// repeat is the same object.
func eventFor(svc *servingv1.Service, controller string, ev Event, now time.Time) *eventsv1.Event {
	sum := sha256.Sum256([]byte(svc.Namespace + "/" + svc.Name + "\n" + ev.Key))
	typ := corev1.EventTypeNormal
	if ev.Warning {
		typ = corev1.EventTypeWarning
	}
	return &eventsv1.Event{
		TypeMeta:            metav1.TypeMeta{APIVersion: "events.k8s.io/v1", Kind: "Event"},
		ObjectMeta:          metav1.ObjectMeta{Name: svc.Name + "." + hex.EncodeToString(sum[:8]), Namespace: svc.Namespace},
		EventTime:           metav1.NewMicroTime(now),
		ReportingController: controller,
		ReportingInstance:   reportingInstance(),
		Action:              ev.Reason,
		Reason:              ev.Reason,
		Type:                typ,
		Note:                clip.Bytes(ev.Note, maxNote),
		Regarding: corev1.ObjectReference{APIVersion: servingv1.SchemeGroupVersion.String(), Kind: "Service",
			Namespace: svc.Namespace, Name: svc.Name, UID: svc.UID, ResourceVersion: svc.ResourceVersion},
	}
}

// reportingInstance is the Events' reporting instance: this pod's name,
// read once.
var reportingInstance = sync.OnceValue(func() string {
	instance, _ := os.Hostname()
	if instance == "" {
		instance = "unknown"
	}
	return clip.Bytes(instance, 128)
})
