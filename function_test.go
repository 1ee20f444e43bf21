package slipstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The method set of func's instanced HTTP scaffolding, checked at compile time.
var _ interface {
	Handle(http.ResponseWriter, *http.Request)
	Start(context.Context, map[string]string) error
	Stop(context.Context) error
	Ready(context.Context) (bool, error)
	Alive(context.Context) (bool, error)
} = New()

func TestNotStartedIsNotReady(t *testing.T) {
	f := New()
	if ok, err := f.Ready(context.Background()); ok || err == nil {
		t.Errorf("Ready before Start = %v, %v", ok, err)
	}
	rec := httptest.NewRecorder()
	f.Handle(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("Handle before Start = %d, want 503", rec.Code)
	}
	if ok, _ := f.Alive(context.Background()); !ok {
		t.Error("not alive")
	}
}

func TestStartNamesTheBadSetting(t *testing.T) {
	err := New().Start(context.Background(), map[string]string{"SLIPSTREAM_LOG_LEVEL": "loud"})
	if err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_LOG_LEVEL") {
		t.Errorf("Start = %v", err)
	}
}
