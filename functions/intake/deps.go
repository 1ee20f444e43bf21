package intake

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Sender delivers an event to the sink; *host.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}

// DigestResolver looks up the digest a tag points at; *registry.Resolver is
// the real one.
type DigestResolver interface {
	Resolve(ctx context.Context, ref name.Tag) (v1.Descriptor, error)
}
