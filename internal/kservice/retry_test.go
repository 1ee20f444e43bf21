package kservice_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/slipstream-cd/slipstream/internal/kservice"
)

func TestRetryOnConflict(t *testing.T) {
	conflict := fmt.Errorf("patching Service demo/hello: %w: the object has been modified", kservice.ErrConflict)
	other := fmt.Errorf("reading Service demo/hello: %w", kservice.ErrUnavailable)
	tests := []struct {
		name      string
		errs      []error // what each attempt returns; nil after the list
		wantCalls int
		wantErr   error
	}{
		{
			name:      "success at once",
			wantCalls: 1,
		},
		{
			name:      "two conflicts, then success",
			errs:      []error{conflict, conflict},
			wantCalls: 3,
		},
		{
			name:      "many conflicts, then success: not given up while there is time",
			errs:      []error{conflict, conflict, conflict, conflict, conflict, conflict, conflict, conflict},
			wantCalls: 9,
		},
		{
			name:      "another error is not retried",
			errs:      []error{other, conflict},
			wantCalls: 1,
			wantErr:   kservice.ErrUnavailable,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			err := kservice.RetryOnConflict(context.Background(), func() error {
				calls++
				if calls <= len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestRetryOnConflictEndsWithItsContext: conflicts every time are retried
// until the context ends, and the last conflict is returned.
func TestRetryOnConflictEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	err := kservice.RetryOnConflict(ctx, func() error {
		if calls++; calls == 20 {
			cancel()
		}
		return fmt.Errorf("patching: %w", kservice.ErrConflict)
	})
	if !errors.Is(err, kservice.ErrConflict) || calls != 20 {
		t.Errorf("%d calls, error %v; want 20 calls ending in the conflict", calls, err)
	}
}
