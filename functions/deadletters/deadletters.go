package deadletters

import (
	"context"
	"slices"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/clip"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// Name is the function's name, and its Knative Service's.
const Name = "dead-letters"

// maxLogged bounds what is logged of each text a sender wrote.
const maxLogged = 1024

// known are the event types counted by name; any other is "other".
var known = []string{eventing.TypeImagePushed, eventing.TypeManifestCommitted, eventing.TypeTrafficShifted,
	eventing.TypeRolloutPromoted, eventing.TypeRolloutRolledBack, eventing.TypePing}

// DeadLetters logs and counts dead letters.
type DeadLetters struct {
	count *prometheus.CounterVec
}

// New returns the sink.
func New() *DeadLetters {
	return &DeadLetters{count: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slipstream_dead_letters_total", Help: "Events every delivery retry failed for, by type (slipstream's catalog, or other).",
	}, []string{"type"})}
}

// Function returns the broker-facing handler for the host: every type.
func (d *DeadLetters) Function() host.Function {
	return host.Function{Name: Name, FromBroker: true, Events: map[string]host.EventHandler{"*": d.handle},
		Collectors: []prometheus.Collector{d.count}}
}

func (d *DeadLetters) handle(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
	typ := e.Type()
	if !slices.Contains(known, typ) {
		typ = "other"
	}
	d.count.WithLabelValues(typ).Inc()
	host.Logger(ctx).Error("dead letter: every delivery retry failed; act on it by hand", Fields(e)...)
	return nil, nil
}

// Fields are what is logged of a dead letter, each text cut to maxLogged bytes.
func Fields(e cloudevents.Event) []any {
	ext := e.Extensions()
	text := func(k string) string {
		v, _ := ext[k].(string)
		return cut(v)
	}
	return []any{"type", cut(e.Type()), "id", cut(e.ID()), "source", cut(e.Source()), "subject", cut(e.Subject()), "time", e.Time(),
		"undelivered_to", text("knativeerrordest"), "answered", ext["knativeerrorcode"], "answer", text("knativeerrordata"),
		"data_bytes", len(e.Data()), "data", cut(string(e.Data()))}
}

// cut bounds a text to maxLogged bytes, marked when it was cut.
func cut(s string) string {
	if c := clip.Bytes(s, maxLogged); c != s {
		return c + "…"
	}
	return s
}
