package wsproxy

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Results of a client's upgrade request, the "result" label of
// wsproxy_relay_connections_total.
const (
	resultAccepted        = "accepted"
	resultUnauthorized    = "unauthorized"     // missing or wrong bearer token (401)
	resultForbiddenOrigin = "forbidden_origin" // Origin not on the allowlist (403)
	resultBadRequest      = "bad_request"      // not a valid WebSocket upgrade (400)
	resultOverCapacity    = "over_capacity"    // MaxConnections reached or shutting down (503)
	resultUpstreamFailed  = "upstream_failed"  // the upstream dial failed (502)
)

// Why a relayed pair ended, the "kind" label of wsproxy_relay_errors_total
// (a clean close by either side is not an error and is not counted there).
const (
	kindUpstreamDial  = "upstream_dial"
	kindMessageTooBig = "message_too_big"
	kindIdleTimeout   = "idle_timeout"
	kindClientLost    = "client_lost"   // the client connection broke
	kindUpstreamLost  = "upstream_lost" // the upstream connection broke
	kindWriteFailed   = "write_failed"  // a write timed out or failed (a stuck peer)
)

// relayMetrics are the Relay's Prometheus metrics. The counters a message
// touches are resolved once, so the relaying path does no label lookups.
type relayMetrics struct {
	active      prometheus.Gauge
	connections *prometheus.CounterVec
	bytesUp     prometheus.Counter // client to upstream
	bytesDown   prometheus.Counter // upstream to client
	msgsUp      prometheus.Counter
	msgsDown    prometheus.Counter
	errors      *prometheus.CounterVec
}

func newRelayMetrics(reg prometheus.Registerer) *relayMetrics {
	bytes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wsproxy_relay_bytes_total",
		Help: "Payload bytes relayed, by direction (client_to_upstream, upstream_to_client).",
	}, []string{"direction"})
	msgs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wsproxy_relay_messages_total",
		Help: "WebSocket messages relayed, by direction.",
	}, []string{"direction"})
	m := &relayMetrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wsproxy_relay_connections",
			Help: "Client connections currently joined to an upstream connection.",
		}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wsproxy_relay_connections_total",
			Help: "Client upgrade requests by result: accepted, unauthorized, forbidden_origin, bad_request, over_capacity, upstream_failed.",
		}, []string{"result"}),
		bytesUp:   bytes.WithLabelValues("client_to_upstream"),
		bytesDown: bytes.WithLabelValues("upstream_to_client"),
		msgsUp:    msgs.WithLabelValues("client_to_upstream"),
		msgsDown:  msgs.WithLabelValues("upstream_to_client"),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wsproxy_relay_errors_total",
			Help: "Failures by kind: upstream_dial, message_too_big, idle_timeout, client_lost, upstream_lost, write_failed.",
		}, []string{"kind"}),
	}
	for _, r := range []string{resultAccepted, resultUnauthorized, resultForbiddenOrigin, resultBadRequest, resultOverCapacity, resultUpstreamFailed} {
		m.connections.WithLabelValues(r)
	}
	for _, k := range []string{kindUpstreamDial, kindMessageTooBig, kindIdleTimeout, kindClientLost, kindUpstreamLost, kindWriteFailed} {
		m.errors.WithLabelValues(k)
	}
	reg.MustRegister(m.active, m.connections, bytes, msgs, m.errors)
	return m
}

// newRegistry is the registry a Relay uses when given none: its own
// metrics plus the Go runtime's and the process's (RSS, open files).
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}
