package infra

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
	"gopkg.in/yaml.v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/apis/feature"
	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
	"knative.dev/pkg/apis"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/intake"
	"github.com/slipstream-cd/slipstream/local/broker"
)

// knativeObject is a Knative type with defaulting and validation.
type knativeObject interface {
	SetDefaults(context.Context)
	Validate(context.Context) *apis.FieldError
}

// validationContext carries Knative Eventing's default feature flags, as the
// webhook has them from config-features; without them valid specs such as
// delivery.timeout are refused.
func validationContext(t *testing.T) context.Context {
	flags, err := feature.NewFlagsConfigFromMap(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	return feature.ToContext(context.Background(), flags)
}

// typed returns an empty Go value for a kind, or nil for kinds checked generically.
func typed(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "rbac.authorization.k8s.io/v1/ClusterRole":
		return &rbacv1.ClusterRole{}
	case "rbac.authorization.k8s.io/v1/Role":
		return &rbacv1.Role{}
	case "rbac.authorization.k8s.io/v1/RoleBinding":
		return &rbacv1.RoleBinding{}
	case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
		return &rbacv1.ClusterRoleBinding{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "serving.knative.dev/v1/Service":
		return &servingv1.Service{}
	case "eventing.knative.dev/v1/Broker":
		return &eventingv1.Broker{}
	case "eventing.knative.dev/v1/Trigger":
		return &eventingv1.Trigger{}
	case "sources.knative.dev/v1/PingSource":
		return &sourcesv1.PingSource{}
	case "sources.knative.dev/v1/ApiServerSource":
		return &sourcesv1.ApiServerSource{}
	case "sources.knative.dev/v1/SinkBinding":
		return &sourcesv1.SinkBinding{}
	}
	return nil
}

// checkDocument decodes one manifest strictly into its Go type and runs
// Knative's defaulting and validation where the type has them.
func checkDocument(t *testing.T, ctx context.Context, where string, doc map[string]any) {
	t.Helper()
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	meta, _ := doc["metadata"].(map[string]any)
	if apiVersion == "" || kind == "" || meta == nil || meta["name"] == nil {
		t.Errorf("%s: a manifest needs apiVersion, kind and metadata.name", where)
		return
	}
	obj := typed(apiVersion, kind)
	if obj == nil {
		return // a CRD of another project (Prometheus Operator, Argo CD, Flux): shape checked above
	}
	raw, _ := json.Marshal(doc)
	// ko resolves ko:// images at build time; validate with a placeholder.
	raw = bytes.ReplaceAll(raw, []byte("ko://github.com/slipstream-cd/slipstream/cmd/slipstream"), []byte("registry.example.com/slipstream/slipstream:dev"))
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		t.Errorf("%s: %s %s does not decode strictly: %v", where, apiVersion, kind, err)
		return
	}
	if k, ok := obj.(knativeObject); ok {
		k.SetDefaults(ctx)
		if fe := k.Validate(ctx); fe != nil {
			if errs := fe.Filter(apis.ErrorLevel); errs != nil {
				t.Errorf("%s: %s %s fails Knative's validation: %v", where, kind, meta["name"], errs)
			}
		}
	}
}

// documents reads every YAML document of a file.
func documents(t *testing.T, file string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
}

func TestEveryManifestIsValid(t *testing.T) {
	ctx := validationContext(t)
	count := 0
	for _, root := range []string{".", "../examples"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".yaml") || filepath.Base(p) == "kustomization.yaml" || strings.Contains(p, "testdata") {
				return err
			}
			for i, doc := range documents(t, p) {
				checkDocument(t, ctx, fmt.Sprintf("%s#%d", p, i+1), doc)
				count++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if count < 30 {
		t.Errorf("only %d documents checked; expected the whole of infra/ and examples/", count)
	}
}

// build runs kustomize on a folder, as `kustomize build` does.
func build(t *testing.T, dir string) []map[string]any {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	res, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	y, err := res.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, part := range strings.Split(string(y), "\n---\n") {
		var doc map[string]any
		if err := sigsyaml.Unmarshal([]byte(part), &doc); err != nil {
			t.Fatal(err)
		}
		if doc != nil {
			out = append(out, doc)
		}
	}
	return out
}

func find(docs []map[string]any, kind, name string) map[string]any {
	for _, d := range docs {
		if d["kind"] == kind && d["metadata"].(map[string]any)["name"] == name {
			return d
		}
	}
	return nil
}

func TestKustomizeBuilds(t *testing.T) {
	ctx := validationContext(t)
	for _, dir := range []string{"base", "overlays/kafka", "overlays/all-in-one"} {
		t.Run(dir, func(t *testing.T) {
			docs := build(t, dir)
			for i, d := range docs {
				checkDocument(t, ctx, fmt.Sprintf("%s (built) #%d", dir, i+1), d)
				// An install creates nothing outside its own namespace but what
				// it must: no managed namespace, no bindings in one (those are
				// managed-namespace.yaml's, copied per namespace by the user).
				meta, _ := d["metadata"].(map[string]any)
				if ns := meta["namespace"]; d["kind"] == "Namespace" && meta["name"] != "slipstream" ||
					ns != nil && ns != "slipstream" && !(d["kind"] == "ConfigMap" && ns == "knative-eventing") {
					t.Errorf("%s creates %s %v/%v outside slipstream's namespace", dir, d["kind"], ns, meta["name"])
				}
			}
			switch dir {
			case "overlays/kafka":
				b := find(docs, "Broker", "default")
				ann, _ := b["metadata"].(map[string]any)["annotations"].(map[string]any)
				config, _ := b["spec"].(map[string]any)["config"].(map[string]any)
				if ann["eventing.knative.dev/broker.class"] != "Kafka" || config == nil || find(docs, "ConfigMap", fmt.Sprint(config["name"])) == nil {
					t.Errorf("the Kafka overlay does not make a Kafka broker with its own settings: %v", b)
				}
				// Knative's own config maps (kafka-broker-config, config-*) are
				// cluster-wide: an install must add beside them, never replace one.
				for _, d := range docs {
					meta, _ := d["metadata"].(map[string]any)
					if name := fmt.Sprint(meta["name"]); meta["namespace"] != "slipstream" && (name == "kafka-broker-config" || strings.HasPrefix(name, "config-")) {
						t.Errorf("the Kafka overlay overwrites %s/%s, which the whole cluster uses", meta["namespace"], name)
					}
				}
			case "overlays/all-in-one":
				for _, fn := range []string{"intake", "promote", "rollout", "rollback"} {
					if find(docs, "Service", fn) != nil {
						t.Errorf("all-in-one still has the %s Service", fn)
					}
				}
				for _, d := range docs {
					if d["kind"] == "Trigger" {
						ref := d["spec"].(map[string]any)["subscriber"].(map[string]any)["ref"].(map[string]any)
						if ref["name"] != "slipstream" {
							t.Errorf("trigger %v still points at %v", d["metadata"], ref["name"])
						}
					}
				}
			}
		})
	}
}

// TestEveryEventTypeHasATrigger fails when the catalog gains a type that no
// Trigger routes, or a Trigger points at a Service that does not exist.
func TestEveryEventTypeHasATrigger(t *testing.T) {
	docs := build(t, "base")
	triggers := triggersOf(t, docs)
	for _, tr := range triggers {
		if tr.Spec.Subscriber.Ref == nil || find(docs, "Service", tr.Spec.Subscriber.Ref.Name) == nil {
			t.Errorf("trigger %s points at a Service that is not installed", tr.Name)
		}
	}
	routes := func(eventType string) bool {
		for _, tr := range triggers {
			for _, f := range tr.Spec.Filters {
				if f.Exact["type"] == eventType || (f.Prefix["type"] != "" && strings.HasPrefix(eventType, f.Prefix["type"])) {
					return true
				}
			}
			if tr.Spec.Filter != nil && tr.Spec.Filter.Attributes["type"] == eventType {
				return true
			}
		}
		return false
	}
	for _, typ := range append(eventing.Types(), eventing.TypePing, eventing.TypeAPIServerPrefix+"update") {
		if !routes(typ) {
			t.Errorf("no Trigger routes %s", typ)
		}
	}
}

func TestConfigMapSettingsExist(t *testing.T) {
	// Every key of the shipped ConfigMap is a setting the code reads.
	known := strings.Join(knownSettings(t), "\n")
	for _, d := range documents(t, "base/config.yaml") {
		for k := range d["data"].(map[string]any) {
			if !strings.Contains(known, k+"\n") {
				t.Errorf("slipstream-config sets %s, which no function reads", k)
			}
		}
	}
}

func knownSettings(t *testing.T) []string {
	raw, err := os.ReadFile("../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "| `") {
			key := strings.TrimPrefix(strings.SplitN(line, "`", 3)[1], "")
			for _, f := range intake.Formats() {
				out = append(out, strings.Replace(key, "<FORMAT>", strings.ToUpper(f), 1))
			}
			out = append(out, key)
		}
	}
	return append(out, "")
}

func TestFuncYAML(t *testing.T) {
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	schema, err := c.Compile("testdata/func_yaml-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../func.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := sigsyaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Errorf("func.yaml does not match the func schema: %v", err)
	}
	var f struct {
		Deploy struct {
			Subscriptions []struct {
				Filters map[string]string `json:"filters"`
			} `json:"subscriptions"`
		} `json:"deploy"`
	}
	sigsyaml.Unmarshal(b, &f)
	subscribed := map[string]bool{}
	for _, s := range f.Deploy.Subscriptions {
		subscribed[s.Filters["type"]] = true
	}
	for _, typ := range append(eventing.Types(), eventing.TypePing, eventing.TypeAPIServerPrefix+"update") {
		if !subscribed[typ] {
			t.Errorf("func.yaml does not subscribe to %s", typ)
		}
	}
	// A broken func.yaml must fail the schema, or this test proves nothing.
	if err := schema.Validate(map[string]any{"name": "x"}); err == nil {
		t.Error("the schema accepted a func.yaml without specVersion and created")
	}
}

// TestTriggersCarryTheAudiencesTheFunctionsVerify: in every build, each
// Trigger's subscriber has an audience, and the Service it points at
// verifies exactly that audience and exactly the identities of the
// Triggers pointing at it — else, with Eventing's OIDC on, every delivery
// would be refused (or one from a Trigger not meant for it taken).
func TestTriggersCarryTheAudiencesTheFunctionsVerify(t *testing.T) {
	for _, dir := range []string{"base", "overlays/kafka", "overlays/all-in-one"} {
		t.Run(dir, func(t *testing.T) {
			checkAudiences(t, build(t, dir))
		})
	}
}

// checkAudiences: each Service the Triggers among docs deliver to verifies
// their audience and allows exactly their identities.
func checkAudiences(t *testing.T, docs []map[string]any) {
	t.Helper()
	subs, err := broker.Subscribers(triggersOf(t, docs))
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) == 0 {
		t.Fatal("no Triggers")
	}
	for svc, sub := range subs {
		if sub.Audience == "" {
			t.Errorf("the Triggers to %s have no subscriber audience: their deliveries would carry no token", svc)
		}
		env := containerEnv(t, find(docs, "Service", svc))
		if got := env["SLIPSTREAM_OIDC_AUDIENCE"]; got != sub.Audience {
			t.Errorf("Service %s verifies audience %q; its Triggers' audience is %q", svc, got, sub.Audience)
		}
		if got, want := env["SLIPSTREAM_OIDC_SUBJECTS"], strings.Join(sub.Subjects, ","); got != want {
			t.Errorf("Service %s allows subjects %q; its Triggers' identities are %q", svc, got, want)
		}
	}
}

// containerEnv is the literal env of a Knative Service's first container.
func containerEnv(t *testing.T, svc map[string]any) map[string]string {
	t.Helper()
	raw, _ := json.Marshal(svc)
	var s servingv1.Service
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	if cs := s.Spec.Template.Spec.Containers; len(cs) > 0 {
		for _, e := range cs[0].Env {
			env[e.Name] = e.Value
		}
	}
	return env
}

// triggersOf decodes the Triggers among docs.
func triggersOf(t *testing.T, docs []map[string]any) []eventingv1.Trigger {
	t.Helper()
	var triggers []eventingv1.Trigger
	for _, d := range docs {
		if d["kind"] != "Trigger" {
			continue
		}
		raw, _ := json.Marshal(d)
		var tr eventingv1.Trigger
		if err := json.Unmarshal(raw, &tr); err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, tr)
	}
	return triggers
}

// TestTheArgoCDExampleReadsPromotesFolders: promote writes each Service to
// apps/<service>/service.yaml, and Argo CD reads a directory source's top
// folder only unless directory.recurse is true: the example would deploy
// nothing.
func TestTheArgoCDExampleReadsPromotesFolders(t *testing.T) {
	raw, err := os.ReadFile("../examples/argocd-application.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var app struct {
		Spec struct {
			Source struct {
				Path      string `json:"path"`
				Directory struct {
					Recurse bool `json:"recurse"`
				} `json:"directory"`
			} `json:"source"`
		} `json:"spec"`
	}
	if err := sigsyaml.Unmarshal(raw, &app); err != nil {
		t.Fatal(err)
	}
	if app.Spec.Source.Path != "apps" || !app.Spec.Source.Directory.Recurse {
		t.Errorf("source path %q, directory.recurse %v: want apps, recursive (promote writes apps/<service>/service.yaml)",
			app.Spec.Source.Path, app.Spec.Source.Directory.Recurse)
	}
}
