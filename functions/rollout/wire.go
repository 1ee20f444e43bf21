package rollout

import (
	"context"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/prom"
)

// FromEnv reads SLIPSTREAM_ROLLOUT_*; rollout needs the cluster, and
// Prometheus for Services that ask for analysis.
func FromEnv(_ context.Context, h *host.Host) (host.Function, error) {
	const prefix = config.Prefix + "_ROLLOUT"
	var cfg config.Rollout
	if err := config.Load(prefix, &cfg); err != nil {
		return host.Function{}, err
	}
	kc, err := kservice.Connect(prefix, cfg.Kubeconfig, cfg.QueryTimeout, true, kservice.LimitsOf(h.Settings()))
	if err != nil {
		return host.Function{}, err
	}
	opts := []Option{WithNamespaces(cfg.Namespaces), WithMaxWait(cfg.MaxWait), WithConcurrency(cfg.Concurrency), WithRollbacks(h.Rollbacks())}
	if cfg.PrometheusURL != "" {
		q, err := prom.New(cfg.PrometheusURL, cfg.QueryTimeout)
		if err != nil {
			return host.Function{}, config.SettingError(prefix+"_PROMETHEUS_URL", err)
		}
		opts = append(opts, WithQuerier(q))
	}
	if sender, err := h.Sender(); err == nil {
		opts = append(opts, WithSender(sender))
	}
	r, err := New(kc, opts...)
	if err != nil {
		return host.Function{}, err
	}
	return r.Function(), nil
}
