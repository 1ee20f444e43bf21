package host

import (
	"bytes"
	"context"
	"net/http"
	"time"
)

// serveWebhook reads a raw webhook within the body limit and writes the
// handler's answer or the classified error as JSON.
func (h *Host) serveWebhook(w http.ResponseWriter, r *http.Request, route string, handle WebhookHandler, fn Function) {
	start := time.Now()
	log := h.log.With("route", route, "remote", r.RemoteAddr)
	var resp Response
	err := func() (err error) {
		defer h.recovered(log, &err)
		if err := h.authorizeHeaders(w, r, fn, route); err != nil {
			return err
		}
		body, err := h.body(r, w)
		if err != nil {
			return err
		}
		if fn.AuthorizeBody != nil {
			if err := fn.AuthorizeBody(route, r, body); err != nil {
				return err
			}
		}
		release, err := h.admit(w)
		if err != nil {
			return err
		}
		defer release()
		r.Body = readCloser{bytes.NewReader(body)}
		ctx, cancel := context.WithTimeout(WithLogger(r.Context(), log), h.settings.RequestTimeout)
		defer cancel()
		resp, err = handle(ctx, r, body)
		return err
	}()

	status, outcome := Classify(err)
	if err != nil {
		if outcome == OutcomeRefused {
			log.Info("refused", "reason", err.Error())
		} else {
			h.logError(log, status, err)
		}
		writeJSON(w, status, outcome, errorMessage(err))
	} else {
		if resp.Status != 0 {
			status = resp.Status
		}
		switch {
		case resp.Outcome != "":
			outcome = resp.Outcome
		case status == http.StatusOK:
			outcome = OutcomeIgnored
		}
		log.Info("handled", "status", status, "message", resp.Message)
		writeJSON(w, status, outcome, resp.Message)
	}
	h.metrics.hooks.WithLabelValues(route, outcome).Inc()
	h.metrics.hookDur.WithLabelValues(route).Observe(time.Since(start).Seconds())
}
