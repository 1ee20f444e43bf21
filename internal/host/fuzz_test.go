package host

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// FuzzServeEvent throws arbitrary requests at POST /: the host never panics
// and answers only with the statuses of the delivery contract for input errors.
func FuzzServeEvent(f *testing.F) {
	f.Add("application/json", "1.0", "id", "/src", "f.accept", []byte(`{"a":1}`))
	f.Add("application/cloudevents+json", "", "", "", "", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"f.accept","data":{}}`))
	f.Add("application/cloudevents-batch+json", "", "", "", "", []byte(`[]`))
	f.Add("text/plain", "0.3", "", "/s", "x", []byte("hello"))
	f.Add("application/cloudevents+json; charset=utf-8", "", "", "", "", []byte(`{"specversion":"1.0","id":"1","source":"/s","type":"f.other","data_base64":"AAA="}`))
	h, err := New("fuzz", testSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	handler := h.Handler(Function{Name: "fuzz", Events: map[string]EventHandler{
		"f.accept": func(context.Context, cloudevents.Event) (*cloudevents.Event, error) { return nil, nil },
	}})
	f.Fuzz(func(t *testing.T, contentType, specversion, id, source, typ string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
		for k, v := range map[string]string{"Content-Type": contentType, "Ce-Specversion": specversion, "Ce-Id": id, "Ce-Source": source, "Ce-Type": typ} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 202: // handled or refused
		case 400, 413, 415: // the caller's mistake, never retried
		default:
			t.Fatalf("status %d for content type %q, body %q: %s", rec.Code, contentType, body, rec.Body.String())
		}
	})
}
