package demo

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	servingtyped "knative.dev/serving/pkg/client/clientset/versioned/typed/serving/v1"
)

// maxPatch bounds a PATCH body.
const maxPatch = 1 << 20

// kubeAPI is the part of the Kubernetes API that slipstream's own commands
// use (status, dashboard, pause, resume, promote, abort, retry), served
// over the simulated cluster so they work against slipstream dev with a
// kubeconfig: Knative Services listed (every namespace or one, by name with
// a field selector), read, watched and merge-patched (with the
// resourceVersion check), behind a bearer token. Anything else is 404.
type kubeAPI struct {
	serving servingclient.Interface
	token   string
}

const servicesPrefix = "/apis/serving.knative.dev/v1/"

func (k *kubeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); subtle.ConstantTimeCompare([]byte(got), []byte(k.token)) != 1 {
		k.fail(w, apierrors.NewUnauthorized("the token of the kubeconfig slipstream dev wrote is required"))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, servicesPrefix)
	parts := strings.Split(rest, "/")
	namespace, name := metav1.NamespaceAll, ""
	switch {
	case !ok:
		parts = nil
	case len(parts) == 1 && parts[0] == "services":
	case len(parts) >= 3 && len(parts) <= 4 && parts[0] == "namespaces" && parts[2] == "services":
		namespace = parts[1]
		if len(parts) == 4 {
			name = parts[3]
		}
	default:
		parts = nil
	}
	if parts == nil {
		k.fail(w, apierrors.NewNotFound(schemaServices, r.URL.Path))
		return
	}
	services := k.serving.ServingV1().Services(namespace)
	ctx := r.Context()
	// The simulated cluster's clientset ignores field selectors: applied here.
	sel, serr := fields.ParseSelector(r.URL.Query().Get("fieldSelector"))
	if serr != nil {
		k.fail(w, apierrors.NewBadRequest(serr.Error()))
		return
	}
	matches := func(s *servingv1.Service) bool {
		return sel.Matches(fields.Set{"metadata.name": s.Name, "metadata.namespace": s.Namespace})
	}
	var out any
	var err error
	switch {
	case r.Method == http.MethodGet && name != "":
		out, err = services.Get(ctx, name, metav1.GetOptions{})
	case r.Method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		k.watch(ctx, w, services, matches)
		return
	case r.Method == http.MethodGet:
		var l *servingv1.ServiceList
		if l, err = services.List(ctx, metav1.ListOptions{}); err == nil {
			l.Items = slices.DeleteFunc(l.Items, func(s servingv1.Service) bool { return !matches(&s) })
		}
		out = l
	case r.Method == http.MethodPatch && name != "" && r.Header.Get("Content-Type") == string(types.MergePatchType):
		var body []byte
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxPatch))
		if err == nil {
			out, err = services.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{})
		} else {
			err = apierrors.NewRequestEntityTooLargeError(err.Error())
		}
	case r.Method == http.MethodPatch:
		err = apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", schemaServices, name, "only merge patches (application/merge-patch+json) of one Service", 0, false)
	default:
		err = apierrors.NewMethodNotSupported(schemaServices, r.Method)
	}
	if err != nil {
		k.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(withKinds(out))
}

// watch streams watch events as the apiserver does (one JSON object a line).
func (k *kubeAPI) watch(ctx context.Context, w http.ResponseWriter, services servingtyped.ServiceInterface, matches func(*servingv1.Service) bool) {
	wi, err := services.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		k.fail(w, err)
		return
	}
	defer wi.Stop()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wi.ResultChan():
			if !ok {
				return
			}
			if s, isService := ev.Object.(*servingv1.Service); isService && !matches(s) {
				continue
			}
			if err := enc.Encode(map[string]any{"type": ev.Type, "object": withKinds(ev.Object)}); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
		}
	}
}

// fail answers an error as the apiserver does: a Status with its code.
func (k *kubeAPI) fail(w http.ResponseWriter, err error) {
	var se apierrors.APIStatus
	status := metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}
	if errors.As(err, &se) {
		status = se.Status()
	}
	status.Kind, status.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(status.Code))
	_ = json.NewEncoder(w).Encode(status)
}

// writeKubeconfig writes a kubeconfig for the API at url (whose TLS
// certificate ca signs), context "slipstream-dev" in namespace demo, and
// returns its path.
func writeKubeconfig(dir, url string, ca []byte, token string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["slipstream-dev"] = &clientcmdapi.Cluster{Server: url, CertificateAuthorityData: ca}
	cfg.AuthInfos["slipstream-dev"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["slipstream-dev"] = &clientcmdapi.Context{Cluster: "slipstream-dev", AuthInfo: "slipstream-dev", Namespace: Namespace}
	cfg.CurrentContext = "slipstream-dev"
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", err
	}
	return path, os.Chmod(path, 0o600)
}

func newToken() (string, error) {
	b := make([]byte, 24)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("a token for the Kubernetes API: %w", err)
	}
	return hex.EncodeToString(b), nil
}

var schemaServices = schema.GroupResource{Group: "serving.knative.dev", Resource: "services"}

// withKinds sets the kind and API version clients expect on what the
// clientset returns (its objects carry none).
func withKinds(o any) any {
	gv := servingv1.SchemeGroupVersion.String()
	switch v := o.(type) {
	case *servingv1.Service:
		c := v.DeepCopy()
		c.APIVersion, c.Kind = gv, "Service"
		return c
	case *servingv1.ServiceList:
		c := v.DeepCopy()
		c.APIVersion, c.Kind = gv, "ServiceList"
		for i := range c.Items {
			c.Items[i].APIVersion, c.Items[i].Kind = gv, "Service"
		}
		return c
	}
	return o
}

// selfSigned is a TLS certificate for 127.0.0.1, valid for a day, and its
// PEM: client-go sends a token only over TLS, as it should.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "slipstream dev"}, NotBefore: now.Add(-time.Minute), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
