package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	sigsyaml "sigs.k8s.io/yaml"
)

// KnativeNamespace is Knative Serving's system namespace.
const KnativeNamespace = "knative-serving"

// autoscalerPodIP is the address the autoscaler announces for its stats
// bucket: Kubernetes refuses loopback addresses in Endpoints, and with one
// bucket nothing connects to it.
const autoscalerPodIP = "10.0.255.1"

// knativeManifests are the files of Knative Serving's release this harness
// applies: its namespace, CRDs (and those of knative.dev/networking and
// knative.dev/caching that a release bundles) and config maps. Deployments,
// Services and RBAC are left out: the binaries run as local processes with
// the admin's token.
var knativeManifests = []struct{ module, glob string }{
	{"knative.dev/serving", "config/core/100-namespace.yaml"},
	{"knative.dev/serving", "config/core/300-resources/*.yaml"},
	{"knative.dev/networking", "config/ingress.yaml"},
	{"knative.dev/networking", "config/serverlessservice.yaml"},
	{"knative.dev/networking", "config/certificate.yaml"},
	{"knative.dev/networking", "config/domain-claim.yaml"},
	{"knative.dev/caching", "config/image.yaml"},
	{"knative.dev/networking", "config/config-network.yaml"},
	{"knative.dev/serving", "config/core/configmaps/*.yaml"},
}

// ConfigOverrides are the config-map keys the harness sets over Knative's
// defaults. target-burst-capacity 0 keeps the activator out of the path (no
// activator runs); metrics go nowhere; the registries of the tests are not
// asked to resolve tags (promote pins digests; the first manifest may not).
var ConfigOverrides = map[string]map[string]string{
	"config-autoscaler":    {"target-burst-capacity": "0"},
	"config-observability": {"metrics.backend-destination": "none"},
	"config-deployment":    {"registries-skipping-tag-resolving": "kind.local,ko.local,dev.local,registry.example.com,127.0.0.1"},
}

// startKnative installs Knative Serving's resources and runs its webhook,
// controller and autoscaler; it returns once the webhook admits a Service.
func (c *Cluster) startKnative(ctx, loops context.Context) error {
	if err := c.installKnative(ctx); err != nil {
		return err
	}
	ports, err := FreePorts(4)
	if err != nil {
		return err
	}
	webhookPort := ports[0]
	if err := c.webhookConfigs(ctx, webhookPort); err != nil {
		return err
	}
	common := []string{"SYSTEM_NAMESPACE=" + KnativeNamespace, "KUBECONFIG=" + c.adminKubeconfig, "DEFAULT_METRICS_BACKEND=none"}
	if _, err := c.start("knative-webhook", c.bin("webhook"), nil, append(common,
		"WEBHOOK_NAME=webhook", fmt.Sprintf("WEBHOOK_PORT=%d", webhookPort), fmt.Sprintf("PROFILING_PORT=%d", ports[1]), "POD_NAME=webhook-e2e")); err != nil {
		return err
	}
	if _, err := c.start("knative-controller", c.bin("controller"), nil, append(common,
		fmt.Sprintf("PROFILING_PORT=%d", ports[2]), "POD_NAME=controller-e2e")); err != nil {
		return err
	}
	if _, err := c.start("knative-autoscaler", c.bin("autoscaler"), nil, append(common,
		fmt.Sprintf("PROFILING_PORT=%d", ports[3]), "POD_NAME=autoscaler-e2e", "POD_IP="+autoscalerPodIP)); err != nil {
		return err
	}
	c.loop(loops, c.readyIngresses)
	return c.waitAdmits(ctx)
}

// installKnative applies knativeManifests, the harness's config overrides,
// the webhook's certificate and the empty activator Endpoints the
// serverless-service reconciler reads (no activator runs).
func (c *Cluster) installKnative(ctx context.Context) error {
	dyn, err := dynamic.NewForConfig(c.Admin)
	if err != nil {
		return err
	}
	var stream []byte // every file in one stream: one discovery of the API
	for _, m := range knativeManifests {
		dir, err := ModuleDir(c.knativeTools(), m.module)
		if err != nil {
			return err
		}
		files, err := filepath.Glob(filepath.Join(dir, m.glob))
		if err != nil || len(files) == 0 {
			return fmt.Errorf("no %s in %s", m.glob, dir)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			stream = append(append(stream, b...), "\n---\n"...)
		}
	}
	if err := c.applyYAML(ctx, stream, false, overrideConfig); err != nil {
		return fmt.Errorf("Knative's manifests: %w", err)
	}
	ns := c.Kube.CoreV1()
	if _, err := ns.Endpoints(KnativeNamespace).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "activator-service"}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	return c.waitCRDs(ctx, dyn)
}

var crds = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// overrideConfig sets ConfigOverrides on Knative's config maps.
func overrideConfig(obj *unstructured.Unstructured) error {
	if obj.GetKind() != "ConfigMap" {
		return nil
	}
	for k, v := range ConfigOverrides[obj.GetName()] {
		if err := unstructured.SetNestedField(obj.Object, v, "data", k); err != nil {
			return err
		}
	}
	return nil
}

// waitCRDs waits until every CRD is Established.
func (c *Cluster) waitCRDs(ctx context.Context, dyn dynamic.Interface) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		l, err := dyn.Resource(crds).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, crd := range l.Items {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			established := false
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				established = established || (m["type"] == "Established" && m["status"] == "True")
			}
			if !established {
				return false, nil
			}
		}
		return true, nil
	})
}

// webhookConfigs writes the webhook's serving certificate and the admission
// webhook configurations that send Knative's resources to it at
// https://127.0.0.1:port (no cluster DNS here, so a URL, not a Service
// reference). The configurations keep Knative's object names with the
// rules of Knative's own files, but their entries are named apart, so the
// webhook's reconcilers, which rewrite only entries named like the object
// (to point them at a Service), leave them as they are.
func (c *Cluster) webhookConfigs(ctx context.Context, port int) error {
	ca, err := NewCA("e2e-knative-webhook-ca")
	if err != nil {
		return err
	}
	certPEM, keyPEM, err := ca.Serving("webhook.knative-serving.svc", "webhook", "webhook.knative-serving", "webhook.knative-serving.svc", "webhook.knative-serving.svc.cluster.local")
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-certs", Namespace: KnativeNamespace},
		Data:       map[string][]byte{"server-key.pem": keyPEM, "server-cert.pem": certPEM, "ca-cert.pem": ca.CertPEM},
	}
	if _, err := c.Kube.CoreV1().Secrets(KnativeNamespace).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		return err
	}
	dir, err := ModuleDir(c.knativeTools(), "knative.dev/serving")
	if err != nil {
		return err
	}
	url := func(path string) *string { u := fmt.Sprintf("https://%s%s", Addr(port), path); return &u }

	var mutating admissionv1.MutatingWebhookConfiguration
	if err := readYAML(filepath.Join(dir, "config/core/webhooks/defaulting.yaml"), &mutating); err != nil {
		return err
	}
	for i := range mutating.Webhooks {
		mutating.Webhooks[i].Name = "e2e." + mutating.Webhooks[i].Name
		mutating.Webhooks[i].ClientConfig = admissionv1.WebhookClientConfig{URL: url("/defaulting"), CABundle: ca.CertPEM}
	}
	if _, err := c.Kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &mutating, metav1.CreateOptions{}); err != nil {
		return err
	}
	var validating admissionv1.ValidatingWebhookConfiguration
	if err := readYAML(filepath.Join(dir, "config/core/webhooks/resource-validation.yaml"), &validating); err != nil {
		return err
	}
	for i := range validating.Webhooks {
		validating.Webhooks[i].Name = "e2e." + validating.Webhooks[i].Name
		validating.Webhooks[i].ClientConfig = admissionv1.WebhookClientConfig{URL: url("/resource-validation"), CABundle: ca.CertPEM}
	}
	_, err = c.Kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &validating, metav1.CreateOptions{})
	return err
}

// waitAdmits waits until the webhook answers the apiserver: a dry-run
// create of a Knative Service goes through admission.
func (c *Cluster) waitAdmits(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	probe := []byte(`{"apiVersion":"serving.knative.dev/v1","kind":"Service","metadata":{"name":"admission-probe","namespace":"default"},
		"spec":{"template":{"spec":{"containers":[{"image":"registry.example.com/probe@sha256:` + strings.Repeat("0", 64) + `"}]}}}}`)
	return Until(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := c.exited(); err != nil {
			return false, Permanent(err)
		}
		err := c.Serving.ServingV1().RESTClient().Post().Namespace("default").Resource("services").
			Param("dryRun", "All").Body(probe).Do(ctx).Error()
		return err == nil, err
	})
}

// readYAML decodes one YAML file into a typed object.
func readYAML(file string, into any) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	return sigsyaml.Unmarshal(b, into)
}

// knativeTools is the tools module that pins Knative (and its CRDs).
func (c *Cluster) knativeTools() string { return filepath.Join(c.root, "e2e", "tools", "knative") }

// ModuleDir is the folder of a module required by the Go module at dir (the
// version it pins), downloading the module when it is not in the cache yet.
func ModuleDir(dir, module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = dir
	out, err := cmd.Output()
	found := strings.TrimSpace(string(out))
	if err == nil && found == "" {
		dl := exec.Command("go", "mod", "download", module)
		dl.Dir = dir
		if err := dl.Run(); err != nil {
			return "", fmt.Errorf("downloading %s: %w", module, err)
		}
		return ModuleDir(dir, module)
	}
	if err != nil {
		return "", fmt.Errorf("finding %s: %w", module, err)
	}
	return found, nil
}
