package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slipstream-cd/slipstream/local/demo"
)

// TestCommandsAgainstDev: with the kubeconfig slipstream dev writes, status
// and the steering commands work on dev's simulated cluster, through the
// same client code as on a real one.
func TestCommandsAgainstDev(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	e, err := demo.Start(ctx, demo.Options{Pause: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	kc := []string{"--kubeconfig", e.Kubeconfig}
	status := func() string {
		var out strings.Builder
		run(context.Background(), append([]string{"status", "-o", "json"}, kc...), &out, &strings.Builder{})
		return out.String()
	}
	until := func(what string, ok func(string) bool) {
		t.Helper()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for !ok(status()) {
			select {
			case <-tick.C:
			case <-ctx.Done():
				t.Fatalf("%s: status says\n%s", what, status())
			}
		}
	}
	if _, err := e.Push("1.0.0"); err != nil {
		t.Fatal(err)
	}
	until("1.0.0 promoted", func(s string) bool { return strings.Contains(s, `"phase": "Promoted"`) })
	if _, err := e.Push("1.1.0"); err != nil {
		t.Fatal(err)
	}
	until("1.1.0 at its first step", func(s string) bool {
		return strings.Contains(s, `"phase": "Progressing"`) && strings.Contains(s, `"step": 1`) && strings.Contains(s, `"percent": 10`)
	})
	checkRun(t, append([]string{"status"}, kc...), exitOK, []string{"demo", "hello", "Progressing", "1/4", "(1.1.0@"}, nil, nil)
	checkRun(t, append([]string{"pause", "hello"}, kc...), exitOK, []string{"demo/hello: pause set"}, nil, nil)
	until("paused", func(s string) bool { return strings.Contains(s, `"phase": "Paused"`) })
	checkRun(t, append([]string{"promote", "hello"}, kc...), exitOK, []string{"once resumed"}, nil, nil)
	checkRun(t, append([]string{"resume", "hello"}, kc...), exitOK, []string{"resume set"}, nil, nil)
	// Steps pause a minute each: promoted within the test's 40 s is promote's doing.
	until("1.1.0 promoted by promote, before its steps could end", func(s string) bool {
		return strings.Contains(s, `"phase": "Promoted"`) && strings.Contains(s, `"tag": "1.1.0"`)
	})
}
