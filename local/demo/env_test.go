package demo

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStartClosesWhatItStartedWhenAStepFails: the cluster step fails (a
// kubeconfig that does not exist) after the broker's server started; Start
// names the step, and that server no longer accepts connections.
func TestStartClosesWhatItStartedWhenAStepFails(t *testing.T) {
	var mu sync.Mutex
	var addrs []string
	opts := Options{StateDir: t.TempDir(), Kubeconfig: "/nonexistent/kubeconfig", listen: func() (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			mu.Lock()
			addrs = append(addrs, ln.Addr().String())
			mu.Unlock()
		}
		return ln, err
	}}
	e, err := Start(context.Background(), opts)
	if err == nil {
		e.Close()
		t.Fatal("Start succeeded with a kubeconfig that does not exist")
	}
	if !strings.Contains(err.Error(), "starting the cluster") || !strings.Contains(err.Error(), "kubeconfig") {
		t.Errorf("error %q does not name the step and the cause", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(addrs) == 0 {
		t.Fatal("no server was started before the failing step; the test proves nothing")
	}
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Start failed", a)
		}
	}
}

func TestClockAdvances(t *testing.T) {
	var c clock
	before := c.Now()
	c.Advance(time.Hour)
	if got := c.Now().Sub(before); got < time.Hour {
		t.Errorf("after Advance(1h) the clock moved %s", got)
	}
}
