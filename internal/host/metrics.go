package host

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics are the host's Prometheus collectors, on a registry of its own so
// that tests and the all-in-one binary can hold several hosts.
type metrics struct {
	registry *prometheus.Registry
	events   *prometheus.CounterVec
	eventDur *prometheus.HistogramVec
	hooks    *prometheus.CounterVec
	hookDur  *prometheus.HistogramVec
	sends    *prometheus.CounterVec
	// rollbacks is slipstream_rollbacks_total: one per host, so the
	// functions an all-in-one host serves count into one.
	rollbacks *prometheus.CounterVec
}

// latencyBuckets span 1 ms to 10 s: rollback is judged in milliseconds, promote's Git pushes in seconds.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newMetrics(function string) *metrics {
	constLabels := prometheus.Labels{"function": function}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipstream_events_total", Help: "CloudEvents handled, by type and outcome.", ConstLabels: constLabels,
		}, []string{"type", "outcome"}),
		eventDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slipstream_event_duration_seconds", Help: "Time to handle a CloudEvent, by type.", ConstLabels: constLabels, Buckets: latencyBuckets,
		}, []string{"type"}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipstream_webhooks_total", Help: "Webhooks handled, by route and outcome.", ConstLabels: constLabels,
		}, []string{"route", "outcome"}),
		hookDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "slipstream_webhook_duration_seconds", Help: "Time to handle a webhook, by route.", ConstLabels: constLabels, Buckets: latencyBuckets,
		}, []string{"route"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slipstream_sink_sends_total", Help: "Events sent to K_SINK, by outcome (sent, rejected, unavailable) and attempts.", ConstLabels: constLabels,
		}, []string{"outcome"}),
	}
	m.rollbacks = RollbacksTotal()
	prometheus.WrapRegistererWith(constLabels, m.registry).MustRegister(m.rollbacks)
	m.registry.MustRegister(m.events, m.eventDur, m.hooks, m.hookDur, m.sends,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// RollbacksTotal is slipstream_rollbacks_total, the rollbacks a function
// made by Service (rollback for alerts; rollout for a failed analysis, an
// abort or a deadline): one definition, so both count alike. A host serves
// its own (Host.Rollbacks); a function built without one counts unserved.
func RollbacksTotal() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "slipstream_rollbacks_total", Help: "Rollbacks made, by Service (rollback: alerts; rollout: failed analysis, abort, deadline).",
	}, []string{"namespace", "service"})
}
