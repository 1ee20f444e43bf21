package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/policy"
)

// TestKubeAPI: the kubeconfig dev writes gives a Knative clientset the
// simulated cluster's Services — list, get, watch, merge patch with the
// resourceVersion check — and nothing without its token.
func TestKubeAPI(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Start(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Push("1.0.0"); err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs := servingclient.NewForConfigOrDie(cfg)
	services := cs.ServingV1().Services(Namespace)
	w, err := services.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + Service})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := e.waitFor(ctx, "the first deploy promoted", 20*time.Second, func() bool {
		s, err := services.Get(ctx, Service, metav1.GetOptions{})
		st, _ := policy.LiveState(s.GetAnnotations())
		return err == nil && st.Phase == policy.Promoted
	}); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Object == nil {
			t.Errorf("watch event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("the watch saw nothing")
	}
	all, err := cs.ServingV1().Services("").List(ctx, metav1.ListOptions{})
	if err != nil || len(all.Items) != 1 || all.Items[0].Name != Service {
		t.Fatalf("list of every namespace: %v, %v", all, err)
	}
	one, err := services.List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=nope"})
	if err != nil || len(one.Items) != 0 {
		t.Errorf("a field selector naming no Service: %v, %v", one, err)
	}
	svc := all.Items[0]
	stale := `{"metadata":{"resourceVersion":"1","annotations":{"slipstream.dev/paused":"true"}}}`
	if _, err := services.Patch(ctx, Service, types.MergePatchType, []byte(stale), metav1.PatchOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("a patch on a stale resourceVersion: %v, want 409", err)
	}
	fresh := `{"metadata":{"resourceVersion":"` + svc.ResourceVersion + `","annotations":{"slipstream.dev/note":"x"}}}`
	if got, err := services.Patch(ctx, Service, types.MergePatchType, []byte(fresh), metav1.PatchOptions{}); err != nil || got.Annotations["slipstream.dev/note"] != "x" {
		t.Errorf("a merge patch: %v", err)
	}
	if _, err := services.Patch(ctx, Service, types.JSONPatchType, []byte(`[]`), metav1.PatchOptions{}); err == nil {
		t.Error("a JSON patch was taken")
	}
	if _, err := services.Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a missing Service: %v, want 404", err)
	}
	// Without the token: 401, and nothing read.
	host := strings.TrimSuffix(cfg.Host, "/")
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cfg.CAData)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, token string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, host+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, token := range []string{"", "wrong"} {
		if code, body := get("/apis/serving.knative.dev/v1/services", token); code != http.StatusUnauthorized || strings.Contains(body, Service) {
			t.Errorf("the token %q: %d %s", token, code, body)
		}
	}
	if code, _ := get("/api/v1/namespaces/demo/secrets", cfg.BearerToken); code != http.StatusNotFound {
		t.Errorf("another resource: %d, want 404", code)
	}
}
