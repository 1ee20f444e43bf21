package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/slipstream-cd/slipstream/internal/backoff"
)

// ErrNoSink means K_SINK is not set but the function must send events.
var ErrNoSink = errors.New("K_SINK is not set: this function sends events to a sink; bind one with a SinkBinding or set K_SINK")

// Sender sends events to the sink (K_SINK) in binary mode, retrying transient
// failures with exponential backoff. It is safe for concurrent use.
type Sender struct {
	target    string
	client    *http.Client
	retries   int
	backoff   time.Duration
	timeout   time.Duration
	overrides map[string]string
	tokenFile string
	log       *slog.Logger
	metrics   *metrics
	// wait pauses between attempts; tests may shorten it, never with time.Sleep.
	wait func(ctx context.Context, d time.Duration) error
}

// Sender returns a Sender for K_SINK with the host's retry settings, or
// ErrNoSink when K_SINK is not set.
func (h *Host) Sender() (*Sender, error) {
	if h.settings.Sink == "" {
		return nil, ErrNoSink
	}
	return &Sender{
		target: h.settings.Sink,
		// A broker's ingress never redirects: following one would carry
		// the token elsewhere.
		client:    &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		retries:   h.settings.SinkRetries,
		backoff:   h.settings.SinkBackoff,
		timeout:   h.settings.SinkTimeout,
		overrides: h.settings.CEOverrides.Extensions,
		tokenFile: h.settings.SinkTokenFile,
		log:       h.log,
		metrics:   h.metrics,
		wait:      backoff.Wait,
	}, nil
}

// maxRetryAfter caps how long a sink's Retry-After can make the sender wait.
const maxRetryAfter = 30 * time.Second

// Send delivers e. It retries transport errors and the statuses Knative
// retries (404, 408, 409, 429, 5xx) up to the configured number of times,
// waiting backoff, 2×backoff, 4×backoff… (or the sink's Retry-After in seconds,
// up to 30 s, when longer), each attempt bounded by the send timeout. It
// returns nil once the sink answers 2xx, an error wrapping ErrUnavailable when
// retries run out or ctx ends, and a plain error when the sink refuses the
// event for good (other 4xx: a bug, not a transient fault).
func (s *Sender) Send(ctx context.Context, e cloudevents.Event) error {
	e = e.Clone()
	for k, v := range s.overrides {
		e.SetExtension(k, v)
	}
	delay := s.backoff
	var last error
	for attempt := 0; ; attempt++ {
		status, retryAfter, err := s.attempt(ctx, e)
		switch {
		case err == nil && status/100 == 2:
			s.metrics.sends.WithLabelValues("sent").Inc()
			return nil
		case err == nil && !retryable(status):
			s.metrics.sends.WithLabelValues("rejected").Inc()
			return fmt.Errorf("sink %s refused event %s (%s): status %d", s.target, e.ID(), e.Type(), status)
		case err == nil:
			last = fmt.Errorf("status %d", status)
		default:
			last = err
		}
		if attempt >= s.retries {
			break
		}
		wait := delay
		if retryAfter > wait {
			wait = min(retryAfter, maxRetryAfter)
		}
		s.log.Warn("sink send failed; retrying", "ce.id", e.ID(), "attempt", attempt+1, "error", last.Error(), "retry_in", wait.String())
		if err := s.wait(ctx, wait); err != nil {
			last = err
			break
		}
		delay *= 2
	}
	s.metrics.sends.WithLabelValues("unavailable").Inc()
	return fmt.Errorf("%w: sending event %s to sink %s: %v", ErrUnavailable, e.ID(), s.target, last)
}

func (s *Sender) attempt(ctx context.Context, e cloudevents.Event) (status int, retryAfter time.Duration, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.target, nil)
	if err != nil {
		return 0, 0, err
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		return 0, 0, fmt.Errorf("encoding event: %w", err)
	}
	token, err := s.token()
	if err != nil {
		return 0, 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, retryAfter, nil
}

// maxTokenBytes bounds the token file read: a projected ServiceAccount
// token is a few KiB.
const maxTokenBytes = 64 << 10

// token reads the sink's OIDC token, afresh each time (the SinkBinding's
// Secret is updated in place when the token is renewed); "" when the file
// does not exist.
func (s *Sender) token() (string, error) {
	if s.tokenFile == "" {
		return "", nil
	}
	info, err := os.Stat(s.tokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the sink's OIDC token: %w", err)
	}
	if !info.Mode().IsRegular() { // a FIFO or device would block the open or never end
		return "", fmt.Errorf("the sink's OIDC token %s is not a regular file", s.tokenFile)
	}
	f, err := os.Open(s.tokenFile)
	if err != nil {
		return "", fmt.Errorf("reading the sink's OIDC token: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("reading the sink's OIDC token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("the sink's OIDC token file %s is empty", s.tokenFile)
	}
	if len(b) > maxTokenBytes || strings.ContainsAny(token, " \r\n\t") {
		return "", fmt.Errorf("the sink's OIDC token in %s is not one token", s.tokenFile)
	}
	return token, nil
}

// retryable lists the statuses Knative Eventing retries.
func retryable(status int) bool {
	switch status {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}
