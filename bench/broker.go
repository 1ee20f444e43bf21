package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	duckv1 "knative.dev/pkg/apis/duck/v1"

	"github.com/slipstream-cd/slipstream/eventing"
	"github.com/slipstream-cd/slipstream/infra"
	"github.com/slipstream-cd/slipstream/local/broker"
	"github.com/slipstream-cd/slipstream/local/issuer"
)

// Broker measures the embedded broker (`slipstream dev`, `make demo`):
// events posted to its ingress by concurrent senders, routed with
// infra/'s Triggers (Knative's filter code) and delivered with an OIDC
// token to a subscriber that answers 202. The baseline is the same events
// posted straight to the subscriber.
func Broker(ctx context.Context, events, senders int) (Section, error) {
	sec := Section{Title: "Embedded broker throughput",
		Intro: fmt.Sprintf("%d `traffic.shifted` events posted to the embedded broker's ingress by %d concurrent senders, "+
			"routed by infra/'s Triggers and delivered, each with a token the local issuer signs, to a subscriber that "+
			"answers 202 at once. *routing latency* is from posting an event to its delivery. The baseline posts the same "+
			"events straight to the subscriber.", events, senders)}
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	done := make(chan struct{})
	subscriber := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		arrived[r.Header.Get("Ce-Id")] = time.Now()
		if len(arrived) == events {
			close(done)
		}
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer subscriber.Close()
	manifests, err := infra.Base()
	if err != nil {
		return sec, err
	}
	spec, triggers, err := broker.LoadManifests("default", manifests...)
	if err != nil {
		return sec, err
	}
	iss, err := issuer.New("https://issuer.bench.local", time.Now)
	if err != nil {
		return sec, err
	}
	b, err := broker.New(spec, triggers, func(*duckv1.KReference) (string, error) { return subscriber.URL, nil },
		broker.WithLogger(slog.New(slog.DiscardHandler)),
		broker.WithTokens(func(_ context.Context, subject, audience string) (string, error) {
			return iss.Mint(subject, audience, time.Minute)
		}))
	if err != nil {
		return sec, err
	}
	defer b.Close()
	ingress := httptest.NewServer(b)
	defer ingress.Close()

	run := func(target string, expect int) (float64, Summary, error) {
		mu.Lock()
		clear(arrived)
		done = make(chan struct{})
		mu.Unlock()
		sent := make([]time.Time, expect)
		ids := make(chan int)
		errs := make(chan error, senders)
		start := time.Now()
		var wg sync.WaitGroup
		for range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range ids {
					sent[i] = time.Now()
					if err := postEvent(ctx, target, i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		for i := range expect {
			ids <- i
		}
		close(ids)
		wg.Wait()
		select {
		case err := <-errs:
			return 0, Summary{}, err
		default:
		}
		select {
		case <-done:
		case <-time.After(time.Minute):
			return 0, Summary{}, fmt.Errorf("not every event arrived within a minute: %w", errTimeout)
		}
		took := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		lat := make([]time.Duration, 0, expect)
		for i := range expect {
			lat = append(lat, arrived[fmt.Sprintf("bench-%d", i)].Sub(sent[i]))
		}
		return float64(expect) / took.Seconds(), Summarize(lat), nil
	}
	baseRate, baseLat, err := run(subscriber.URL, events)
	if err != nil {
		return sec, fmt.Errorf("baseline: %w", err)
	}
	rate, lat, err := run(ingress.URL, events)
	if err != nil {
		return sec, err
	}
	sec.Figures = append(sec.Figures,
		Figure{Name: "events a second", Median: fmt.Sprintf("%.0f/s", rate), Runs: events, Baseline: "straight to the subscriber",
			BaseMedian: fmt.Sprintf("%.0f/s", baseRate), Ratio: fmt.Sprintf("%.2f×", rate/baseRate)},
		Timing("routing latency", lat, "straight to the subscriber", baseLat))
	return sec, nil
}

// postEvent posts the i-th traffic.shifted event in binary mode.
func postEvent(ctx context.Context, url string, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(`{"namespace":"bench","service":"hello"}`)))
	if err != nil {
		return err
	}
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", fmt.Sprintf("bench-%d", i))
	req.Header.Set("Ce-Source", "/bench")
	req.Header.Set("Ce-Type", eventing.TypeTrafficShifted)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
