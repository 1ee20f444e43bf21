package functions

import (
	"context"
	"errors"

	servingclient "knative.dev/serving/pkg/client/clientset/versioned"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/internal/host"
	"github.com/slipstream-cd/slipstream/functions/internal/kservice"
	"github.com/slipstream-cd/slipstream/functions/rollback"
)

// buildRollback reads SLIPSTREAM_ROLLBACK_*; it needs the cluster and K_SINK.
func buildRollback(_ context.Context, h *host.Host) (host.Function, error) {
	var cfg config.Rollback
	if err := config.Load(config.Prefix+"_ROLLBACK", &cfg); err != nil {
		return host.Function{}, err
	}
	sender, err := h.Sender()
	if err != nil {
		return host.Function{}, err
	}
	restCfg, err := kubeConfig(cfg.Kubeconfig)
	if err == nil && restCfg == nil {
		err = errors.New("required outside a cluster: rollback reads and patches Knative Services")
	}
	if err != nil {
		return host.Function{}, &config.Error{Problems: []string{config.Prefix + "_ROLLBACK_KUBECONFIG: " + err.Error()}}
	}
	cs, err := servingclient.NewForConfig(restCfg)
	if err != nil {
		return host.Function{}, err
	}
	r, err := rollback.New(cfg, kservice.New(cs, cfg.APITimeout), sender, nil)
	if err != nil {
		return host.Function{}, err
	}
	if cfg.AllowUnauthenticated && !cfg.TokenFile.Set() && !cfg.PasswordFile.Set() {
		h.Logger().Warn("Alertmanager webhooks are accepted without credentials", "setting", config.Prefix+"_ROLLBACK_ALLOW_UNAUTHENTICATED")
	}
	return r.Function(), nil
}
