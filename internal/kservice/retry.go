package kservice

import (
	"errors"

	"k8s.io/client-go/util/retry"
)

// RetryOnConflict runs fn — read the Service, decide, patch what was decided
// on the version read — again while it fails with ErrConflict (the Service
// changed since it was read), with client-go's retry.DefaultRetry: at most 5
// attempts, about 10 ms apart. It returns nil, fn's first other error, or its
// last conflict.
func RetryOnConflict(fn func() error) error {
	return retry.OnError(retry.DefaultRetry, func(err error) bool { return errors.Is(err, ErrConflict) }, fn)
}
