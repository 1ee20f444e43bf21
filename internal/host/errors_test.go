package host

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/slipstream-cd/slipstream/eventing"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		err     error
		status  int
		outcome string
	}{
		{
			err:     nil,
			status:  202,
			outcome: OutcomeAccepted,
		},
		{
			err:     fmt.Errorf("x: %w", ErrRefused),
			status:  200,
			outcome: OutcomeRefused,
		},
		{
			err:     fmt.Errorf("x: %w", ErrMalformed),
			status:  400,
			outcome: OutcomeMalformed,
		},
		{
			err:     &eventing.DecodeError{Err: errors.New("bad")},
			status:  400,
			outcome: OutcomeMalformed,
		},
		{
			err:     eventing.ValidationError{{Field: "image", Problem: "required"}},
			status:  400,
			outcome: OutcomeMalformed,
		},
		{
			err:     fmt.Errorf("x: %w", ErrUnauthorized),
			status:  401,
			outcome: OutcomeUnauthorized,
		},
		{
			err:     fmt.Errorf("x: %w", ErrForbidden),
			status:  403,
			outcome: OutcomeForbidden,
		},
		{
			err:     fmt.Errorf("x: %w", ErrTooLarge),
			status:  413,
			outcome: OutcomeTooLarge,
		},
		{
			err:     fmt.Errorf("x: %w", ErrUnsupportedMediaType),
			status:  415,
			outcome: OutcomeUnsupported,
		},
		{
			err:     fmt.Errorf("x: %w", ErrConflict),
			status:  409,
			outcome: OutcomeConflict,
		},
		{
			err:     fmt.Errorf("x: %w", ErrThrottled),
			status:  429,
			outcome: OutcomeThrottled,
		},
		{
			err:     fmt.Errorf("x: %w", ErrUnavailable),
			status:  503,
			outcome: OutcomeUnavailable,
		},
		{
			err:     fmt.Errorf("x: %w", context.DeadlineExceeded),
			status:  504,
			outcome: OutcomeTimeout,
		},
		{
			err:     errPanic,
			status:  500,
			outcome: OutcomePanic,
		},
		{
			err:     errors.New("anything else"),
			status:  500,
			outcome: OutcomeError,
		},
	}
	for _, tc := range tests {
		status, outcome := Classify(tc.err)
		if status != tc.status || outcome != tc.outcome {
			t.Errorf("Classify(%v) = %d %s, want %d %s", tc.err, status, outcome, tc.status, tc.outcome)
		}
	}
}
