package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	"knative.dev/eventing/pkg/eventfilter"
	"knative.dev/eventing/pkg/eventfilter/attributes"
	"knative.dev/eventing/pkg/eventfilter/subscriptionsapi"
	duckv1 "knative.dev/pkg/apis/duck/v1"
	"knative.dev/pkg/kmeta"
)

// TTLExtension is the hop budget Knative's broker attaches to events.
const TTLExtension = "knativebrokerttl"

// maxTTL is Knative's default (MAX_TTL).
const maxTTL = 255

// Resolve turns a Destination reference into a URL.
type Resolve func(ref *duckv1.KReference) (string, error)

// Delivered reports one delivery attempt's outcome, for observers.
type Delivered struct {
	Trigger    string
	Subscriber string
	Event      cloudevents.Event
	Status     int
	Err        error
	Reply      *cloudevents.Event
}

// delivery is a parsed delivery spec.
type delivery struct {
	retry      int
	backoff    time.Duration
	linear     bool
	timeout    time.Duration
	deadLetter string
}

type route struct {
	name string
	// identity is the Trigger's OIDC identity (a token's subject) and
	// audience its subscriber's audience; empty: deliveries carry no token.
	identity, audience string
	// mu guards filter: Knative's all/any filters reorder themselves as they run.
	mu         *sync.Mutex
	filter     eventfilter.Filter
	subscriber string
	delivery   delivery
}

// Broker routes events to Trigger subscribers.
type Broker struct {
	routes  []route
	client  *http.Client
	log     *slog.Logger
	observe func(Delivered)
	tokens  Tokens
	wg      sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc
}

// Option configures a Broker.
type Option func(*Broker)

// WithLogger sets the logger. Default: discard.
func WithLogger(l *slog.Logger) Option { return func(b *Broker) { b.log = l } }

// WithObserver is called after every delivery attempt (the demo's event log).
func WithObserver(f func(Delivered)) Option { return func(b *Broker) { b.observe = f } }

// Tokens mints a bearer token for a Trigger's identity (its OIDC
// ServiceAccount, as a subject system:serviceaccount:<ns>:<name>) and its
// subscriber's audience: the cluster's TokenRequest in Knative, a local
// issuer in `slipstream dev`.
type Tokens func(ctx context.Context, subject, audience string) (string, error)

// WithTokens turns on OIDC delivery, as Eventing's authentication-oidc
// feature does: a delivery to a Trigger whose subscriber has an audience
// carries "Authorization: Bearer <token>" minted by tokens for the
// Trigger's identity; a token that cannot be minted fails the attempt
// (retried). Without it, audiences are ignored, as with the feature off.
func WithTokens(tokens Tokens) Option { return func(b *Broker) { b.tokens = tokens } }

// Identity is the subject of a Trigger's tokens: the ServiceAccount
// Knative Eventing makes for the Trigger's OIDC identity
// (auth.GetOIDCServiceAccountNameForResource: <trigger>-oidc-<group>-<kind>,
// lower case, shortened as kmeta.ChildName does).
func Identity(t eventingv1.Trigger) string {
	name := strings.ToLower(kmeta.ChildName(t.Name, "-oidc-eventing.knative.dev-Trigger"))
	return "system:serviceaccount:" + t.Namespace + ":" + name
}

// New returns a broker for the Triggers of one Broker object; resolve finds
// subscriber and dead-letter URLs.
func New(spec eventingv1.BrokerSpec, triggers []eventingv1.Trigger, resolve Resolve, opts ...Option) (*Broker, error) {
	b := &Broker{client: &http.Client{}, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(b)
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	def, err := parseDelivery(spec.Delivery, resolve)
	if err != nil {
		return nil, fmt.Errorf("broker delivery: %w", err)
	}
	for _, t := range triggers {
		r := route{name: t.Name, delivery: def, mu: &sync.Mutex{}}
		if a := t.Spec.Subscriber.Audience; a != nil && *a != "" && b.tokens != nil {
			r.identity, r.audience = Identity(t), *a
		}
		if t.Spec.Delivery != nil { // a Trigger's delivery replaces the Broker's as a whole
			if r.delivery, err = parseDelivery(t.Spec.Delivery, resolve); err != nil {
				return nil, fmt.Errorf("trigger %s delivery: %w", t.Name, err)
			}
		}
		if t.Spec.Subscriber.Ref == nil {
			return nil, fmt.Errorf("trigger %s: only subscriber refs are supported here", t.Name)
		}
		if r.subscriber, err = resolve(t.Spec.Subscriber.Ref); err != nil {
			return nil, fmt.Errorf("trigger %s: %w", t.Name, err)
		}
		r.filter = triggerFilter(t)
		b.routes = append(b.routes, r)
	}
	return b, nil
}

// triggerFilter builds a Trigger's filter as Knative's filter handler does:
// filters win over the legacy filter when both are set. The dialects are
// Knative's own (exact, prefix, suffix, not, cesql, attributes); all and any
// are evaluated in order here, because Knative's versions reorder themselves
// from a background goroutine, which races when one filter serves concurrent
// deliveries.
func triggerFilter(t eventingv1.Trigger) eventfilter.Filter {
	if len(t.Spec.Filters) > 0 {
		return allOf(materialize(t.Spec.Filters))
	}
	if t.Spec.Filter != nil {
		return attributes.NewAttributesFilter(t.Spec.Filter.Attributes)
	}
	return subscriptionsapi.NewNoFilter()
}

func materialize(filters []eventingv1.SubscriptionsAPIFilter) []eventfilter.Filter {
	out := make([]eventfilter.Filter, 0, len(filters))
	for _, f := range filters {
		var m eventfilter.Filter
		var err error
		switch {
		case len(f.Exact) > 0:
			m, err = subscriptionsapi.NewExactFilter(f.Exact)
		case len(f.Prefix) > 0:
			m, err = subscriptionsapi.NewPrefixFilter(f.Prefix)
		case len(f.Suffix) > 0:
			m, err = subscriptionsapi.NewSuffixFilter(f.Suffix)
		case len(f.All) > 0:
			m = allOf(materialize(f.All))
		case len(f.Any) > 0:
			m = anyOf(materialize(f.Any))
		case f.Not != nil:
			if inner := materialize([]eventingv1.SubscriptionsAPIFilter{*f.Not}); len(inner) == 1 {
				m = subscriptionsapi.NewNotFilter(inner[0])
			}
		case f.CESQL != "":
			m, err = subscriptionsapi.NewCESQLFilter(f.CESQL)
		}
		if err == nil && m != nil {
			out = append(out, m) // Knative skips a filter it cannot build, too
		}
	}
	return out
}

type allFilter []eventfilter.Filter

func allOf(fs []eventfilter.Filter) eventfilter.Filter { return allFilter(fs) }

// Filter passes when no filter fails (Knative's all semantics).
func (a allFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	res := eventfilter.NoFilter
	for _, f := range a {
		switch f.Filter(ctx, e) {
		case eventfilter.FailFilter:
			return eventfilter.FailFilter
		case eventfilter.PassFilter:
			res = eventfilter.PassFilter
		}
	}
	return res
}

func (a allFilter) Cleanup() {}

type anyFilter []eventfilter.Filter

func anyOf(fs []eventfilter.Filter) eventfilter.Filter { return anyFilter(fs) }

// Filter passes when one filter passes (Knative's any semantics).
func (a anyFilter) Filter(ctx context.Context, e cloudevents.Event) eventfilter.FilterResult {
	res := eventfilter.NoFilter
	for _, f := range a {
		switch f.Filter(ctx, e) {
		case eventfilter.PassFilter:
			return eventfilter.PassFilter
		case eventfilter.FailFilter:
			res = eventfilter.FailFilter
		}
	}
	return res
}

func (a anyFilter) Cleanup() {}

var isoDuration = regexp.MustCompile(`^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$`)

// parseISODuration reads the ISO-8601 durations delivery specs use (PT0.5S, PT1M).
func parseISODuration(s string) (time.Duration, error) {
	m := isoDuration.FindStringSubmatch(s)
	if m == nil || s == "PT" {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as PT0.5S", s)
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		if m[i+1] != "" {
			f, _ := strconv.ParseFloat(m[i+1], 64)
			d += time.Duration(f * float64(unit))
		}
	}
	return d, nil
}

func parseDelivery(spec *eventingduckv1.DeliverySpec, resolve Resolve) (delivery, error) {
	d := delivery{timeout: 30 * time.Second, backoff: 200 * time.Millisecond}
	if spec == nil {
		return d, nil
	}
	if spec.Retry != nil {
		d.retry = int(*spec.Retry)
	}
	if spec.BackoffPolicy != nil && *spec.BackoffPolicy == eventingduckv1.BackoffPolicyLinear {
		d.linear = true
	}
	var err error
	if spec.BackoffDelay != nil {
		if d.backoff, err = parseISODuration(*spec.BackoffDelay); err != nil {
			return d, err
		}
	}
	if spec.Timeout != nil {
		if d.timeout, err = parseISODuration(*spec.Timeout); err != nil {
			return d, err
		}
	}
	if spec.DeadLetterSink != nil && spec.DeadLetterSink.Ref != nil {
		if d.deadLetter, err = resolve(spec.DeadLetterSink.Ref); err != nil {
			d.deadLetter = "" // no dead-letter sink here: failed events are logged
		}
	}
	return d, nil
}

// ServeHTTP is the ingress: POST a CloudEvent, 202 when accepted.
func (b *Broker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		w.Header().Set("Allow", "POST, OPTIONS")
		w.Header().Set("WebHook-Allowed-Origin", "*")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	e, err := cehttp.NewEventFromHTTPRequest(r)
	if err == nil {
		err = e.Validate()
	}
	if err != nil {
		http.Error(w, "not a valid CloudEvent: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := b.Publish(*e); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// Publish routes an event to every matching Trigger, asynchronously.
func (b *Broker) Publish(e cloudevents.Event) error {
	ttl := maxTTL
	if v, ok := e.Extensions()[TTLExtension]; ok {
		n, err := strconv.Atoi(fmt.Sprint(v))
		if err != nil {
			return fmt.Errorf("%s %v is not a number", TTLExtension, v)
		}
		ttl = n - 1
	}
	if ttl <= 0 {
		return fmt.Errorf("%s exhausted: a reply loop?", TTLExtension)
	}
	e = e.Clone()
	e.SetExtension(TTLExtension, ttl)
	for _, r := range b.routes {
		r.mu.Lock()
		result := r.filter.Filter(b.ctx, e)
		r.mu.Unlock()
		if result == eventfilter.FailFilter {
			continue
		}
		b.wg.Add(1)
		go func(r route) {
			defer b.wg.Done()
			b.deliver(r, e)
		}(r)
	}
	return nil
}

// Emit publishes an event as a source (a PingSource, an ApiServerSource)
// sends one: the type, source and subject given (subject may be empty), an
// id made of the type and the time, the time, and data as JSON.
func (b *Broker) Emit(typ, source, subject string, data any) error {
	e := cloudevents.NewEvent()
	e.SetID(fmt.Sprintf("%s-%d", typ, time.Now().UnixNano()))
	e.SetType(typ)
	e.SetSource(source)
	if subject != "" {
		e.SetSubject(subject)
	}
	e.SetTime(time.Now())
	if err := e.SetData(cloudevents.ApplicationJSON, data); err != nil {
		return err
	}
	return b.Publish(e)
}

// Wait blocks until no delivery is in flight (replies included).
func (b *Broker) Wait() { b.wg.Wait() }

// Close stops retries and waits for deliveries in flight.
func (b *Broker) Close() {
	b.cancel()
	b.wg.Wait()
}

// retryable lists what Knative's dispatcher retries.
func retryable(status int) bool {
	switch status {
	case 404, 408, 409, 429:
		return true
	}
	return status >= 500
}

func (b *Broker) deliver(r route, e cloudevents.Event) {
	var status int
	var err error
	var reply *cloudevents.Event
	for attempt := 0; ; attempt++ {
		status, reply, err = b.send(r, r.subscriber, e, r.delivery.timeout)
		if b.observe != nil {
			b.observe(Delivered{Trigger: r.name, Subscriber: r.subscriber, Event: e, Status: status, Err: err, Reply: reply})
		}
		if err == nil && status/100 == 2 {
			if reply != nil {
				if ttl, ok := e.Extensions()[TTLExtension]; ok {
					reply.SetExtension(TTLExtension, ttl)
				}
				if perr := b.Publish(*reply); perr != nil {
					b.log.Warn("reply dropped", "trigger", r.name, "error", perr.Error())
				}
			}
			return
		}
		if (err == nil && !retryable(status)) || attempt >= r.delivery.retry {
			break
		}
		delay := r.delivery.backoff * time.Duration(1<<attempt)
		if r.delivery.linear {
			delay = r.delivery.backoff * time.Duration(attempt+1)
		}
		select {
		case <-b.ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	b.log.Warn("delivery failed", "trigger", r.name, "ce.id", e.ID(), "ce.type", e.Type(), "status", status, "error", fmt.Sprint(err))
	if r.delivery.deadLetter != "" {
		dl := e.Clone()
		dl.SetExtension("knativeerrordest", r.subscriber)
		dl.SetExtension("knativeerrorcode", status)
		b.send(route{}, r.delivery.deadLetter, dl, r.delivery.timeout)
	}
}

// send posts e in binary mode, with r's token when it has an audience, and
// reads a reply event, if any.
func (b *Broker) send(r route, url string, e cloudevents.Event, timeout time.Duration) (int, *cloudevents.Event, error) {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if r.audience != "" {
		token, err := b.tokens(ctx, r.identity, r.audience)
		if err != nil {
			return 0, nil, fmt.Errorf("minting trigger %s's token: %w", r.name, err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if err := cehttp.WriteRequest(ctx, binding.ToMessage(&e), req); err != nil {
		return 0, nil, err
	}
	req.Header.Set("Prefer", "reply")
	resp, err := b.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 || (len(body) == 0 && resp.Header.Get("Ce-Id") == "") {
		return resp.StatusCode, nil, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	reply, err := cehttp.NewEventFromHTTPResponse(resp)
	if err != nil {
		// A 2xx body that is not a CloudEvent: Knative answers 502 and retries.
		return http.StatusBadGateway, nil, errors.New("subscriber replied with a body that is not a CloudEvent")
	}
	return resp.StatusCode, reply, nil
}

// Subscriber is what a Trigger's subscriber verifies of its deliveries
// under OIDC: the audience its Triggers mint tokens for, and their
// identities (the tokens' subjects), sorted.
type Subscriber struct {
	Audience string
	Subjects []string
}

// Subscribers maps each subscriber, by its ref's name, to what it
// verifies. Triggers that point at one subscriber with different
// audiences (or one without) are an error: it verifies one audience.
func Subscribers(triggers []eventingv1.Trigger) (map[string]Subscriber, error) {
	subs := map[string]Subscriber{}
	for _, t := range triggers {
		if t.Spec.Subscriber.Ref == nil {
			continue
		}
		name, audience := t.Spec.Subscriber.Ref.Name, ""
		if a := t.Spec.Subscriber.Audience; a != nil {
			audience = *a
		}
		s, seen := subs[name]
		if seen && s.Audience != audience {
			return nil, fmt.Errorf("trigger %s gives subscriber %s the audience %q, another Trigger %q", t.Name, name, audience, s.Audience)
		}
		s.Audience, s.Subjects = audience, append(s.Subjects, Identity(t))
		slices.Sort(s.Subjects)
		subs[name] = s
	}
	return subs, nil
}
