//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
)

// eventingCRDs are the Knative Eventing resources infra/ uses, from the
// knative.dev/eventing module go.mod pins (no Eventing controller runs:
// the apiserver checks the objects against the CRDs' schemas).
var eventingCRDs = []string{"broker.yaml", "trigger.yaml", "pingsource.yaml", "apiserversource.yaml", "sinkbindings.yaml"}

// TestInfraPassesServerSideDryRun checks that what `kubectl apply -k
// infra/base` (and the all-in-one overlay) sends is accepted by a real
// apiserver with Knative Serving's webhook and Eventing's CRDs: RBAC,
// Services, Broker, Triggers and Sources, as a server-side dry run.
func TestInfraPassesServerSideDryRun(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	dir, err := cluster.ModuleDir(root, "knative.dev/eventing")
	if err != nil {
		t.Fatal(err)
	}
	var crds []byte
	for _, f := range eventingCRDs {
		b, err := os.ReadFile(filepath.Join(dir, "config", "core", "resources", f))
		if err != nil {
			t.Fatal(err)
		}
		crds = append(append(crds, b...), "\n---\n"...)
	}
	if err := c.ApplyYAML(ctx, crds, false); err != nil {
		t.Fatalf("Eventing's CRDs: %v", err)
	}
	for _, overlay := range []string{"base", "overlays/all-in-one"} {
		t.Run(overlay, func(t *testing.T) {
			res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(root, "infra", overlay))
			if err != nil {
				t.Fatal(err)
			}
			manifests, err := res.AsYaml()
			if err != nil {
				t.Fatal(err)
			}
			manifests = bytes.ReplaceAll(manifests, []byte("ko://github.com/slipstream-cd/slipstream/cmd/slipstream"), []byte("registry.example.com/slipstream/slipstream@"+digestOf("5")))
			// Namespaces for real: a dry run in a namespace that does not exist fails.
			for _, ns := range []string{"slipstream", "demo"} {
				_ = c.ApplyYAML(ctx, []byte(fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)), false)
			}
			waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			// The CRDs take a moment to be served; until then the mapping fails.
			if err := cluster.Until(waitCtx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
				err := c.ApplyYAML(ctx, manifests, true)
				return err == nil, err
			}); err != nil {
				t.Errorf("server-side dry run of infra/%s: %v", overlay, err)
			}
		})
	}
}

// TestInfraRBAC checks what each ServiceAccount of infra/ may do, asked
// of the real apiserver with a token the TokenRequest API minted for it:
// rollout and rollback patch Knative Services in a managed namespace but
// cannot delete them or read Secrets; promote can only get; the
// ApiServerSource's account only reads.
func TestInfraRBAC(t *testing.T) {
	c := startCluster(t)
	p := &pipeline{t: t, c: c, ns: "managed"}
	p.installInfra(context.Background())
	type ask struct {
		group, resource, verb, ns string
		allowed                   bool
	}
	serving := "serving.knative.dev"
	cases := map[string][]ask{
		"rollout": {
			{serving, "services", "patch", "managed", true}, {serving, "services", "get", "managed", true},
			{serving, "services", "list", "managed", true}, {serving, "revisions", "get", "managed", true},
			{serving, "services", "delete", "managed", false}, {serving, "services", "create", "managed", false},
			{serving, "services", "patch", "default", false}, {"", "secrets", "get", "managed", false},
			{"", "secrets", "get", "slipstream", false}, {"events.k8s.io", "events", "create", "managed", true},
			{"events.k8s.io", "events", "delete", "managed", false},
		},
		"rollback": {
			{serving, "services", "patch", "managed", true}, {serving, "services", "get", "managed", true},
			{serving, "revisions", "get", "managed", true}, {serving, "services", "delete", "managed", false},
			{"", "secrets", "list", "managed", false}, {"events.k8s.io", "events", "create", "managed", true},
		},
		"promote": {
			{serving, "services", "get", "managed", true}, {serving, "revisions", "get", "managed", true},
			{serving, "services", "patch", "managed", false}, {serving, "services", "list", "managed", false},
			{"", "secrets", "get", "slipstream", false},
		},
		"events": {
			{serving, "services", "watch", "managed", true}, {serving, "revisions", "list", "managed", true},
			{serving, "services", "patch", "managed", false}, {"", "secrets", "get", "managed", false},
		},
		"intake": {
			{serving, "services", "get", "managed", false}, {"", "secrets", "get", "slipstream", false},
		},
	}
	for account, asks := range cases {
		token, err := c.Token(context.Background(), "slipstream", account, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		kube, err := kubernetes.NewForConfig(c.As(token))
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range asks {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Group: a.group, Resource: a.resource, Verb: a.verb, Namespace: a.ns}}}
			got, err := kube.AuthorizationV1().SelfSubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("%s asking: %v", account, err)
			}
			if got.Status.Allowed != a.allowed {
				t.Errorf("%s may %s %s/%s in %s: %v, want %v", account, a.verb, a.group, a.resource, a.ns, got.Status.Allowed, a.allowed)
			}
		}
	}
}
