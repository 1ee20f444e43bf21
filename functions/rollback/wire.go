package rollback

import (
	"context"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
)

// FromEnv reads SLIPSTREAM_ROLLBACK_*; rollback needs the cluster and K_SINK.
func FromEnv(_ context.Context, h *host.Host) (host.Function, error) {
	const prefix = config.Prefix + "_ROLLBACK"
	var cfg config.Rollback
	if err := config.Load(prefix, &cfg); err != nil {
		return host.Function{}, err
	}
	sender, err := h.Sender()
	if err != nil {
		return host.Function{}, err
	}
	kc, err := kservice.Connect(prefix, cfg.Kubeconfig, cfg.APITimeout, true, kservice.LimitsOf(h.Settings()))
	if err != nil {
		return host.Function{}, err
	}
	r, err := New(cfg, kc, sender, WithRollbacks(h.Rollbacks()))
	if err != nil {
		return host.Function{}, err
	}
	if cfg.AllowUnauthenticated && !cfg.TokenFile.Set() && !cfg.PasswordFile.Set() {
		h.Logger().Warn("Alertmanager webhooks are accepted without credentials", "setting", prefix+"_ALLOW_UNAUTHENTICATED")
	}
	return r.Function(), nil
}
