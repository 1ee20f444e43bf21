package host

import (
	"context"
	"errors"
	"net/http"

	"github.com/slipstream-cd/slipstream/eventing"
)

// Sentinel errors a function wraps (fmt.Errorf("%w: …", host.ErrConflict)) to
// choose the answer. Classify maps them to status codes.
var (
	// ErrMalformed: the input can never succeed. 400, not retried.
	ErrMalformed = errors.New("malformed request")
	// ErrUnauthorized: missing or wrong credentials. 401.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: authenticated, but not allowed (e.g. a registry outside the allowlist). 403.
	ErrForbidden = errors.New("forbidden")
	// ErrTooLarge: the body exceeds the limit. 413.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedMediaType: the content type is not one the route takes. 415.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrConflict: a concurrent change won; retrying will re-read and re-decide. 409, retried.
	ErrConflict = errors.New("conflict")
	// ErrThrottled: slow down. 429, retried.
	ErrThrottled = errors.New("throttled")
	// ErrUnavailable: a dependency is down. 503, retried.
	ErrUnavailable = errors.New("unavailable")
	// ErrBusy: SLIPSTREAM_MAX_IN_FLIGHT requests are being handled (503, busy, Retry-After).
	ErrBusy = errors.New("busy")
	// ErrRefused: a well-formed event the function will never act on (an
	// untracked image, an unmanaged Service). Acknowledged with 200, logged and
	// counted; never retried.
	ErrRefused = errors.New("refused")
)

// Outcome labels of the slipstream_*_total metrics.
const (
	OutcomeAccepted     = "accepted"
	OutcomeReplied      = "replied"
	OutcomeIgnored      = "ignored"
	OutcomeRolledBack   = "rolled_back"
	OutcomeRefused      = "refused"
	OutcomeMalformed    = "malformed"
	OutcomeUnauthorized = "unauthorized"
	OutcomeForbidden    = "forbidden"
	OutcomeTooLarge     = "too_large"
	OutcomeUnsupported  = "unsupported_media_type"
	OutcomeConflict     = "conflict"
	OutcomeThrottled    = "throttled"
	OutcomeUnavailable  = "unavailable"
	OutcomeBusy         = "busy"
	OutcomeTimeout      = "timeout"
	OutcomeError        = "error"
	OutcomePanic        = "panic"
)

// Classify maps an error to its HTTP status and metric outcome; this is the one
// place where slipstream's errors meet the Knative delivery contract. A nil
// error is 202 accepted.
func Classify(err error) (status int, outcome string) {
	switch {
	case err == nil:
		return http.StatusAccepted, OutcomeAccepted
	case errors.Is(err, errPanic):
		return http.StatusInternalServerError, OutcomePanic
	case errors.Is(err, ErrRefused):
		return http.StatusOK, OutcomeRefused
	case errors.Is(err, ErrMalformed), errors.Is(err, eventing.ErrMalformed):
		return http.StatusBadRequest, OutcomeMalformed
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized, OutcomeUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden, OutcomeForbidden
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge, OutcomeTooLarge
	case errors.Is(err, ErrUnsupportedMediaType):
		return http.StatusUnsupportedMediaType, OutcomeUnsupported
	case errors.Is(err, ErrConflict):
		return http.StatusConflict, OutcomeConflict
	case errors.Is(err, ErrThrottled):
		return http.StatusTooManyRequests, OutcomeThrottled
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable, OutcomeBusy
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, OutcomeUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, OutcomeTimeout
	}
	return http.StatusInternalServerError, OutcomeError
}
