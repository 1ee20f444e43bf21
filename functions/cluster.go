package functions

import (
	"errors"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/config"
)

// servingClient returns a Knative Serving client from the kubeconfig a
// function's <prefix>_KUBECONFIG names, else in-cluster credentials inside a
// pod. Outside a cluster without a kubeconfig it returns nil, or an error
// naming the setting when the function cannot work without the cluster.
func servingClient(prefix, kubeconfig string, required bool) (servingclient.Interface, error) {
	settingErr := func(err error) error {
		return &config.Error{Problems: []string{prefix + "_KUBECONFIG: " + err.Error()}}
	}
	restCfg, err := kubeConfig(kubeconfig)
	if err != nil {
		return nil, settingErr(err)
	}
	if restCfg == nil {
		if required {
			return nil, settingErr(errors.New("required outside a cluster: this function reads and patches Knative Services"))
		}
		return nil, nil
	}
	cs, err := servingclient.NewForConfig(restCfg)
	if err != nil {
		return nil, settingErr(err)
	}
	return cs, nil
}

// kubeConfig returns the cluster credentials: the kubeconfig named, else
// in-cluster ones inside a pod, else none.
func kubeConfig(path string) (*rest.Config, error) {
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
