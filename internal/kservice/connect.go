package kservice

import (
	"errors"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/config"
)

// Connect returns a Client for the cluster a function's settings name: the
// kubeconfig at path (the setting <prefix>_KUBECONFIG), else in-cluster
// credentials inside a pod. Outside a cluster without a kubeconfig it
// returns nil, or, when required, a *config.Error naming the setting; so do
// a kubeconfig that does not load and credentials the clientset refuses.
// timeout bounds each API call (see New); limits is the client-side rate
// limit (SLIPSTREAM_KUBE_QPS and _BURST).
func Connect(prefix, path string, timeout time.Duration, required bool, limits Limits) (*Client, error) {
	settingErr := func(err error) error { return config.SettingError(prefix+"_KUBECONFIG", err) }
	restCfg, err := RestConfig(path)
	if err != nil {
		return nil, settingErr(err)
	}
	if restCfg == nil {
		if required {
			return nil, settingErr(errors.New("required outside a cluster: this function reads and patches Knative Services"))
		}
		return nil, nil
	}
	restCfg.QPS, restCfg.Burst = limits.QPS, limits.Burst
	cs, err := servingclient.NewForConfig(restCfg)
	if err != nil {
		return nil, settingErr(err)
	}
	return New(cs, timeout), nil
}

// Limits is a client's rate limit: requests a second, and at once above it.
type Limits struct {
	QPS   float32
	Burst int
}

// LimitsOf is the rate limit the shared settings give.
func LimitsOf(s config.Shared) Limits { return Limits{QPS: s.KubeQPS, Burst: s.KubeBurst} }

// RestConfig returns the cluster credentials: the kubeconfig named, else
// in-cluster ones inside a pod, else none (nil, nil).
func RestConfig(path string) (*rest.Config, error) {
	if path != "" {
		return clientcmd.BuildConfigFromFlags("", path)
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") == "" {
		return nil, nil
	}
	c, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		return nil, nil
	}
	return c, err
}
