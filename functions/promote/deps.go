package promote

import (
	"context"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/gitrepo"
)

// Repo commits edits to the config repository; *gitrepo.Repo is the real one.
type Repo interface {
	Update(ctx context.Context, edit gitrepo.Edit) (string, error)
}

// LiveReader reads the cluster, with a single get each; *kservice.Client is
// the real one. ServingRevision: which revision a Service serves (adoption);
// found is false when the cluster has no such Service. RevisionTemplate:
// the template that made a revision (a rollback over a template a person
// changed); found is false when the cluster no longer has the revision.
type LiveReader interface {
	ServingRevision(ctx context.Context, namespace, name string) (revision, image string, found bool, err error)
	RevisionTemplate(ctx context.Context, namespace, revision string) (tmpl servingv1.RevisionTemplateSpec, found bool, err error)
}

// Sender delivers extra manifest.committed events when one event changed
// several Services; *host.Sender is the real one.
type Sender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}
