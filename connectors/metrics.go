package connectors

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	queue    *prometheus.GaugeVec
	dead     *prometheus.GaugeVec
	latency  *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

func newMetrics() *metrics {
	return &metrics{
		queue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headwater_connector_queue_depth", Help: "Outbox entries waiting for delivery, per directory.",
		}, []string{"directory"}),
		dead: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "headwater_connector_dead_letters", Help: "Outbox entries parked after failing for good, per directory.",
		}, []string{"directory"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "headwater_connector_delivery_seconds", Help: "Time from a change to its delivery, per directory and kind (password, sync).",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800},
		}, []string{"directory", "kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headwater_connector_failures_total", Help: "Failed deliveries by directory and reason (transient, throttled, rejected, credentials, unreachable).",
		}, []string{"directory", "reason"}),
	}
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queue, m.dead, m.latency, m.failures}
}
