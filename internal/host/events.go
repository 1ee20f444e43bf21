package host

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
)

// serveEvent decodes one CloudEvent, routes it by type, and answers with the
// reply event (200), nothing (202), an acknowledgement of a refusal (200,
// empty body: a broker treats any other 2xx body as a broken reply) or an error.
func (h *Host) serveEvent(w http.ResponseWriter, r *http.Request, fn Function) {
	start := time.Now()
	log := h.log
	label := "invalid"
	var reply *cloudevents.Event
	err := func() (err error) {
		defer h.recovered(log, &err)
		e, err := h.decodeEvent(w, r, fn)
		if err != nil {
			return err
		}
		release, err := h.admit(w)
		if err != nil {
			return err
		}
		defer release()
		log = log.With("ce.id", e.ID(), "ce.type", e.Type(), "ce.source", e.Source(), "subject", e.Subject())
		handle, key := fn.route(e.Type())
		label = key
		if handle == nil {
			return fmt.Errorf("%w: %s takes no events of type %q", ErrRefused, fn.Name, e.Type())
		}
		ctx, cancel := context.WithTimeout(WithLogger(r.Context(), log), h.settings.RequestTimeout)
		defer cancel()
		log.Debug("event received", "data", string(e.Data()))
		reply, err = handle(ctx, *e)
		return err
	}()

	status, outcome := Classify(err)
	switch {
	case err == nil && reply != nil:
		status, outcome = http.StatusOK, OutcomeReplied
		if werr := cehttp.WriteResponseWriter(r.Context(), binding.ToMessage(reply), status, w); werr != nil {
			log.Error("writing reply", "error", werr)
		}
		log.Info("replied", "reply.type", reply.Type(), "reply.id", reply.ID(), "reply.subject", reply.Subject())
	case err == nil:
		w.WriteHeader(status)
		log.Info("handled")
	case outcome == OutcomeRefused:
		w.WriteHeader(status)
		log.Info("refused", "reason", err.Error())
	default:
		h.logError(log, status, err)
		writeJSON(w, status, outcome, errorMessage(err))
	}
	h.metrics.events.WithLabelValues(label, outcome).Inc()
	h.metrics.eventDur.WithLabelValues(label).Observe(time.Since(start).Seconds())
}

// decodeEvent reads a binary or structured-JSON CloudEvent within the body
// limit, after the function has authorized the request.
func (h *Host) decodeEvent(w http.ResponseWriter, r *http.Request, fn Function) (*cloudevents.Event, error) {
	if err := h.authorizeHeaders(w, r, fn, "/"); err != nil {
		return nil, err
	}
	body, err := h.body(r, w)
	if err != nil {
		return nil, err
	}
	if fn.AuthorizeBody != nil {
		if err := fn.AuthorizeBody("/", r, body); err != nil {
			return nil, err
		}
	}
	ct := r.Header.Get("Content-Type")
	mediaType, _, _ := mime.ParseMediaType(ct)
	switch {
	case strings.HasPrefix(mediaType, "application/cloudevents-batch"):
		return nil, fmt.Errorf("%w: batched CloudEvents (%s) are not accepted; send one event per request", ErrUnsupportedMediaType, ct)
	case strings.HasPrefix(mediaType, "application/cloudevents"):
		if mediaType != cloudevents.ApplicationCloudEventsJSON {
			return nil, fmt.Errorf("%w: structured CloudEvents must be %s, got %s", ErrUnsupportedMediaType, cloudevents.ApplicationCloudEventsJSON, ct)
		}
	case r.Header.Get("Ce-Specversion") == "":
		return nil, fmt.Errorf("%w: not a CloudEvent: no ce-specversion header (binary mode) and content type %q is not %s (structured mode)",
			ErrMalformed, ct, cloudevents.ApplicationCloudEventsJSON)
	}
	r.Body = http.NoBody
	if len(body) > 0 {
		r.Body = readCloser{bytes.NewReader(body)}
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid CloudEvent: %v", ErrMalformed, err)
	}
	if err := e.Validate(); err != nil {
		return nil, fmt.Errorf("%w: not a valid CloudEvent: %v", ErrMalformed, err)
	}
	return e, nil
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// logError logs at the level the status deserves: the caller's mistakes at
// Warn, ours at Error.
func (h *Host) logError(log interface {
	Warn(string, ...any)
	Error(string, ...any)
}, status int, err error) {
	if status >= 500 {
		log.Error("failed", "status", status, "error", err.Error())
		return
	}
	log.Warn("rejected", "status", status, "error", err.Error())
}

// errorMessage is what the answer body says. Internal errors are not detailed
// to the caller beyond their first line.
func errorMessage(err error) string {
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}
