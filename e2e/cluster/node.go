package cluster

import (
	"context"
	_ "embed"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

//go:embed stages.yaml
var stages []byte

// kwokAnnotation marks the Node kwok manages.
const kwokAnnotation = "kwok.x-k8s.io/node"

// startNode creates the fake Node, runs kwok as its kubelet and starts
// binding pods to it.
func (c *Cluster) startNode(ctx, loops context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name:        NodeName,
		Annotations: map[string]string{kwokAnnotation: "fake"},
		Labels:      map[string]string{"kubernetes.io/hostname": NodeName, "kubernetes.io/os": "linux"},
	}}
	if _, err := c.Kube.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		return err
	}
	dir := filepath.Join(c.dir, "kwok")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	config := filepath.Join(dir, "stages.yaml")
	if err := os.WriteFile(config, stages, 0o600); err != nil {
		return err
	}
	// HOME apart: kwok also reads ~/.kwok/kwok.yaml. No --server-address:
	// kwok then listens on nothing.
	if _, err := c.start("kwok", c.bin("kwok"), []string{
		"--kubeconfig=" + c.adminKubeconfig, "--master=" + c.Host, "--config=" + config,
		"--manage-nodes-with-annotation-selector=" + kwokAnnotation + "=fake",
		"--cidr=10.244.0.0/16", "--node-ip=10.1.0.1",
	}, []string{"HOME=" + dir}); err != nil {
		return err
	}
	c.loop(loops, c.bindPods)
	return nil
}
