package kservice

import (
	"context"
	"errors"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// conflictBackoff spaces the attempts of RetryOnConflict: 5 ms at first,
// growing to at most 100 ms, jittered so that writers racing each other
// fall apart.
var conflictBackoff = wait.Backoff{Duration: 5 * time.Millisecond, Factor: 1.5, Jitter: 0.5, Steps: math.MaxInt32, Cap: 100 * time.Millisecond}

// RetryOnConflict runs fn — read the Service, decide, patch what was decided
// on the version read — again while it fails with ErrConflict (the Service
// changed since it was read), until ctx ends. Another writer that keeps
// changing the Service cannot make it give up while its caller still has
// time: client-go's DefaultRetry (5 attempts, 10 ms apart) lost to one on
// the e2e control plane and a rollback answered 503. It returns nil, fn's
// first other error, or its last conflict.
func RetryOnConflict(ctx context.Context, fn func() error) error {
	backoff := conflictBackoff
	for {
		err := fn()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff.Step()):
		}
	}
}
