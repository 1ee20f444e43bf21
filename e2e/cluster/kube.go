package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Issuer and Audience are the control plane's service-account token
// issuer and default audience, as a kubeadm cluster names them.
const (
	Issuer   = "https://kubernetes.default.svc.cluster.local"
	Audience = Issuer
)

// startKube starts etcd, kube-apiserver and kube-controller-manager.
func (c *Cluster) startKube(ctx context.Context) error {
	ports, err := FreePorts(3)
	if err != nil {
		return err
	}
	etcdClient, etcdPeer, apiPort := ports[0], ports[1], ports[2]
	etcdDir := filepath.Join(c.dir, "etcd")
	removeStale("/dev/shm", "slipstream-e2e-etcd-", 2*time.Hour)
	if shm, err := os.MkdirTemp("/dev/shm", "slipstream-e2e-etcd-"); err == nil {
		etcdDir = shm // a tmpfs: etcd's fsyncs cost nothing there
		c.cleanup = append(c.cleanup, func() { os.RemoveAll(shm) })
	}
	etcd, err := c.start("etcd", "etcd", []string{
		"--name=e2e", "--data-dir=" + etcdDir,
		"--listen-client-urls=http://" + Addr(etcdClient), "--advertise-client-urls=http://" + Addr(etcdClient),
		"--listen-peer-urls=http://" + Addr(etcdPeer), "--initial-advertise-peer-urls=http://" + Addr(etcdPeer),
		"--initial-cluster=e2e=http://" + Addr(etcdPeer), "--log-level=warn",
	}, nil)
	if err != nil {
		return err
	}
	_ = etcd

	pki := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	ca, err := NewCA("e2e-kubernetes-ca")
	if err != nil {
		return err
	}
	c.CA = ca
	certPEM, keyPEM, err := ca.Serving("kube-apiserver", "kubernetes", "kubernetes.default", "kubernetes.default.svc")
	if err != nil {
		return err
	}
	c.adminToken = randomToken()
	files := map[string][]byte{
		"ca.crt":        ca.CertPEM,
		"apiserver.crt": certPEM,
		"apiserver.key": keyPEM,
		// The admin's static token: only the harness uses it, never a function.
		"tokens.csv": []byte(c.adminToken + ",e2e-admin,e2e-admin,system:masters\n"),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(pki, name), b, 0o600); err != nil {
			return err
		}
	}
	saKey, saPub := filepath.Join(pki, "sa.key"), filepath.Join(pki, "sa.pub")
	if err := writeRSAKeyPair(saKey, saPub); err != nil {
		return err
	}

	if _, err := c.start("kube-apiserver", c.bin("kube-apiserver"), []string{
		"--etcd-servers=http://" + Addr(etcdClient),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--token-auth-file=" + filepath.Join(pki, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=" + Issuer, "--api-audiences=" + Audience,
		"--service-account-key-file=" + saPub, "--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.96.0.0/16", "--allow-privileged=true",
		"--enable-priority-and-fairness=false", "--profiling=false",
		// The node-lifecycle controller that would lift its not-ready taint does
		// not run; pods are bound directly anyway.
		"--disable-admission-plugins=TaintNodesByCondition",
		// ValidatingAdmissionPolicy is beta in 1.29 (GA in 1.30): on, for
		// infra/policy/rollback-sticks.yaml.
		"--feature-gates=ValidatingAdmissionPolicy=true", "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
		"--cert-dir=" + filepath.Join(c.dir, "apiserver-certs"),
	}, nil); err != nil {
		return err
	}
	c.Host = "https://" + Addr(apiPort)
	c.Admin = &rest.Config{Host: c.Host, BearerToken: c.adminToken, TLSClientConfig: rest.TLSClientConfig{CAData: ca.CertPEM}, QPS: 100, Burst: 200,
		WarningHandler: rest.NoWarnings{}}
	if c.adminKubeconfig, err = c.WriteKubeconfig("admin", c.adminToken); err != nil {
		return err
	}
	if err := c.waitHealthy(ctx, c.Host+"/readyz"); err != nil {
		return fmt.Errorf("kube-apiserver never became ready: %w", err)
	}

	_, err = c.start("kube-controller-manager", c.bin("kube-controller-manager"), []string{
		"--kubeconfig=" + c.adminKubeconfig,
		"--controllers=deployment,replicaset,endpoint,endpointslice,serviceaccount,serviceaccount-token,namespace,garbagecollector",
		"--leader-elect=false", "--secure-port=0",
		"--service-account-private-key-file=" + saKey, "--root-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--use-service-account-credentials=false",
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
	}, nil)
	return err
}

// removeStale removes what a run killed before its cleanups (a test
// binary's timeout panics) left in dir: entries with the prefix older than age.
func removeStale(dir, prefix string, age time.Duration) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), prefix) && time.Since(info.ModTime()) > age {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// waitHealthy polls an apiserver health URL with the admin's token.
func (c *Cluster) waitHealthy(ctx context.Context, url string) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA.CertPEM)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	return Until(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, error) {
		if err := c.exited(); err != nil {
			return false, Permanent(err)
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Bearer "+c.adminToken)
		resp, err := client.Do(req)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
}

// WriteKubeconfig writes a kubeconfig for the control plane that
// authenticates with token, and returns its path.
func (c *Cluster) WriteKubeconfig(name, token string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CA.CertPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(c.dir, "kubeconfig-"+strings.ReplaceAll(name, "/", "-"))
	return path, clientcmd.WriteToFile(*cfg, path)
}
