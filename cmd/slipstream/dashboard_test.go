package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/internal/webview"
)

func TestDashboard(t *testing.T) {
	statusCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{wrote: make(chan struct{}, 1)}, &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"dashboard", "-A", "--listen", "127.0.0.1:0", "--every", "250ms"}, stdout, stderr)
	}()
	addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	deadline := time.After(10 * time.Second)
	for addr.FindString(stdout.String()) == "" {
		select {
		case code := <-done:
			t.Fatalf("exited %d: %s %s", code, stdout.String(), stderr.String())
		case <-stdout.wrote:
		case <-deadline:
			t.Fatalf("no address printed: %q", stdout.String())
		}
	}
	url := addr.FindString(stdout.String())
	if !strings.Contains(stdout.String(), "(every namespace)") {
		t.Errorf("stdout %q", stdout.String())
	}
	// The live stream: the first state that has read the cluster.
	live, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	req, _ := http.NewRequestWithContext(live, http.MethodGet, url+"/api/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st webview.State
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	for lines.Scan() {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			if err := json.Unmarshal([]byte(data), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Services) > 0 {
				break
			}
		}
	}
	if len(st.Services) != 2 || st.Services[0].Key != "demo/hello" || st.Services[0].CandidatePercent != 10 || st.Services[1].Key != "shop/cart" {
		t.Errorf("state %+v", st)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after the interrupt: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the dashboard did not stop when interrupted")
	}
}

func TestDashboardUsage(t *testing.T) {
	statusCluster(t)
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"dashboard", "-A", "-n", "shop"}, "-A and -n contradict"},
		{[]string{"dashboard", "--every", "10ms"}, "at least 250ms"},
		{[]string{"dashboard", "--commit-url", "https://x/{commit}"}, "give both"},
		{[]string{"dashboard", "extra"}, "takes no arguments"},
		{[]string{"dashboard", "--listen", ":0"}, "give one address"},
	} {
		checkRun(t, tc.args, exitUsage, nil, []string{tc.stderr}, nil)
	}
	checkRun(t, []string{"dashboard", "--listen", "127.0.0.1:99999"}, exitError, nil, []string{"--listen 127.0.0.1:99999"}, nil)
}
