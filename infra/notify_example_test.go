package infra

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	eventingv1 "knative.dev/eventing/pkg/apis/eventing/v1"
	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/functions/notify"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/local/broker"
)

// TestTheNotifyExampleTellsTheChat is examples/notify/ working: installed
// beside the base, its Triggers (run by the embedded broker with Knative's
// own filters) bring each promotion and rollback, and nothing else, to the
// notify function, which posts one message per event to the chat webhook.
func TestTheNotifyExampleTellsTheChat(t *testing.T) {
	docs := append(build(t, "base"), documents(t, "../examples/notify/notify.yaml")...)
	checkAudiences(t, docs)

	var mu sync.Mutex
	var posted []string
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		posted = append(posted, string(b))
		mu.Unlock()
	}))
	t.Cleanup(chat.Close)
	n, err := notify.New(config.Notify{URLFile: config.NewSecret([]byte(chat.URL + "/services/T0/B0/x")), Format: "slack", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(notify.Name, testutil.Shared(""), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	fn := httptest.NewServer(h.Handler(n.Function()))
	t.Cleanup(fn.Close)
	others := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})) // promote, rollout: accept
	t.Cleanup(others.Close)

	b, err := broker.New(eventingv1.BrokerSpec{}, triggersOf(t, docs), func(ref *duckv1.KReference) (string, error) {
		if ref.Name == notify.Name {
			return fn.URL, nil
		}
		return others.URL, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for _, d := range []eventing.Data{
		&eventing.RolloutPromoted{Namespace: "demo", Service: "hello", Revision: "hello-3f2a9c01b2", Image: "registry.example.com/team/hello:1.4.0@sha256:" + strings.Repeat("3", 64)},
		&eventing.TrafficShifted{Namespace: "demo", Service: "hello", StableRevision: "hello-a", CandidateRevision: "hello-b", Step: 1, Steps: 4,
			Traffic: []eventing.TrafficTarget{{RevisionName: "hello-a", Percent: 90, Tag: "stable"}, {RevisionName: "hello-b", Percent: 10, Tag: "candidate"}}},
		&eventing.RolloutRolledBack{Namespace: "demo", Service: "hello", StableRevision: "hello-3f2a9c01b2", CandidateRevision: "hello-9b8c7d6e5f",
			Image: "registry.example.com/team/hello:1.5.0@sha256:" + strings.Repeat("9", 64), Reason: "alert HighErrorRate"},
	} {
		e, err := eventing.New("rollout", d, at)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(e); err != nil {
			t.Fatal(err)
		}
	}
	b.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 2 || !strings.Contains(strings.Join(posted, "\n"), "1.4.0 (hello-3f2a9c01b2) promoted") ||
		!strings.Contains(strings.Join(posted, "\n"), "1.5.0 (hello-9b8c7d6e5f) rolled back") {
		t.Errorf("the chat got %d messages, want the promotion and the rollback:\n%s", len(posted), strings.Join(posted, "\n"))
	}
}
