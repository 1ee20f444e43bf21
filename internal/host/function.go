package host

import (
	"context"
	"net/http"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// EventHandler handles one CloudEvent. It returns the follow-up event to reply
// with (nil for none) or an error wrapping one of this package's sentinels.
type EventHandler func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error)

// WebhookHandler handles one raw webhook whose body the host has already read
// (within the size limit). It returns the answer, or an error wrapping one of
// this package's sentinels.
type WebhookHandler func(ctx context.Context, r *http.Request, body []byte) (Response, error)

// Response is a webhook's answer. The host writes it as JSON
// {"status": "<outcome>", "message": "…"}.
type Response struct {
	// Status is the HTTP status: 202 for accepted, 200 for ignored on purpose.
	Status int
	// Message says what happened, for the sender's logs.
	Message string
	// Outcome, when set, is the answer's status word and the metric's
	// outcome (rollback's rolled_back); else accepted for 202, ignored for 200.
	Outcome string
}

// Function is what a slipstream function gives the host.
type Function struct {
	// Name is the function's name: intake, promote, rollout or rollback.
	Name string
	// Events maps CloudEvent types to handlers. A key ending in "*" matches every
	// type with that prefix. Events of other types are refused (200, counted).
	// Empty: POST / answers 404.
	Events map[string]EventHandler
	// FromBroker says POST / takes the broker's deliveries (the function is
	// a Trigger's subscriber): each must carry the broker's OIDC token for
	// the function's audience, unless the check is turned off by
	// SLIPSTREAM_ALLOW_UNAUTHENTICATED_EVENTS. False: POST / is a format
	// with its own credentials (AuthorizeHeaders), such as intake's.
	FromBroker bool
	// Webhooks maps paths (e.g. "/webhooks/alertmanager") to raw webhook handlers (POST only).
	Webhooks map[string]WebhookHandler
	// AuthorizeHeaders checks the credentials a request carries in its
	// headers (a bearer token, basic auth) before its body is read, so a
	// sender without them cannot make the function read, hold or wait for a
	// body; route is the webhook path, or "/" for CloudEvents. It returns nil
	// or an error wrapping ErrUnauthorized. nil lets every request past it.
	AuthorizeHeaders func(route string, r *http.Request) error
	// AuthorizeBody checks credentials that need the raw body (an HMAC
	// signature), once it was read within the size limit, before anything
	// else looks at it. nil: none.
	AuthorizeBody func(route string, r *http.Request, body []byte) error
	// Ready reports whether the function can serve; nil means always ready.
	Ready func(ctx context.Context) error
	// Collectors are the function's own metrics, served on /metrics with
	// the host's (each with the function label).
	Collectors []prometheus.Collector
}

// route returns the handler for an event type and the key it matched, which
// is also the metric label (bounded: it comes from the function, not the input).
func (f Function) route(eventType string) (EventHandler, string) {
	if h, ok := f.Events[eventType]; ok {
		return h, eventType
	}
	best := ""
	for k := range f.Events {
		if p, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(eventType, p) && len(k) > len(best) {
			best = k
		}
	}
	if best == "" {
		return nil, "other"
	}
	return f.Events[best], best
}
