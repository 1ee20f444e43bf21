package deadletters

import (
	"context"

	"github.com/slipstream-cd/slipstream/internal/host"
)

// FromEnv needs no settings beyond the shared ones.
func FromEnv(context.Context, *host.Host) (host.Function, error) { return New().Function(), nil }
