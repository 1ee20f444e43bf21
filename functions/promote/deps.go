package promote

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// Repo commits edits to the config repository; *gitrepo.Repo is the real one.
type Repo interface {
	Update(ctx context.Context, edit gitrepo.Edit) (string, error)
}

// LiveReader reads the cluster, with a single get each; *kservice.Client is
// the real one. Live: which revision a Service serves (adoption) and its
// live rollout state (a step or a promotion that arrives after a rollback
// in the cluster is not committed). RevisionTemplate: the template that
// made a revision (a rollback over a template a person changed, a name
// Knative gave); found is false when the cluster no longer has it.
type LiveReader interface {
	Live(ctx context.Context, namespace, name string) (kservice.Live, error)
	RevisionTemplate(ctx context.Context, namespace, service, revision string) (tmpl servingv1.RevisionTemplateSpec, found bool, err error)
}

// Sender delivers extra manifest.committed events when one event changed
// several Services; *host.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}
