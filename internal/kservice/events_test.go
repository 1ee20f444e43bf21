package kservice

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"
)

// eventsAPI is the events.k8s.io/v1 create endpoint of an apiserver: it
// keeps what it is sent and answers 409 AlreadyExists to a name it has.
type eventsAPI struct {
	mu     sync.Mutex
	events map[string]eventsv1.Event
}

func (a *eventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/apis/events.k8s.io/v1/namespaces/demo/events" {
		http.Error(w, r.Method+" "+r.URL.Path, http.StatusNotFound)
		return
	}
	b, _ := io.ReadAll(r.Body)
	var ev eventsv1.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if _, ok := a.events[ev.Name]; ok {
		w.WriteHeader(http.StatusConflict)
		json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusFailure,
			Reason: metav1.StatusReasonAlreadyExists, Code: http.StatusConflict, Message: "events \"" + ev.Name + "\" already exists"})
		return
	}
	a.events[ev.Name] = ev
	w.WriteHeader(http.StatusCreated)
	w.Write(b)
}

func TestRecordCreatesOneEventPerKey(t *testing.T) {
	api := &eventsAPI{events: map[string]eventsv1.Event{}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	cs, err := servingclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := New(cs, time.Second)
	svc := &servingv1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "hello", UID: types.UID("u-1"), ResourceVersion: "7"}}
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 600) // 1200 bytes
	for _, ev := range []Event{
		{Reason: "StepLive", Key: "StepLive/hello-2/1", Note: "step 1 of 4 is live"},
		{Reason: "StepLive", Key: "StepLive/hello-2/1", Note: "the same decision again"},
		{Warning: true, Reason: "RolledBack", Key: "RolledBack/hello-2/hello-1", Note: long},
	} {
		if err := c.Record(context.Background(), svc, "rollout", ev, now); err != nil {
			t.Fatalf("%s: %v", ev.Reason, err)
		}
	}
	if len(api.events) != 2 {
		t.Fatalf("%d events, want 2 (a repeat of a key is one): %v", len(api.events), api.events)
	}
	for _, ev := range api.events {
		if ev.Regarding.Kind != "Service" || ev.Regarding.APIVersion != "serving.knative.dev/v1" || ev.Regarding.UID != "u-1" || ev.Regarding.Name != "hello" ||
			ev.ReportingController != "slipstream.dev/rollout" || ev.ReportingInstance == "" || !ev.EventTime.Time.Equal(now) || ev.Action != ev.Reason {
			t.Errorf("event %+v", ev)
		}
		switch ev.Reason {
		case "StepLive":
			if ev.Type != "Normal" || ev.Note != "step 1 of 4 is live" {
				t.Errorf("StepLive: %s %q", ev.Type, ev.Note)
			}
		case "RolledBack":
			if ev.Type != "Warning" || len(ev.Note) > maxNote || !strings.HasPrefix(long, ev.Note) || !strings.HasPrefix(ev.Name, "hello.") {
				t.Errorf("RolledBack: %s, note of %d bytes, name %s", ev.Type, len(ev.Note), ev.Name)
			}
		}
	}
	// A client that does not talk to an apiserver records nothing, and says nothing.
	if err := New(fake.NewSimpleClientset(), time.Second).Record(context.Background(), svc, "rollout", Event{Reason: "StepLive", Key: "k"}, now); err != nil {
		t.Errorf("fake clientset: %v", err)
	}
}
