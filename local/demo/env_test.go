package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/config"
	"github.com/slipstream-cd/slipstream/local/issuer"
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

// TestDeliveriesNeedTheBrokersToken: the local pipeline verifies the
// broker's deliveries as a cluster does. promote takes an event only with a
// token the local issuer minted for its audience and a Trigger's identity;
// without one, with one for rollout, or from a key of its own, 401.
func TestDeliveriesNeedTheBrokersToken(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Start(ctx, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sub := e.subscribers["promote"]
	if sub.Audience == "" || len(sub.Subjects) == 0 {
		t.Fatalf("infra/ gives promote no audience or identities: %+v", sub)
	}
	mint := func(iss *issuer.Issuer, subject, audience string) string {
		tok, err := iss.Mint(subject, audience, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	stranger, err := issuer.New(e.issuer.URL(), time.Now) // the same name, another key
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, auth string
		want       int
	}{
		{"the broker's token", mint(e.issuer, sub.Subjects[0], sub.Audience), http.StatusOK},
		{"no token", "", http.StatusUnauthorized},
		{"rollout's audience", mint(e.issuer, sub.Subjects[0], e.subscribers["rollout"].Audience), http.StatusUnauthorized},
		{"not a Trigger's identity", mint(e.issuer, "system:serviceaccount:slipstream:intake", sub.Audience), http.StatusUnauthorized},
		{"another key", mint(stranger, sub.Subjects[0], sub.Audience), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A type promote takes and ignores: no side effect either way.
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.Promote, strings.NewReader(`{}`))
			req.Header.Set("Ce-Specversion", "1.0")
			req.Header.Set("Ce-Id", "token-test")
			req.Header.Set("Ce-Source", "/test")
			req.Header.Set("Ce-Type", "dev.slipstream.unknown.v1")
			req.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}

// TestStateFolders: without a state folder the run's own temporary folder
// is gone after Close; a state folder that holds an earlier run's
// repository is refused with what to do, and left as it was.
func TestStateFolders(t *testing.T) {
	e, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(e.Bare)
	if _, err := os.Stat(e.Bare); err != nil {
		t.Fatalf("the repository is not there while running: %v", err)
	}
	e.Close()
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the temporary folder %s outlived Close: %v", dir, err)
	}

	state := t.TempDir()
	e, err = Start(context.Background(), Options{StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	before, err := os.ReadDir(filepath.Join(state, "config.git"))
	if err != nil || len(before) == 0 {
		t.Fatalf("a given state folder's repository did not stay: %v", err)
	}
	if e, err := Start(context.Background(), Options{StateDir: state}); err == nil {
		e.Close()
		t.Fatal("a second run on the same state folder started")
	} else if !strings.Contains(err.Error(), "earlier run") || !strings.Contains(err.Error(), "new or empty folder") {
		t.Errorf("error %q does not say what is wrong and what to do", err)
	}
	if _, err := os.Stat(filepath.Join(state, "config.git")); err != nil {
		t.Errorf("the refused run touched the earlier repository: %v", err)
	}
}

// TestRollbackReadsTheLabelsOfACluster: the local rollback names Services
// by the same alert labels as a cluster's by default (namespace_name among
// them, as the docs' rules give it), so an alert written for one works in
// the other.
func TestRollbackReadsTheLabelsOfACluster(t *testing.T) {
	t.Setenv("SLIPSTREAM_ROLLBACK_ALLOW_UNAUTHENTICATED", "true")
	var cluster config.Rollback
	if err := config.Load(config.Prefix+"_ROLLBACK", &cluster); err != nil {
		t.Fatal(err)
	}
	local, err := rollbackConfig()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what        string
		local, want []string
	}{
		{"namespace", local.NamespaceLabels, cluster.NamespaceLabels},
		{"service", local.ServiceLabels, cluster.ServiceLabels},
		{"revision", local.RevisionLabels, cluster.RevisionLabels},
		{"rollback-on", []string{local.DefaultRollbackOn.String()}, []string{cluster.DefaultRollbackOn.String()}},
	} {
		if !slices.Equal(tc.local, tc.want) {
			t.Errorf("%s labels: local %v, a cluster's default %v", tc.what, tc.local, tc.want)
		}
	}
}

// TestTheAlertDevPrintsIsTaken: the alert `slipstream dev` prints as a curl
// reaches rollback, is authenticated, and names the demo Service by the
// labels the docs' rules give (namespace_name).
func TestTheAlertDevPrintsIsTaken(t *testing.T) {
	e, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.Push("1.0.0"); err != nil {
		t.Fatal(err)
	}
	url, header, body := e.AlertRequest()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(msg), Namespace+"/"+Service) {
		t.Errorf("%d %s; want 200 about %s/%s", resp.StatusCode, msg, Namespace, Service)
	}
	t.Logf("rollback answered: %s", msg)
	if c := e.AlertCurl(); !strings.Contains(c, url) || !strings.Contains(c, "'"+body+"'") || !strings.Contains(c, header["Authorization"]) {
		t.Errorf("the curl line does not carry the request: %s", c)
	}
}

// TestAPushNotTakenSaysWhy: a push promote does not act on (2.0.0 is
// outside the demo app's semver:^1.0.0 track) shows in the event log with
// promote's reason, beside the push.
func TestAPushNotTakenSaysWhy(t *testing.T) {
	e, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	lines := make(chan string, 100)
	e.OnLine(func(l Line) {
		select {
		case lines <- l.Text:
		default:
		}
	})
	if _, err := e.Push("2.0.0"); err != nil {
		t.Fatal(err)
	}
	var why, taken bool
	var seen []string
	deadline := time.After(20 * time.Second)
	for !why || !taken {
		select {
		case l := <-lines:
			seen = append(seen, l)
			why = why || strings.Contains(l, "promote") && strings.Contains(l, "did not take it:") && strings.Contains(l, "2.0.0")
			taken = taken || strings.Contains(l, "intake") && strings.Contains(l, "team/hello:2.0.0 was pushed")
		case <-deadline:
			t.Fatalf("no reason in the event log (why %v, the push %v):\n%s", why, taken, strings.Join(seen, "\n"))
		}
	}
	t.Logf("the event log:\n%s", strings.Join(seen, "\n"))
}

// TestFixedPorts: with Options.Ports the servers take that port and the
// ones after it, in PortNames' order, every run; a port that is taken
// stops Start with an error naming it.
func TestFixedPorts(t *testing.T) {
	var first int
	for try := 0; first == 0 && try < 20; try++ { // PortCount free ports in a row, bounded tries
		probe, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := probe.Addr().(*net.TCPAddr).Port
		probe.Close()
		if base+PortCount > 65535 {
			continue
		}
		var held []net.Listener
		ok := true
		for p := base; p < base+PortCount && ok; p++ {
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if ok = err == nil; ok {
				held = append(held, ln)
			}
		}
		for _, ln := range held {
			ln.Close()
		}
		if ok {
			first = base
		}
	}
	if first == 0 {
		t.Skip("no run of free loopback ports found")
	}
	e, err := Start(context.Background(), Options{Ports: first})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{"broker": e.Broker, "intake": e.Intake, "registry": "http://" + e.Registry, "promote": e.Promote, "rollout": e.Rollout, "rollback": e.Rollback}
	for i, name := range PortNames {
		if u, ok := got[name]; ok && u != "http://127.0.0.1:"+strconv.Itoa(first+i) {
			t.Errorf("%s at %s, want port %d", name, u, first+i)
		}
	}
	// While it runs, a second run on the same ports is refused, naming one.
	if e2, err := Start(context.Background(), Options{Ports: first}); err == nil {
		e2.Close()
		t.Error("a second run on the same ports started")
	} else if !strings.Contains(err.Error(), fmt.Sprintf("port %d", first)) {
		t.Errorf("error %q does not name the port", err)
	}
	e.Close()
	for _, bad := range []int{80, 65535, -1} {
		if CheckPorts(bad) == nil {
			t.Errorf("CheckPorts(%d) accepted it", bad)
		}
	}
	if CheckPorts(0) != nil || CheckPorts(first) != nil {
		t.Error("CheckPorts refused 0 or a good first port")
	}
}
