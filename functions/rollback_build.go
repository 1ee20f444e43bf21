package functions

import (
	"context"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/rollback"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
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
	cs, err := servingClient(config.Prefix+"_ROLLBACK", cfg.Kubeconfig, true)
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
