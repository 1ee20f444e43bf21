package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	clienttesting "k8s.io/client-go/testing"
	servingclient "knative.dev/serving/pkg/client/clientset/versioned"
	"knative.dev/serving/pkg/client/clientset/versioned/fake"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/internal/testutil"
	"github.com/slipstream-cd/slipstream/policy"
)

// statusCluster serves `status` a fake cluster whose kubeconfig context is
// in namespace demo: hello (managed, step 1), cart (managed, in shop) and
// plain (not managed).
func statusCluster(t *testing.T) *fake.Clientset {
	t.Helper()
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	st := policy.State{Phase: policy.Progressing, Stable: "hello-00001", Candidate: "hello-00002", Step: 1, Steps: []int{10, 25, 50, 100}, StepStartedAt: &at,
		CandidateImage: "registry.example.com/team/hello:1.1.0@sha256:3f2a9c01b2d4e6f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d", Reason: "step 1 of 4 is live"}
	cs := fake.NewSimpleClientset(
		testutil.Service("demo", "hello", testutil.WithState(st), testutil.WithRouted(), testutil.WithAnnotation(policy.AnnotationTrack, "semver:^1.0.0"),
			testutil.WithTraffic(eventing.TrafficTarget{RevisionName: "hello-00001", Percent: 90, Tag: "stable"}, eventing.TrafficTarget{RevisionName: "hello-00002", Percent: 10, Tag: "candidate"})),
		testutil.Service("shop", "cart", testutil.WithState(policy.State{Phase: policy.Promoted, Stable: "cart-00003"})),
		testutil.Service("demo", "plain"),
	)
	old, oldNow, oldGap := servingFor, statusNow, statusMinGap
	servingFor = func(kubeconfig, kubecontext string) (servingclient.Interface, string, error) { return cs, "demo", nil }
	statusNow = func() time.Time { return at.Add(20 * time.Second) }
	statusMinGap = 50 * time.Millisecond
	t.Cleanup(func() { servingFor, statusNow, statusMinGap = old, oldNow, oldGap })
	return cs
}

func TestStatus(t *testing.T) {
	statusCluster(t)
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
		not            []string
	}{
		{name: "the context's namespace", args: []string{"status"}, stdout: []string{"NAMESPACE", "demo", "hello", "Progressing", "1/4", "stable 90%, candidate 10%", "in 40s", "step 1 of 4 is live"}, not: []string{"cart", "plain"}},
		{name: "every namespace", args: []string{"status", "-A"}, stdout: []string{"hello", "cart", "Promoted", "problem: not managed by slipstream: no slipstream.dev/track"}, not: []string{"plain"}},
		{name: "one namespace", args: []string{"status", "-n", "shop"}, stdout: []string{"cart"}, not: []string{"hello"}},
		{name: "one Service", args: []string{"status", "hello"}, stdout: []string{"hello", "hello-00002 (1.1.0@3f2a9c01b2d4)"}},
		{name: "flags after the Service", args: []string{"status", "cart", "-n", "shop", "-o", "yaml"}, stdout: []string{"service: cart"}, not: []string{"hello"}},
		{name: "kubectl's long flags", args: []string{"status", "--all-namespaces"}, stdout: []string{"hello", "cart"}},
		{name: "kubectl's long namespace flag", args: []string{"status", "--namespace", "shop"}, stdout: []string{"cart"}, not: []string{"hello"}},
		{name: "nothing managed", args: []string{"status", "-n", "empty"}, stdout: []string{"No Knative Services managed by slipstream here"}},
		{name: "json", args: []string{"status", "-o", "json", "hello"}, stdout: []string{`"phase": "Progressing"`, `"digest": "3f2a9c01b2d4"`}},
		{name: "yaml", args: []string{"status", "-o", "yaml", "-A"}, stdout: []string{"phase: Progressing", "service: cart"}},
		{name: "help", args: []string{"status", "--help"}, stdout: []string{"Usage: slipstream status", "kubectl slipstream status", "-w"}},
		{name: "a Service not there", args: []string{"status", "nope"}, code: 1, stderr: []string{"no Knative Service nope in namespace demo"}},
		{name: "a Service not managed", args: []string{"status", "plain"}, code: 1, stderr: []string{"demo/plain is not managed by slipstream", policy.AnnotationRollout}},
		{name: "bad output", args: []string{"status", "-o", "xml"}, code: 2, stderr: []string{`-o "xml": must be table, json or yaml`}},
		{name: "-A and -n", args: []string{"status", "-A", "-n", "demo"}, code: 2, stderr: []string{"-A and -n contradict"}},
		{name: "bad namespace", args: []string{"status", "-n", "Demo_1"}, code: 2, stderr: []string{`-n "Demo_1" is not a namespace name`}},
		{name: "two Services", args: []string{"status", "a", "b"}, code: 2, stderr: []string{"at most one Service"}},
		{name: "a bad flag after the Service", args: []string{"status", "hello", "-x"}, code: 2, stderr: []string{"flag provided but not defined: -x"}},
		{name: "a Service in every namespace", args: []string{"status", "-A", "hello"}, code: 2, stderr: []string{"needs one namespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkRun(t, tc.args, tc.code, tc.stdout, tc.stderr, tc.not) })
	}
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"status", "-o", "json", "-A"}, &stdout, &stderr)
	var rows []map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rows); err != nil || len(rows) != 2 {
		t.Errorf("-o json is not a list of the 2 managed Services: %v\n%s", err, stdout.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while a command writes it;
// wrote gets a tick after each write.
type syncBuffer struct {
	mu    sync.Mutex
	b     bytes.Buffer
	wrote chan struct{}
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.b.Write(p)
	select {
	case s.wrote <- struct{}{}:
	default:
	}
	return n, err
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestStatusWatchPrintsEveryChange: -w prints the Services again when one
// changes, and ends cleanly when interrupted.
func TestStatusWatchPrintsEveryChange(t *testing.T) {
	cs := statusCluster(t)
	watching := make(chan struct{}, 8)
	cs.PrependWatchReactor("services", func(clienttesting.Action) (bool, watch.Interface, error) {
		watching <- struct{}{}
		return false, nil, nil // the fake's own watch
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &syncBuffer{wrote: make(chan struct{}, 1)}, &syncBuffer{wrote: make(chan struct{}, 1)}
	done := make(chan int)
	go func() { done <- run(ctx, []string{"status", "-w"}, stdout, stderr) }()
	deadline := time.After(10 * time.Second)
	until := func(what string, ok func(string) bool) {
		t.Helper()
		for !ok(stdout.String()) {
			select {
			case <-stdout.wrote:
			case <-deadline:
				t.Fatalf("%s: stdout:\n%s\nstderr:\n%s", what, stdout.String(), stderr.String())
			}
		}
	}
	until("the first print", func(s string) bool { return strings.Count(s, "NAMESPACE") == 1 })
	select {
	case <-watching:
	case <-deadline:
		t.Fatal("status -w never watched")
	}
	s, err := cs.ServingV1().Services("demo").Get(ctx, "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st, _ := policy.ParseState(s.Annotations[policy.AnnotationRollout])
	st.Step, st.Reason = 2, "step 2 of 4 is live"
	s.Annotations[policy.AnnotationRollout] = st.String()
	if _, err := cs.ServingV1().Services("demo").Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	until("the change", func(s string) bool {
		return strings.Count(s, "NAMESPACE") == 2 && strings.Contains(s, "step 2 of 4 is live")
	})
	if !strings.Contains(stdout.String(), "2/4") {
		t.Errorf("the second print does not show step 2:\n%s", stdout.String())
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after an interrupt, want 0: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("status -w did not end when interrupted")
	}
}

// TestStatusWatchErrorsCannotSpin: a watch that ends at once with an error
// (410 Gone: the resourceVersion is too old) makes status list again, at
// most once per statusMinGap, and print only what changed: here nothing.
func TestStatusWatchErrorsCannotSpin(t *testing.T) {
	cs := statusCluster(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watches := 0
	cs.PrependWatchReactor("services", func(clienttesting.Action) (bool, watch.Interface, error) {
		if watches++; watches == 4 {
			cancel()
		}
		w := watch.NewRaceFreeFake()
		w.Error(&metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired, Message: "too old resource version"})
		return true, w, nil
	})
	var stdout, stderr bytes.Buffer
	start := time.Now()
	if code := run(ctx, []string{"status", "-w", "hello"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if took := time.Since(start); took < 3*statusMinGap {
		t.Errorf("4 failed watches in %s: listed again faster than once per %s", took, statusMinGap)
	}
	if n := strings.Count(stdout.String(), "NAMESPACE"); n != 1 {
		t.Errorf("printed %d times, want once (nothing changed):\n%s", n, stdout.String())
	}
}
