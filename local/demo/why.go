package demo

import (
	"context"
	"log/slog"
	"strings"

	"github.com/slipstream-cd/slipstream/eventing"
)

// why is a log handler that tells the event log why a function did not act
// on an event or a webhook (the host logs each refusal with its reason) —
// but not on a tick or an ApiServerSource event, which the log does not
// show — and passes every record on to next.
type why struct {
	next     slog.Handler
	function string
	ceType   string // the event's type, once the host's logger carries it
	note     func(function, reason string)
}

func (w why) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo || w.next.Enabled(ctx, l)
}

func (w why) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "refused" && w.ceType != eventing.TypePing && !strings.HasPrefix(w.ceType, eventing.TypeAPIServerPrefix) {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" {
				w.note(w.function, a.Value.String())
				return false
			}
			return true
		})
	}
	if !w.next.Enabled(ctx, r.Level) {
		return nil
	}
	return w.next.Handle(ctx, r)
}

func (w why) WithAttrs(attrs []slog.Attr) slog.Handler {
	for _, a := range attrs {
		if a.Key == "ce.type" {
			w.ceType = a.Value.String()
		}
	}
	w.next = w.next.WithAttrs(attrs)
	return w
}

func (w why) WithGroup(name string) slog.Handler {
	w.next = w.next.WithGroup(name)
	return w
}
