package host

import (
	"context"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/eventing"
)

// EventSender delivers an event to the sink; *Sender is the real one.
type EventSender interface {
	Send(ctx context.Context, e cloudevents.Event) error
}

// Reply builds the follow-up events of a broker event, from function at now:
// the first is returned as the handler's reply (the broker routes it); a
// broker takes one reply per delivery, so the others go to send (K_SINK),
// best effort: a failed send, or no sender at all, is logged and the next
// decision says it again. A datum that does not build is the function's own
// fault, an error (500). No data: no reply.
func Reply(ctx context.Context, function string, now time.Time, send EventSender, data ...eventing.Data) (*cloudevents.Event, error) {
	events := make([]cloudevents.Event, 0, len(data))
	for _, d := range data {
		e, err := eventing.New(function, d, now)
		if err != nil {
			// Our own fault, not the sender's: %v keeps it from reading as malformed (400).
			return nil, fmt.Errorf("%s follow-up: %v", function, err)
		}
		events = append(events, e)
	}
	if len(events) == 0 {
		return nil, nil
	}
	log := Logger(ctx)
	for _, e := range events[1:] {
		if send == nil {
			log.Warn("no K_SINK bound: follow-up not sent", "ce.type", e.Type(), "subject", e.Subject())
			continue
		}
		if err := send.Send(ctx, e); err != nil {
			log.Error("sending follow-up", "ce.type", e.Type(), "subject", e.Subject(), "error", err.Error())
		}
	}
	return &events[0], nil
}
