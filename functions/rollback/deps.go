package rollback

import (
	"context"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// Cluster reads and patches Knative Services; *kservice.Client is the real one.
type Cluster interface {
	Get(ctx context.Context, namespace, name string) (*servingv1.Service, error)
	GetRevision(ctx context.Context, namespace, name string) (kservice.Revision, error)
	Patch(ctx context.Context, svc *servingv1.Service, ch kservice.Change) (*servingv1.Service, error)
	Record(ctx context.Context, svc *servingv1.Service, controller string, ev kservice.Event, now time.Time) error
}

// Sender delivers rollout.rolledback to the broker; *host.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}
