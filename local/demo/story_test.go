package demo

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestStory runs the whole demo and checks what it must show: the Git
// history, the live traffic of the rollout step by step, the rollback, the
// quarantine and the refusal (Story itself fails when any of them is missing).
func TestStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e, err := Start(ctx, Options{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var mu sync.Mutex
	var lines []string
	e.OnLine(func(l Line) { mu.Lock(); lines = append(lines, l.Text); mu.Unlock() })
	sum, err := Story(ctx, e)
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%v\nevent log:\n%s", err, strings.Join(lines, "\n"))
	}
	var steps []string
	for _, tr := range sum.Traffic {
		for _, pct := range []string{" 10% (candidate)", " 25% (candidate)", " 50% (candidate)", " 100% (candidate)"} {
			if strings.Contains(tr, pct) && (len(steps) == 0 || steps[len(steps)-1] != pct) {
				steps = append(steps, pct)
			}
		}
	}
	if want := " 10% (candidate), 25% (candidate), 50% (candidate), 100% (candidate)"; strings.Join(steps, ",") != want {
		t.Errorf("the 1.1.0 rollout went through %q, want every step in order; live states:\n%s", strings.Join(steps, ","), strings.Join(sum.Traffic, "\n"))
	}
	log := strings.Join(sum.GitLog, "\n")
	for _, want := range []string{"deploy team/hello:1.0.0", "deploy team/hello:1.1.0", "step 1/4", "step 4/4", "promote 1.1.0 (hello-", "deploy team/hello:1.2.0",
		"roll back 1.2.0 of demo/hello", "add the hello app", "hello: connect to the new database"} {
		if !strings.Contains(log, want) {
			t.Errorf("git log lacks %q:\n%s", want, log)
		}
	}
	// The person's template change was rolled back too, after its first step.
	if n := strings.Count(log, "of demo/hello to"); n != 2 {
		t.Errorf("git log has %d rollbacks, want 2 (the bad image, the person's template):\n%s", n, log)
	}
	if sum.Took > time.Minute {
		t.Logf("the story took %s (the demo aims at under a minute)", sum.Took)
	}
}
