package functions

import (
	"context"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/functions/rollout"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/internal/prom"
)

// buildRollout reads SLIPSTREAM_ROLLOUT_*; it needs the cluster, and
// Prometheus for Services that ask for analysis.
func buildRollout(_ context.Context, h *host.Host) (host.Function, error) {
	var cfg config.Rollout
	if err := config.Load(config.Prefix+"_ROLLOUT", &cfg); err != nil {
		return host.Function{}, err
	}
	settingErr := func(key string, err error) error {
		return &config.Error{Problems: []string{config.Prefix + "_ROLLOUT_" + key + ": " + err.Error()}}
	}
	cs, err := servingClient(config.Prefix+"_ROLLOUT", cfg.Kubeconfig, true)
	if err != nil {
		return host.Function{}, err
	}
	opts := []rollout.Option{rollout.WithNamespaces(cfg.Namespaces), rollout.WithMaxWait(cfg.MaxWait)}
	if cfg.PrometheusURL != "" {
		q, err := prom.New(cfg.PrometheusURL, cfg.QueryTimeout)
		if err != nil {
			return host.Function{}, settingErr("PROMETHEUS_URL", err)
		}
		opts = append(opts, rollout.WithQuerier(q))
	}
	if sender, err := h.Sender(); err == nil {
		opts = append(opts, rollout.WithSender(sender))
	}
	r, err := rollout.New(kservice.New(cs, cfg.QueryTimeout), opts...)
	if err != nil {
		return host.Function{}, err
	}
	return r.Function(), nil
}
