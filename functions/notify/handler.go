package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// Name is the function's name.
const Name = "notify"

// maxAnswer bounds how much of the webhook's answer is read (for its error).
const maxAnswer = 4 << 10

// Notify posts promotions and rollbacks to a chat webhook.
type Notify struct {
	url    string
	format string
	client *http.Client
	posts  *prometheus.CounterVec
}

// New returns notify posting to cfg's webhook.
func New(cfg config.Notify) (*Notify, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Notify{url: strings.TrimSpace(string(cfg.URLFile.Value())), format: cfg.Format,
		// No redirects: a webhook URL that moved is a configuration to fix,
		// and the message must not go where the operator did not send it.
		client: &http.Client{Timeout: cfg.Timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		posts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipstream_notifications_total", Help: "Messages posted to the chat webhook, by outcome (sent, rejected, unavailable).",
		}, []string{"outcome"})}, nil
}

// Function returns the broker-facing handlers for the host.
func (n *Notify) Function() host.Function {
	return host.Function{Name: Name, FromBroker: true, Events: map[string]host.EventHandler{
		eventing.TypeRolloutPromoted:   handle[eventing.RolloutPromoted](n),
		eventing.TypeRolloutRolledBack: handle[eventing.RolloutRolledBack](n),
	}, Collectors: []prometheus.Collector{n.posts}}
}

func handle[T any, P interface {
	*T
	eventing.Data
}](n *Notify) host.EventHandler {
	return func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
		ev, err := eventing.Decode[T, P](e)
		if err != nil {
			return nil, err
		}
		m, _ := Text(P(&ev))
		body, err := Payload(n.format, m, P(&ev))
		if err != nil {
			return nil, err
		}
		outcome, err := n.post(ctx, body)
		n.posts.WithLabelValues(outcome).Inc()
		switch {
		case outcome == "rejected":
			host.Logger(ctx).Error("the chat webhook rejected the message; check SLIPSTREAM_NOTIFY_URL_FILE and _FORMAT", "error", err.Error())
			return nil, fmt.Errorf("%w: %v", host.ErrRefused, err)
		case err != nil:
			return nil, err
		}
		host.Logger(ctx).Info("notified", "title", m.Title)
		return nil, nil
	}
}

// post sends body and classifies the answer: sent; rejected (a 4xx other
// than 408 and 429: posting again will not help); unavailable (the error
// says whether to slow down or retry).
func (n *Notify) post(ctx context.Context, body []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return "rejected", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.client.Do(req)
	if err != nil {
		// The URL is a credential (Slack's path is its secret): never in a
		// log, so name the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "unavailable", fmt.Errorf("%w: posting to %s: %v", host.ErrUnavailable, req.URL.Host, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	said := fmt.Sprintf("%s answered %d: %s", req.URL.Host, resp.StatusCode, strings.TrimSpace(clean(string(answer))))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return "sent", nil
	case resp.StatusCode == http.StatusTooManyRequests:
		return "unavailable", fmt.Errorf("%w: %s", host.ErrThrottled, said)
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return "unavailable", fmt.Errorf("%w: %s", host.ErrUnavailable, said)
	}
	return "rejected", errors.New(said)
}
