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
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v3/jwt"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/keyutil"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestEventTokens is scenario 6's first half: promote, as infra/ runs it
// (the issuer discovered from the cluster, the audience and identities of
// infra/'s Triggers), takes an event with a token the real kube-apiserver
// minted for a Trigger's identity and its audience (TokenRequest, as
// Eventing mints them), and answers 401 — with nothing committed to Git and
// the live Service unchanged — to no token, a forged token, one for another
// audience, one for a subject it does not allow, and an expired one signed
// with the cluster's own key. The whole pipeline around it ran on such
// tokens: every delivery carried one, and intake sent to the broker with
// the SinkBinding's token, which the apiserver accepted.
func TestEventTokens(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ns := "trust"
	p := startPipeline(t, c, ns, options{mode: argoCD})
	d1 := p.push("team/hello", "1.0.0")
	waitService(t, c, ns, service, 90*time.Second, "serving 1.0.0", servesOnly(d1))

	p.mu.Lock()
	ingressed := append([]string(nil), p.ingressed...)
	p.mu.Unlock()
	if len(ingressed) == 0 || slices.ContainsFunc(ingressed, func(s string) bool { return s != sinkBindingIdentity }) {
		t.Errorf("the broker's ingress took events from %q, want them all sent with the SinkBinding's token (%s)", ingressed, sinkBindingIdentity)
	}
	if resp, body := testutil.Post(t, p.ingress, http.Header{"Content-Type": {"application/cloudevents+json"}}, strings.NewReader(`{}`)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the broker's ingress took an event without a token: %d %s", resp.StatusCode, body)
	}
	var tokened int
	for _, d := range p.Delivered() {
		if d.Status/100 == 2 {
			tokened++
		} else if d.Status == http.StatusUnauthorized {
			t.Errorf("a delivery of trigger %s was refused: 401", d.Trigger)
		}
	}
	if tokened == 0 {
		t.Error("no delivery succeeded")
	}

	sub := p.subscribers["promote"]
	identity := sub.Subjects[0]
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
	mint := func(subject string, audiences ...string) string {
		ns, name, err := splitSubject(subject)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.Token(ctx, ns, name, time.Hour, audiences...)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	claims := jwt.Claims{Issuer: cluster.Issuer, Audience: jwt.Audience{sub.Audience}, Subject: identity,
		IssuedAt: jwt.NewNumericDate(now.Add(-2 * time.Hour)), NotBefore: jwt.NewNumericDate(now.Add(-2 * time.Hour)), Expiry: jwt.NewNumericDate(now.Add(time.Hour))}
	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keyutil.PrivateKeyFromFile(filepath.Join(c.Dir(), "pki", "sa.key"))
	if err != nil {
		t.Fatal(err)
	}
	clusterKey, ok := key.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("the cluster's ServiceAccount key is a %T, not RSA", key)
	}
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
		{"a token for another audience", mint(identity, p.subscribers["rollout"].Audience), "audience"},
		{"a token of a subject not allowed", mint("system:serviceaccount:slipstream:intake", sub.Audience), "system:serviceaccount:slipstream:intake"},
		// Refused for its expiry, not its key: the cluster's JWKS has the key.
		{"an expired token signed with the cluster's key", sign(t, clusterKey, expired), "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			commits, generation := p.commits(), live()
			header := http.Header{"Content-Type": {"application/cloudevents+json"}}
			if tc.token != "" {
				header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, reply := testutil.Post(t, p.urls["promote"], header, strings.NewReader(pushed(t, digestOf("c"))))
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
		resp, reply := testutil.Post(t, p.urls["promote"], header, strings.NewReader(pushed(t, digest)))
		if resp.StatusCode/100 != 2 {
			t.Fatalf("status %d (%s), want 2xx", resp.StatusCode, reply)
		}
		if got := p.commits(); got != commits+1 {
			t.Errorf("%d commits made, want the candidate's one", got-commits)
		}
	}
	minted, unexpired := mint(identity, sub.Audience), sign(t, clusterKey, claims)
	t.Run("a token the apiserver minted for a Trigger to promote", func(t *testing.T) { accepted(t, minted, digestOf("c")) })
	// The expired token above, unexpired: so it was refused for its expiry.
	t.Run("the same token signed with the cluster's key, unexpired", func(t *testing.T) { accepted(t, unexpired, digestOf("d")) })
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
