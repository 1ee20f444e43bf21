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
// timeout bounds each API call (see New).
func Connect(prefix, path string, timeout time.Duration, required bool) (*Client, error) {
	settingErr := func(err error) error { return config.SettingError(prefix+"_KUBECONFIG", err) }
	restCfg, err := restConfig(path)
	if err != nil {
		return nil, settingErr(err)
	}
	if restCfg == nil {
		if required {
			return nil, settingErr(errors.New("required outside a cluster: this function reads and patches Knative Services"))
		}
		return nil, nil
	}
	restCfg.QPS, restCfg.Burst = clientQPS, clientBurst
	cs, err := servingclient.NewForConfig(restCfg)
	if err != nil {
		return nil, settingErr(err)
	}
	return New(cs, timeout), nil
}

// clientQPS and clientBurst are the client-side rate limit of the
// functions' Kubernetes client. client-go's default (5 requests a second,
// bursts of 10) throttles a function that reads the cluster on every
// ApiServerSource event: on the e2e control plane, rollout's requests
// queued behind the limiter past their deadline during a rollout (each
// answered 503, which the broker retried, which queued more). The
// apiserver's own priority and fairness protects it from a busy client.
const (
	clientQPS   = 50
	clientBurst = 100
)

// restConfig returns the cluster credentials: the kubeconfig named, else
// in-cluster ones inside a pod, else none.
func restConfig(path string) (*rest.Config, error) {
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
