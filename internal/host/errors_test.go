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
		{nil, 202, OutcomeAccepted},
		{fmt.Errorf("x: %w", ErrRefused), 200, OutcomeRefused},
		{fmt.Errorf("x: %w", ErrMalformed), 400, OutcomeMalformed},
		{&eventing.DecodeError{Err: errors.New("bad")}, 400, OutcomeMalformed},
		{eventing.ValidationError{{Field: "image", Problem: "required"}}, 400, OutcomeMalformed},
		{fmt.Errorf("x: %w", ErrUnauthorized), 401, OutcomeUnauthorized},
		{fmt.Errorf("x: %w", ErrForbidden), 403, OutcomeForbidden},
		{fmt.Errorf("x: %w", ErrTooLarge), 413, OutcomeTooLarge},
		{fmt.Errorf("x: %w", ErrUnsupportedMediaType), 415, OutcomeUnsupported},
		{fmt.Errorf("x: %w", ErrConflict), 409, OutcomeConflict},
		{fmt.Errorf("x: %w", ErrThrottled), 429, OutcomeThrottled},
		{fmt.Errorf("x: %w", ErrUnavailable), 503, OutcomeUnavailable},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 504, OutcomeTimeout},
		{errPanic, 500, OutcomePanic},
		{errors.New("anything else"), 500, OutcomeError},
	}
	for _, tc := range tests {
		status, outcome := Classify(tc.err)
		if status != tc.status || outcome != tc.outcome {
			t.Errorf("Classify(%v) = %d %s, want %d %s", tc.err, status, outcome, tc.status, tc.outcome)
		}
	}
}
