package notify

import (
	"context"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// FromEnv reads SLIPSTREAM_NOTIFY_*; notify needs only its webhook.
func FromEnv(_ context.Context, _ *host.Host) (host.Function, error) {
	var cfg config.Notify
	if err := config.Load(config.Prefix+"_NOTIFY", &cfg); err != nil {
		return host.Function{}, err
	}
	n, err := New(cfg)
	if err != nil {
		return host.Function{}, err
	}
	return n.Function(), nil
}
