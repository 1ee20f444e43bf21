package cluster

import (
	"context"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// Token mints a token for a ServiceAccount with the TokenRequest API, as
// the kubelet does for a pod's projected token: for the audiences given
// (none: the apiserver's own), valid for ttl.
func (c *Cluster) Token(ctx context.Context, namespace, account string, ttl time.Duration, audiences ...string) (string, error) {
	secs := int64(ttl / time.Second)
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &secs}}
	got, err := c.Kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, account, tr, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return got.Status.Token, nil
}

// As is a client configuration that authenticates with token.
func (c *Cluster) As(token string) *rest.Config {
	return &rest.Config{Host: c.Host, BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAData: c.CA.CertPEM}, QPS: 50, Burst: 100}
}
