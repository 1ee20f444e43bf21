// Package backoff holds the one wait used between retries by the adapters
// that retry (the K_SINK sender, the Git push loop): it sleeps for a duration
// unless the context ends first.
package backoff

import (
	"context"
	"time"
)

// Wait blocks for d, or until ctx is done, whose error it then returns.
func Wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
