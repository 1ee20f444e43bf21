package broker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	eventingduckv1 "knative.dev/eventing/pkg/apis/duck/v1"
	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/infra"
)

func ev(typ string, ext map[string]string) cloudevents.Event {
	e := cloudevents.NewEvent()
	e.SetID(fmt.Sprintf("%s-%d", typ, time.Now().UnixNano()))
	e.SetType(typ)
	e.SetSource("/test")
	e.SetSubject("demo/hello")
	for k, v := range ext {
		e.SetExtension(k, v)
	}
	_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"a": "b"})
	return e
}

func matches(t *testing.T, tr eventingv1.Trigger, e cloudevents.Event) bool {
	t.Helper()
	return triggerFilter(tr).Filter(context.Background(), e) != 1 // eventfilter.FailFilter
}

// TestInfraTriggersRoute: the Triggers shipped in infra/ route each event
// type to the function the pipeline needs, with Knative's own filter code.
func TestInfraTriggersRoute(t *testing.T) {
	contents, err := infra.Base()
	if err != nil {
		t.Fatal(err)
	}
	spec, triggers, err := LoadManifests("default", contents...)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Delivery == nil || *spec.Delivery.Retry != 5 {
		t.Errorf("broker delivery %+v", spec.Delivery)
	}
	want := map[string]string{
		eventing.TypeImagePushed: "promote", eventing.TypeManifestCommitted: "rollout", eventing.TypeTrafficShifted: "promote",
		eventing.TypeRolloutPromoted: "promote", eventing.TypeRolloutRolledBack: "promote", eventing.TypePing: "rollout",
		"dev.knative.apiserver.resource.update": "rollout", "dev.knative.apiserver.resource.add": "rollout",
	}
	for typ, fn := range want {
		var got []string
		for _, tr := range triggers {
			if matches(t, tr, ev(typ, nil)) {
				got = append(got, tr.Spec.Subscriber.Ref.Name)
			}
		}
		if diff := cmp.Diff([]string{fn}, got); diff != "" {
			t.Errorf("%s: subscribers (-want +got):\n%s", typ, diff)
		}
	}
	for _, tr := range triggers {
		if matches(t, tr, ev("com.example.unrelated", nil)) {
			t.Errorf("trigger %s takes an unrelated type", tr.Name)
		}
	}
}

// TestFilterDialects proves Knative's semantics for every form: exact,
// prefix, suffix, all (AND), any (OR), not, the legacy attributes filter
// (empty value: present with any value), and filters winning over filter.
func TestFilterDialects(t *testing.T) {
	trig := func(filters []eventingv1.SubscriptionsAPIFilter, legacy map[string]string) eventingv1.Trigger {
		tr := eventingv1.Trigger{}
		tr.Spec.Filters = filters
		if legacy != nil {
			tr.Spec.Filter = &eventingv1.TriggerFilter{Attributes: legacy}
		}
		return tr
	}
	image := ev(eventing.TypeImagePushed, map[string]string{"repository": "team/hello", "tag": "1.4.0"})
	latest := ev(eventing.TypeImagePushed, map[string]string{"repository": "team/hello", "tag": "latest"})
	tests := []struct {
		name string
		tr   eventingv1.Trigger
		e    cloudevents.Event
		want bool
	}{
		{
			name: "exact",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": eventing.TypeImagePushed}}}, nil),
			e:    image,
			want: true,
		},
		{
			name: "exact is case-sensitive",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": "DEV.slipstream.image.pushed.v1"}}}, nil),
			e:    image,
			want: false,
		},
		{
			name: "prefix",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"type": "dev.slipstream."}}}, nil),
			e:    image,
			want: true,
		},
		{
			name: "suffix",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Suffix: map[string]string{"type": ".v2"}}}, nil),
			e:    image,
			want: false,
		},
		{
			name: "missing attribute fails",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"digest": "x"}}}, nil),
			e:    image,
			want: false,
		},
		{
			name: "list is AND",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": eventing.TypeImagePushed}}, {Exact: map[string]string{"tag": "2.0.0"}}}, nil),
			e:    image,
			want: false,
		},
		{
			name: "any",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Any: []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"tag": "2.0.0"}}, {Exact: map[string]string{"tag": "1.4.0"}}}}}, nil),
			e:    image,
			want: true,
		},
		{
			name: "all",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{All: []eventingv1.SubscriptionsAPIFilter{{Prefix: map[string]string{"repository": "team/"}}, {Exact: map[string]string{"tag": "1.4.0"}}}}}, nil),
			e:    image,
			want: true,
		},
		{
			name: "not",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Not: &eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"tag": "latest"}}}}, nil),
			e:    latest,
			want: false,
		},
		{
			name: "not passes others",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Not: &eventingv1.SubscriptionsAPIFilter{Exact: map[string]string{"tag": "latest"}}}}, nil),
			e:    image,
			want: true,
		},
		{
			name: "legacy exact",
			tr:   trig(nil, map[string]string{"type": eventing.TypeImagePushed, "tag": "1.4.0"}),
			e:    image,
			want: true,
		},
		{
			name: "legacy empty value: present",
			tr:   trig(nil, map[string]string{"tag": ""}),
			e:    image,
			want: true,
		},
		{
			name: "legacy empty value: absent fails",
			tr:   trig(nil, map[string]string{"digest": ""}),
			e:    image,
			want: false,
		},
		{
			name: "filters win over filter",
			tr:   trig([]eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"tag": "1.4.0"}}}, map[string]string{"tag": "nope"}),
			e:    image,
			want: true,
		},
		{
			name: "no filter takes everything",
			tr:   trig(nil, nil),
			e:    image,
			want: true,
		},
	}
	for _, tc := range tests {
		if got := matches(t, tc.tr, tc.e); got != tc.want {
			t.Errorf("%s: matched %v, want %v", tc.name, got, tc.want)
		}
	}
}

// subscriber is a real HTTP subscriber that fails its first answers, then
// replies (or not).
type subscriber struct {
	mu       sync.Mutex
	fail     []int
	reply    func(e cloudevents.Event) *cloudevents.Event
	received []cloudevents.Event
	got      chan cloudevents.Event
}

func (s *subscriber) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e, _ := cehttp.NewEventFromHTTPRequest(r)
	s.mu.Lock()
	if len(s.fail) > 0 {
		code := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		w.WriteHeader(code)
		return
	}
	s.received = append(s.received, *e)
	reply := s.reply
	s.mu.Unlock()
	if s.got != nil {
		s.got <- *e
	}
	if reply != nil {
		if out := reply(*e); out != nil {
			cehttp.WriteResponseWriter(context.Background(), bindingMessage(out), 200, w)
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

func newBroker(t *testing.T, subs map[string]*subscriber, triggers []eventingv1.Trigger, retry int32) (*Broker, *httptest.Server) {
	urls := map[string]string{}
	for name, s := range subs {
		srv := httptest.NewServer(s)
		t.Cleanup(srv.Close)
		urls[name] = srv.URL
	}
	backoff := "PT0.01S"
	policy := eventingduckv1.BackoffPolicyExponential
	spec := eventingv1.BrokerSpec{Delivery: &eventingduckv1.DeliverySpec{Retry: &retry, BackoffDelay: &backoff, BackoffPolicy: &policy,
		DeadLetterSink: &duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: "dead-letters"}}}}
	b, err := New(spec, triggers, func(ref *duckv1.KReference) (string, error) {
		if u, ok := urls[ref.Name]; ok {
			return u, nil
		}
		return "", fmt.Errorf("no %s", ref.Name)
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(b)
	t.Cleanup(func() { srv.Close(); b.Close() })
	return b, srv
}

func typeTrigger(name, typ, sub string) eventingv1.Trigger {
	tr := eventingv1.Trigger{}
	tr.Name = name
	tr.Spec.Broker = "default"
	tr.Spec.Filters = []eventingv1.SubscriptionsAPIFilter{{Exact: map[string]string{"type": typ}}}
	tr.Spec.Subscriber.Ref = &duckv1.KReference{Kind: "Service", Name: sub}
	return tr
}

func post(t *testing.T, url string, e cloudevents.Event) int {
	client, _ := cloudevents.NewClientHTTP()
	res := client.Send(cloudevents.ContextWithTarget(context.Background(), url), e)
	var hr *cehttp.Result
	if !cloudevents.ResultAs(res, &hr) {
		t.Fatalf("result %v", res)
	}
	return hr.StatusCode
}

func waitFor(t *testing.T, ch chan cloudevents.Event) cloudevents.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no delivery")
	}
	return cloudevents.Event{}
}

func TestRetriesThenDelivers(t *testing.T) {
	a := &subscriber{fail: []int{503, 429}, got: make(chan cloudevents.Event, 1)}
	_, srv := newBroker(t, map[string]*subscriber{"a": a}, []eventingv1.Trigger{typeTrigger("t", "x.y", "a")}, 3)
	if code := post(t, srv.URL, ev("x.y", nil)); code != 202 {
		t.Fatalf("ingress %d", code)
	}
	e := waitFor(t, a.got)
	if e.Extensions()[TTLExtension] == nil {
		t.Error("no TTL attached")
	}
}

func TestPermanentFailureGoesToTheDeadLetterSink(t *testing.T) {
	a := &subscriber{fail: []int{400}}
	dl := &subscriber{got: make(chan cloudevents.Event, 1)}
	_, srv := newBroker(t, map[string]*subscriber{"a": a, "dead-letters": dl}, []eventingv1.Trigger{typeTrigger("t", "x.y", "a")}, 3)
	post(t, srv.URL, ev("x.y", nil))
	e := waitFor(t, dl.got)
	if e.Extensions()["knativeerrorcode"] == nil {
		t.Errorf("dead letter without knativeerrorcode: %v", e.Extensions())
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.received) != 0 {
		t.Error("a 400 was retried")
	}
}

func TestRepliesReenterAndLoopsDie(t *testing.T) {
	b := &subscriber{got: make(chan cloudevents.Event, 1)}
	echo := &subscriber{}
	echo.reply = func(e cloudevents.Event) *cloudevents.Event {
		r := ev("reply.type", nil)
		return &r
	}
	_, srv := newBroker(t, map[string]*subscriber{"echo": echo, "b": b}, []eventingv1.Trigger{typeTrigger("t1", "x.y", "echo"), typeTrigger("t2", "reply.type", "b")}, 0)
	post(t, srv.URL, ev("x.y", nil))
	if got := waitFor(t, b.got); got.Type() != "reply.type" {
		t.Errorf("got %s", got.Type())
	}

	// An event that replies with itself loops until the TTL runs out.
	loop := &subscriber{}
	loop.reply = func(e cloudevents.Event) *cloudevents.Event { r := e.Clone(); r.SetID(r.ID() + "+"); return &r }
	br, srv2 := newBroker(t, map[string]*subscriber{"loop": loop}, []eventingv1.Trigger{typeTrigger("t", "loop", "loop")}, 0)
	post(t, srv2.URL, ev("loop", nil))
	br.Wait()
	loop.mu.Lock()
	n := len(loop.received)
	loop.mu.Unlock()
	if n < 200 || n > maxTTL {
		t.Errorf("a reply loop ran %d times, want it to stop at the TTL (%d)", n, maxTTL)
	}
}

func TestIngressRefusesBadInput(t *testing.T) {
	_, srv := newBroker(t, map[string]*subscriber{}, nil, 0)
	resp, _ := http.Post(srv.URL, "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != 400 {
		t.Errorf("not a CloudEvent: %d", resp.StatusCode)
	}
	resp, _ = http.Get(srv.URL)
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d", resp.StatusCode)
	}
	if d, err := parseISODuration("PT1M30.5S"); err != nil || d != 90500*time.Millisecond {
		t.Errorf("PT1M30.5S = %v %v", d, err)
	}
	if _, err := parseISODuration("500ms"); err == nil {
		t.Error("500ms accepted as ISO-8601")
	}
}

// TestDeliveriesCarryTheTriggersToken: with WithTokens, a delivery to a
// subscriber with an audience carries a token minted for the Trigger's
// identity (Knative's ServiceAccount name for it) and that audience, one
// minted per attempt; a subscriber without an audience gets none; a token
// that cannot be minted fails the attempt, which is retried.
func TestDeliveriesCarryTheTriggersToken(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	audience := "serving.knative.dev/service/slipstream/promote"
	trigger := func(name, path string, audience *string) eventingv1.Trigger {
		return eventingv1.Trigger{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "slipstream"}, Spec: eventingv1.TriggerSpec{
			Subscriber: duckv1.Destination{Ref: &duckv1.KReference{Kind: "Service", Name: path}, Audience: audience}}}
	}
	var mints atomic.Int32
	tokens := func(_ context.Context, subject, aud string) (string, error) {
		if mints.Add(1) == 1 {
			return "", errors.New("the token API is down")
		}
		return subject + "|" + aud, nil
	}
	retry := int32(2)
	b, err := New(eventingv1.BrokerSpec{Delivery: &eventingduckv1.DeliverySpec{Retry: &retry}},
		[]eventingv1.Trigger{trigger("image-pushed", "with", &audience), trigger("plain", "without", nil)},
		func(ref *duckv1.KReference) (string, error) { return srv.URL + "/" + ref.Name, nil }, WithTokens(tokens))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Publish(ev("any", nil)); err != nil {
		t.Fatal(err)
	}
	b.Wait()
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]string{
		"/with":    {"Bearer system:serviceaccount:slipstream:image-pushed-oidc-eventing.knative.dev-trigger|" + audience},
		"/without": {""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Authorization per subscriber (-want +got):\n%s", diff)
	}
	if n := mints.Load(); n != 2 {
		t.Errorf("%d tokens minted, want 2 (the failed one, then the retry's)", n)
	}
}

// TestSubscribersOfInfra: what each of infra/'s subscribers verifies, and a
// subscriber given two audiences is an error.
func TestSubscribersOfInfra(t *testing.T) {
	a, b := "a", "b"
	two := []eventingv1.Trigger{
		{ObjectMeta: metav1.ObjectMeta{Name: "one"}, Spec: eventingv1.TriggerSpec{Subscriber: duckv1.Destination{Ref: &duckv1.KReference{Name: "fn"}, Audience: &a}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "two"}, Spec: eventingv1.TriggerSpec{Subscriber: duckv1.Destination{Ref: &duckv1.KReference{Name: "fn"}, Audience: &b}}},
	}
	if _, err := Subscribers(two); err == nil || !strings.Contains(err.Error(), "fn") {
		t.Errorf("two audiences for one subscriber: %v, want an error naming it", err)
	}
	contents, err := infra.Base()
	if err != nil {
		t.Fatal(err)
	}
	_, triggers, err := LoadManifests("default", contents...)
	if err != nil {
		t.Fatal(err)
	}
	subs, err := Subscribers(triggers)
	if err != nil {
		t.Fatal(err)
	}
	id := func(trigger string) string {
		return "system:serviceaccount:slipstream:" + trigger + "-oidc-eventing.knative.dev-trigger"
	}
	want := map[string]Subscriber{
		"promote": {Audience: "serving.knative.dev/service/slipstream/promote",
			Subjects: []string{id("image-pushed"), id("rollout-promoted"), id("rollout-rolledback"), id("traffic-shifted")}},
		"rollout": {Audience: "serving.knative.dev/service/slipstream/rollout",
			Subjects: []string{id("knative-changes"), id("manifest-committed"), id("tick")}},
	}
	if diff := cmp.Diff(want, subs); diff != "" {
		t.Errorf("subscribers (-want +got):\n%s", diff)
	}
}
