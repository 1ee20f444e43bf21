package eventing

import (
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// New builds the CloudEvent for a payload: type, source (/slipstream/<function>),
// subject, time (now, in UTC), the deterministic id, the routing extensions
// and JSON data. The payload is validated first; an invalid payload is an
// error wrapping ErrMalformed and no event.
func New(function string, d Data, now time.Time) (cloudevents.Event, error) {
	if err := d.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("building %s: %w", d.EventType(), err)
	}
	e := cloudevents.NewEvent()
	e.SetID(d.ID())
	e.SetType(d.EventType())
	e.SetSource(Source(function))
	e.SetSubject(d.Subject())
	e.SetTime(now.UTC())
	for k, v := range d.Extensions() {
		if v != "" {
			e.SetExtension(k, v)
		}
	}
	if err := e.SetData(cloudevents.ApplicationJSON, d); err != nil {
		return cloudevents.Event{}, fmt.Errorf("encoding %s: %w", d.EventType(), err)
	}
	if err := e.Validate(); err != nil {
		return cloudevents.Event{}, fmt.Errorf("building %s: %w", d.EventType(), err)
	}
	return e, nil
}

// DecodeError says why a received event could not be decoded. It wraps
// ErrMalformed.
type DecodeError struct {
	// Type is the event's type attribute.
	Type string
	// ID is the event's id attribute.
	ID string
	// Err is the cause.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("event %s (id %q): %v", e.Type, e.ID, e.Err)
}

// Unwrap returns the cause and ErrMalformed.
func (e *DecodeError) Unwrap() []error { return []error{ErrMalformed, e.Err} }

// payload is satisfied by a pointer to a catalog type.
type payload[T any] interface {
	*T
	Data
}

// Decode checks that e is a valid CloudEvent of T's type, decodes its JSON data
// into T, validates it and checks that the subject matches the payload. Every
// failure is a *DecodeError wrapping ErrMalformed.
func Decode[T any, P payload[T]](e cloudevents.Event) (T, error) {
	var d T
	p := P(&d)
	fail := func(err error) (T, error) {
		var zero T
		return zero, &DecodeError{Type: e.Type(), ID: e.ID(), Err: err}
	}
	if err := e.Validate(); err != nil {
		return fail(err)
	}
	if want := p.EventType(); e.Type() != want {
		return fail(fmt.Errorf("type is %q, expected %q", e.Type(), want))
	}
	if ct := e.DataMediaType(); ct != "" && ct != cloudevents.ApplicationJSON && ct != "text/json" {
		return fail(fmt.Errorf("datacontenttype is %q, expected %q", ct, cloudevents.ApplicationJSON))
	}
	if len(e.Data()) == 0 {
		return fail(fmt.Errorf("data is empty"))
	}
	if err := e.DataAs(p); err != nil {
		return fail(fmt.Errorf("data: %v", err))
	}
	if err := p.Validate(); err != nil {
		return fail(err)
	}
	if got, want := e.Subject(), p.Subject(); got != want {
		return fail(fmt.Errorf("subject is %q, the data says %q", got, want))
	}
	return d, nil
}
