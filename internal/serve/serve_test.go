package serve

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/internal/host"
)

// register adds a function for one test.
func register(t *testing.T, name string, b builder) {
	t.Helper()
	builders[name] = b
	t.Cleanup(func() { delete(builders, name) })
}

func TestServeRunsAFunctionUntilCancelled(t *testing.T) {
	t.Setenv("SLIPSTREAM_LOG_LEVEL", "info")
	handled := make(chan string, 1)
	register(t, "probe", func(ctx context.Context, h *host.Host) (host.Function, error) {
		return host.Function{Name: "probe", Events: map[string]host.EventHandler{
			"probe.ping": func(ctx context.Context, e cloudevents.Event) (*cloudevents.Event, error) {
				handled <- e.ID()
				return nil, nil
			},
		}}, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, "probe", func(int) (net.Listener, error) { return ln, nil }, &logs)
	}()
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/", strings.NewReader(`{}`))
	req.Header = http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Id": {"p1"}, "Ce-Source": {"/t"}, "Ce-Type": {"probe.ping"}}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("status %d, want 202", resp.StatusCode)
	}
	select {
	case id := <-handled:
		if id != "p1" {
			t.Errorf("handled %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the event was not handled")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after a clean drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancellation")
	}
}

func TestServeRefusesBadSettingsBeforeListening(t *testing.T) {
	t.Setenv("SLIPSTREAM_LOG_LEVEL", "chatty")
	t.Setenv("SLIPSTREAM_MAX_BODY_BYTES", "-5")
	built := false
	register(t, "probe", func(context.Context, *host.Host) (host.Function, error) { built = true; return host.Function{}, nil })
	listened := false
	err := Run(context.Background(), "probe", func(int) (net.Listener, error) { listened = true; return nil, errors.New("no") }, &bytes.Buffer{})
	var ce *config.Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "SLIPSTREAM_LOG_LEVEL") || !strings.Contains(err.Error(), "SLIPSTREAM_MAX_BODY_BYTES") {
		t.Fatalf("Run = %v, want a settings error naming both variables", err)
	}
	if built || listened {
		t.Errorf("built %v, listened %v: nothing may start with bad settings", built, listened)
	}
}

func TestServeUnknownFunction(t *testing.T) {
	err := Run(context.Background(), "nope", ListenTCP, &bytes.Buffer{})
	if !errors.Is(err, ErrUnknownFunction) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("Run(nope) = %v", err)
	}
}

func TestServeReportsABuildError(t *testing.T) {
	register(t, "probe", func(context.Context, *host.Host) (host.Function, error) {
		return host.Function{}, &config.Error{Problems: []string{"SLIPSTREAM_PROBE_X: required"}}
	})
	err := Run(context.Background(), "probe", ListenTCP, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "SLIPSTREAM_PROBE_X") {
		t.Errorf("Run = %v", err)
	}
}
