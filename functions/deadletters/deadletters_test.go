package deadletters

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/host"
	"github.com/slipstream-cd/slipstream/internal/testutil"
)

// TestADeadLetterIsLoggedAndCounted: as the broker sends it after its
// retries (Knative's error extensions set), each event is acknowledged,
// logged with where it was going and what that answered, cut to a bounded
// length, and counted by a bounded type.
func TestADeadLetterIsLoggedAndCounted(t *testing.T) {
	logs := &testutil.Buffer{}
	h, err := host.New(Name, testutil.Shared(""), slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler(New().Function()))
	t.Cleanup(srv.Close)
	send := func(typ, id string, data string) int {
		e := cloudevents.NewEvent()
		e.SetType(typ)
		e.SetID(id)
		e.SetSource("/apis/v1/namespaces/slipstream/brokers/default")
		e.SetSubject("demo/hello")
		e.SetExtension("knativeerrordest", "http://promote.slipstream.svc.cluster.local")
		e.SetExtension("knativeerrorcode", "503")
		e.SetExtension("knativeerrordata", strings.Repeat("busy ", 1000))
		_ = e.SetData(cloudevents.ApplicationJSON, map[string]string{"x": data})
		client, _ := cloudevents.NewClientHTTP()
		res := client.Send(cloudevents.ContextWithTarget(context.Background(), srv.URL), e)
		var hr *cehttp.Result
		if !cloudevents.ResultAs(res, &hr) {
			t.Fatalf("result %v", res)
		}
		return hr.StatusCode
	}
	if status := send(eventing.TypeTrafficShifted, "e1", "step"); status != 202 {
		t.Errorf("a dead letter: %d, want 202", status)
	}
	for i := 0; i < 3; i++ {
		send("com.example.anything.v"+string(rune('1'+i)), "e-other", "x")
	}
	got := logs.String()
	for _, want := range []string{`"msg":"dead letter: every delivery retry failed; act on it by hand"`, `"type":"dev.slipstream.traffic.shifted.v1"`,
		`"undelivered_to":"http://promote.slipstream.svc.cluster.local"`, `"answered":"503"`, `"subject":"demo/hello"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, strings.Repeat("busy ", 300)) {
		t.Errorf("the answer is logged whole (5000 bytes), want it cut to %d", maxLogged)
	}
	_, metrics := testutil.Get(t, srv.URL+"/metrics")
	for _, want := range []string{`slipstream_dead_letters_total{function="dead-letters",type="dev.slipstream.traffic.shifted.v1"} 1`,
		`slipstream_dead_letters_total{function="dead-letters",type="other"} 3`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
