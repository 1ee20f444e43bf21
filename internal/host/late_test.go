package host

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestLateHandlerAnswersStartingUntilSet(t *testing.T) {
	var l LateHandler
	rec := httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before Set: %d, want 503", rec.Code)
	}
	l.Set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec = httptest.NewRecorder()
	l.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusTeapot {
		t.Errorf("after Set: %d, want the handler's 418", rec.Code)
	}
}
