package rollout

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"

	"github.com/slipstream-cd/slipstream/internal/kservice"
	"github.com/slipstream-cd/slipstream/policy"
)

// phases are every value the phase metric's label takes.
var phases = []policy.Phase{policy.Adopting, policy.Pending, policy.Progressing, policy.Paused, policy.Promoted, policy.RolledBack}

// gauges are what the rollout metrics say of one managed Service.
type gauges struct {
	phase       policy.Phase
	weight      float64 // the candidate's share of what Knative routes, percent
	step, steps int
	analysis    *float64
	since       *time.Time
}

// metrics are the rollout metrics (docs/operations.md): one set of gauges
// per managed Service, as rollout last saw it — at every decision, and at
// every tick for all of them — so the label values are the managed
// Services and the six phases, and a Service no longer managed leaves at
// the next tick. Time in phase is measured at the scrape.
type metrics struct {
	now       func() time.Time
	mu        sync.Mutex
	services  map[[2]string]gauges
	rollbacks *prometheus.CounterVec
}

var (
	descPhase    = prometheus.NewDesc("slipstream_rollout_phase", "1 for the rollout's current phase, 0 for the others.", []string{"namespace", "service", "phase"}, nil)
	descWeight   = prometheus.NewDesc("slipstream_rollout_candidate_weight_percent", "The candidate's share of the traffic Knative routes, in percent.", []string{"namespace", "service"}, nil)
	descStep     = prometheus.NewDesc("slipstream_rollout_step", "The step reached, from 1; 0 before the first.", []string{"namespace", "service"}, nil)
	descSteps    = prometheus.NewDesc("slipstream_rollout_steps", "How many steps the rollout has.", []string{"namespace", "service"}, nil)
	descAnalysis = prometheus.NewDesc("slipstream_rollout_analysis_value", "What the last analysis check measured.", []string{"namespace", "service"}, nil)
	descInPhase  = prometheus.NewDesc("slipstream_rollout_time_in_phase_seconds", "How long the rollout has been in its current phase.", []string{"namespace", "service", "phase"}, nil)
)

func newMetrics(now func() time.Time, rollbacks *prometheus.CounterVec) *metrics {
	return &metrics{now: now, services: map[[2]string]gauges{}, rollbacks: rollbacks}
}

// observe records a Service as a decision left it: st is its rollout state
// now (what was just written, or what it was).
func (m *metrics) observe(live *servingv1.Service, st policy.State) {
	if st.Phase == "" {
		return
	}
	g := gauges{phase: st.Phase, step: st.Step, steps: len(st.Steps), analysis: st.LastValue, since: st.Since}
	if g.steps == 0 {
		if pol, err := policy.Parse(live.Annotations); err == nil {
			g.steps = len(pol.Steps)
		}
	}
	if st.Candidate != "" && (st.Phase == policy.Pending || st.Phase == policy.Progressing || st.Phase == policy.Paused) {
		g.weight = float64(kservice.Share(live.Status.Traffic, st.Candidate))
	}
	m.mu.Lock()
	m.services[[2]string{live.Namespace, live.Name}] = g
	m.mu.Unlock()
	// The counter exists at 0 before a first rollback, so increase() sees it.
	m.rollbacks.WithLabelValues(live.Namespace, live.Name)
}

// keepOnly forgets the Services a tick's list no longer has, their
// rollbacks counter too: the label values stay the managed Services.
func (m *metrics) keepOnly(listed []*servingv1.Service) {
	keep := make(map[[2]string]bool, len(listed))
	for _, s := range listed {
		keep[[2]string{s.Namespace, s.Name}] = true
	}
	m.mu.Lock()
	for k := range m.services {
		if !keep[k] {
			delete(m.services, k)
			m.rollbacks.DeleteLabelValues(k[0], k[1])
		}
	}
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPhase, descWeight, descStep, descSteps, descAnalysis, descInPhase} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, g := range m.services {
		ns, svc := k[0], k[1]
		for _, p := range phases {
			v := 0.0
			if p == g.phase {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descPhase, prometheus.GaugeValue, v, ns, svc, string(p))
		}
		ch <- prometheus.MustNewConstMetric(descWeight, prometheus.GaugeValue, g.weight, ns, svc)
		ch <- prometheus.MustNewConstMetric(descStep, prometheus.GaugeValue, float64(g.step), ns, svc)
		ch <- prometheus.MustNewConstMetric(descSteps, prometheus.GaugeValue, float64(g.steps), ns, svc)
		if g.analysis != nil {
			ch <- prometheus.MustNewConstMetric(descAnalysis, prometheus.GaugeValue, *g.analysis, ns, svc)
		}
		if g.since != nil {
			ch <- prometheus.MustNewConstMetric(descInPhase, prometheus.GaugeValue, max(0, now.Sub(*g.since).Seconds()), ns, svc, string(g.phase))
		}
	}
}
