package promote

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
)

// Repo commits edits to the config repository; *gitrepo.Repo is the real one.
type Repo interface {
	Update(ctx context.Context, edit gitrepo.Edit) (string, error)
}

// LiveReader reads, with a single get, which revision a Service serves in the
// cluster (adoption only); *kservice.Client is the real one. found is false
// when the cluster has no such Service.
type LiveReader interface {
	ServingRevision(ctx context.Context, namespace, name string) (revision, image string, found bool, err error)
}

// Sender delivers extra manifest.committed events when one event changed
// several Services; *host.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}
