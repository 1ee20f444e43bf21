//go:build e2e

package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3/jwt"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestEventTokens is scenario 6's first half: promote, told to require
// Knative Eventing's OIDC tokens (SLIPSTREAM_OIDC_*), takes an event with a
// token the real kube-apiserver minted for its audience (TokenRequest, as
// Eventing mints for a Trigger's identity), and answers 401 — with nothing
// committed to Git and the live Service unchanged — to no token, a forged
// token, one for another audience, one for a subject it does not allow, and
// an expired one signed with the cluster's own key.
func TestEventTokens(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ns := "trust"
	p := startPipeline(t, c, ns, options{mode: argoCD})
	d1 := p.push("team/hello", "1.0.0")
	waitService(t, c, ns, service, 90*time.Second, "serving 1.0.0", servesOnly(d1))

	// The keys are public, as kubeadm clusters with a public issuer make them.
	if _, err := c.Kube.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-issuer-discovery-anonymous"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:service-account-issuer-discovery"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "system:unauthenticated"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.crt")
	if err := os.WriteFile(caFile, c.CA.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	const subject = "system:serviceaccount:slipstream:events"
	ports, err := cluster.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := slipstreamBin()
	if err != nil {
		t.Fatal(err)
	}
	env := append(append([]string{fmt.Sprintf("PORT=%d", ports[0])}, p.env["promote"]...),
		"SLIPSTREAM_OIDC_ISSUER="+cluster.Issuer, "SLIPSTREAM_OIDC_AUDIENCE=promote",
		"SLIPSTREAM_OIDC_JWKS_URL="+c.Host+"/openid/v1/jwks", "SLIPSTREAM_OIDC_CA_FILE="+caFile, "SLIPSTREAM_OIDC_SUBJECTS="+subject)
	proc, err := cluster.StartProc(t.TempDir(), "promote-oidc", bin, []string{"serve", "promote"}, env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proc.Stop(5 * time.Second) })
	p.fns["promote-oidc"], p.urls["promote-oidc"] = proc, "http://"+cluster.Addr(ports[0])
	p.waitReady(ctx, "promote-oidc")

	// An image.pushed of a new digest: promote would commit a candidate.
	pushed := func(t *testing.T, digest string) string {
		t.Helper()
		data, err := eventing.NewImagePushed(p.registry+"/team/hello:1.1.0@"+digest, "distribution", "application/vnd.oci.image.manifest.v1+json", nil)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := eventing.New("intake", data, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		body, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		return string(body)
	}
	mint := func(account string, audiences ...string) string {
		tok, err := c.Token(ctx, "slipstream", account, time.Hour, audiences...)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	claims := jwt.Claims{Issuer: cluster.Issuer, Audience: jwt.Audience{"promote"}, Subject: subject,
		IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(-2 * time.Hour)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	clusterKey := readRSAKey(t, filepath.Join(c.Dir(), "pki", "sa.key"))
	expired := claims
	expired.Expiry = jwt.NewNumericDate(now.Add(-time.Minute))

	live := func() int64 {
		s, err := c.Serving.ServingV1().Services(ns).Get(ctx, service, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Generation
	}
	for _, tc := range []struct{ name, token, why string }{
		{"no token", "", "a bearer token is required"},
		{"a forged token", sign(t, forger, claims), "signature"},
		{"a token for another audience", mint("events", "rollout"), "audience"},
		{"a token of a subject not allowed", mint("intake", "promote"), "system:serviceaccount:slipstream:intake"},
		// Refused for its expiry, not its key: the cluster's JWKS has the key.
		{"an expired token signed with the cluster's key", sign(t, clusterKey, expired), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commits, generation := p.commits(), live()
			header := http.Header{"Content-Type": {"application/cloudevents+json"}}
			if tc.token != "" {
				header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, reply := testutil.Post(t, p.urls["promote-oidc"], header, strings.NewReader(pushed(t, digestOf("c"))))
			if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(reply, tc.why) {
				t.Errorf("status %d (%s), want 401 saying %q", resp.StatusCode, reply, tc.why)
			}
			if got := p.commits(); got != commits {
				t.Errorf("%d commits made", got-commits)
			}
			if got := live(); got != generation {
				t.Errorf("the live Service changed (generation %d → %d)", generation, got)
			}
		})
	}
	accepted := func(t *testing.T, token, digest string) {
		t.Helper()
		commits := p.commits()
		header := http.Header{"Content-Type": {"application/cloudevents+json"}, "Authorization": {"Bearer " + token}}
		resp, reply := testutil.Post(t, p.urls["promote-oidc"], header, strings.NewReader(pushed(t, digest)))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("status %d (%s), want 2xx", resp.StatusCode, reply)
		}
		if got := p.commits(); got != commits+1 {
			t.Errorf("%d commits made, want the candidate's one", got-commits)
		}
	}
	minted, unexpired := mint("events", "promote"), sign(t, clusterKey, claims)
	t.Run("a token the apiserver minted for promote", func(t *testing.T) { accepted(t, minted, digestOf("c")) })
	// The expired token above, unexpired: so it was refused for its expiry.
	t.Run("the same token signed with the cluster's key, unexpired", func(t *testing.T) { accepted(t, unexpired, digestOf("d")) })
}

// readRSAKey reads a PEM RSA private key (PKCS #1).
func readRSAKey(t *testing.T, path string) *rsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// sign makes a JWT with key, its key id computed as Kubernetes computes the
// ids of its ServiceAccount keys (base64url of the SHA-256 of the public
// key's DER), so a token signed with the cluster's key names a key the
// cluster's JWKS has.
func sign(t *testing.T, key *rsa.PrivateKey, c jwt.Claims) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return testutil.JWT(t, key, base64.RawURLEncoding.EncodeToString(sum[:]), c)
}
