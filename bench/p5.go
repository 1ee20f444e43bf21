package bench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/e2e/cluster"
	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/local/demo"
	"github.com/slipstream-cd/slipstream/policy"
)

// p5Mode is one way steps are timed.
type p5Mode struct {
	name                 string
	pause, tick, maxWait time.Duration
	rollouts             int
}

// P5 measures step timing: how late each traffic step goes live against
// its due time (the previous step live + the pause), on the local pipeline
// (`slipstream dev`: the functions, the embedded broker, the simulated
// Knative and GitOps sync), with a warm rollout instance. Two ways: pauses
// within rollout's in-request wait (SLIPSTREAM_ROLLOUT_MAX_WAIT), and
// pauses past it, advanced by the PingSource's ticks — run ten times faster
// than a cluster's (a 6 s tick for its minute, a 5 s wait for its 50 s), so
// its lateness is a tenth of a cluster's.
func P5(ctx context.Context, work string) (Section, error) {
	sec := Section{Title: "P5 step timing",
		Intro: "How late each traffic step is set, against its due time (the previous step live in Knative's status + the " +
			"pause), over rollouts of 10→25→50→100% on the local pipeline (`slipstream dev`: the functions, the embedded " +
			"broker, the simulated Knative and GitOps sync) with warm instances; the first step has no due time. " +
			"*in-request wait*: the pause (3 s) ends within rollout's in-request wait, no tick needed. *ticks*: the pause " +
			"(8 s) is longer than the wait, so a tick must come: the PingSource and the wait run ten times faster than a " +
			"cluster's (a 6 s tick for a minute, 5 s for the 50 s wait), so a cluster's lateness is up to ten times these " +
			"(the pipeline's own ~50 ms does not scale). *the wait as long as the tick*: the same with a 6 s wait. The " +
			"baseline, measured in the same run: steps taken only at ticks (the same 8 s pauses and 6 s ticks, no in-request " +
			"wait), as a stepper that polls takes them at its next interval."}
	modes := []p5Mode{
		{name: "in-request wait", pause: 3 * time.Second, tick: time.Hour, maxWait: 50 * time.Second, rollouts: 3},
		{name: "ticks (a 6 s PingSource)", pause: 8 * time.Second, tick: 6 * time.Second, maxWait: 5 * time.Second, rollouts: 2},
		{name: "ticks, the wait as long as the tick", pause: 8 * time.Second, tick: 6 * time.Second, maxWait: 6 * time.Second, rollouts: 2},
	}
	// The baseline: steps taken only at ticks, as a stepper that polls
	// (Flagger's and Argo Rollouts' controllers step at their next interval).
	polled := p5Mode{name: "ticks only, no in-request wait", pause: 8 * time.Second, tick: 6 * time.Second, maxWait: time.Millisecond, rollouts: 2}
	baseLate, err := p5Run(ctx, work, polled)
	if err != nil {
		return sec, fmt.Errorf("%s: %w", polled.name, err)
	}
	base := Summarize(baseLate)
	scale := func(s Summary) Summary { return Summary{N: s.N, Median: 10 * s.Median, P99: 10 * s.P99} }
	for _, m := range modes {
		late, err := p5Run(ctx, work, m)
		if err != nil {
			return sec, fmt.Errorf("%s: %w", m.name, err)
		}
		s := Summarize(late)
		f := Timing("lateness, "+m.name, s, polled.name, base)
		if m.tick < time.Hour && m.maxWait < m.tick { // late by up to tick − wait: scales with the tick
			scaled := scale(s)
			sec.Figures = append(sec.Figures, f, Timing(m.name+" ×10: a cluster's minute (an upper bound)", scaled, polled.name+" ×10", scale(base)).
				Against("p99 < 1 s", scaled.P99 < time.Second, fmt.Sprintf("by %s", Ms(scaled.P99-time.Second))))
			continue
		}
		sec.Figures = append(sec.Figures, f.Against("p99 < 1 s", s.P99 < time.Second, fmt.Sprintf("by %s", Ms(s.P99-time.Second))))
	}
	sec.Notes = p5Notes
	return sec, nil
}

// p5Notes reads the step-timing figures.
const p5Notes = `With pauses that end within rollout's in-request wait, steps are on time: the remaining tens of
milliseconds are the pipeline (rollout's decision, promote's commit with the git writer, the GitOps sync applying it).
Past the wait, a step waits for a tick: the PingSource fires every minute and rollout waits in the request at most
SLIPSTREAM_ROLLOUT_MAX_WAIT (50 s), so a pause that ends in the last 10 s before a tick is up to 10 s late — the missed
target. Setting the wait to the tick period closes the gap (the third row: the wait as long as the tick); the broker's
delivery timeout (120 s in infra/) and the Services' timeoutSeconds (120) allow a 60 s wait. The default is left at 50 s
until that is proven on a cluster.`

// p5Run deploys 1.0.0, then rolls out m.rollouts new versions one after
// another, and returns the lateness of every step that had a due time.
func p5Run(ctx context.Context, work string, m p5Mode) ([]time.Duration, error) {
	dir, err := os.MkdirTemp(work, "p5-")
	if err != nil {
		return nil, err
	}
	e, err := demo.Start(ctx, demo.Options{StateDir: dir, Pause: m.pause, Tick: m.tick, MaxWait: m.maxWait})
	if err != nil {
		return nil, err
	}
	defer e.Close()
	get := func() (*servingv1.Service, policy.State, error) {
		s, err := e.Serving.ServingV1().Services(demo.Namespace).Get(ctx, demo.Service, metav1.GetOptions{})
		if err != nil {
			return nil, policy.State{}, err
		}
		st, err := policy.LiveState(s.Annotations)
		return s, st, err
	}
	if _, err := e.Push("1.0.0"); err != nil {
		return nil, err
	}
	if err := within(ctx, time.Minute, func(context.Context) (bool, error) {
		_, st, err := get()
		return err == nil && (st.Phase == policy.Promoted || st.Stable != "" && st.Candidate == ""), nil
	}); err != nil {
		return nil, fmt.Errorf("1.0.0 never served: %w", err)
	}
	var late []time.Duration
	for r := range m.rollouts {
		tag := fmt.Sprintf("1.%d.0", r+1)
		d, err := e.Push(tag)
		if err != nil {
			return nil, err
		}
		var candidate string
		set := map[int64]time.Time{}  // share → when spec first gave it
		live := map[int64]time.Time{} // share → when Knative's status first showed it
		err = within(ctx, 5*m.pause+2*m.tick+30*time.Second, func(context.Context) (bool, error) {
			s, st, err := get()
			if err != nil {
				return false, nil
			}
			if candidate == "" && st.Candidate != "" && st.CandidateImage != "" && strings.HasSuffix(st.CandidateImage, "@"+d) {
				candidate = st.Candidate
			}
			if candidate == "" {
				return false, nil
			}
			now := time.Now()
			if p := kservice.Share(s.Spec.Traffic, candidate); p > 0 {
				if _, ok := set[p]; !ok {
					set[p] = now
				}
			}
			if s.Status.ObservedGeneration == s.Generation {
				if p := kservice.Share(s.Status.Traffic, candidate); p > 0 {
					if _, ok := live[p]; !ok {
						live[p] = now
					}
				}
			}
			return live[100] != (time.Time{}), nil
		})
		if err != nil {
			return nil, fmt.Errorf("%s never promoted (steps set %v): %w", tag, set, err)
		}
		steps := []int64{10, 25, 50, 100}
		for i := 1; i < len(steps); i++ {
			prev, ok1 := live[steps[i-1]]
			at, ok2 := set[steps[i]]
			if ok1 && ok2 {
				late = append(late, max(0, at.Sub(prev.Add(m.pause))))
			}
		}
	}
	return late, nil
}

// within polls cond every 10 ms (cluster.Until) until it holds, fails or d
// passes.
func within(ctx context.Context, d time.Duration, cond func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return cluster.Until(ctx, 10*time.Millisecond, cond)
}
