package wsproxy

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync/atomic"
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

var (
	connectionResults = []string{resultAccepted, resultUnauthorized, resultForbiddenOrigin, resultBadRequest, resultOverCapacity, resultUpstreamFailed}
	errorKinds        = []string{kindUpstreamDial, kindMessageTooBig, kindIdleTimeout, kindClientLost, kindUpstreamLost, kindWriteFailed}
)

// counter is a monotonically increasing metric (a gauge when Add is given
// negative deltas).
type counter struct{ n atomic.Int64 }

func (c *counter) Inc()          { c.n.Add(1) }
func (c *counter) Dec()          { c.n.Add(-1) }
func (c *counter) Add(v float64) { c.n.Add(int64(v)) }
func (c *counter) value() int64  { return c.n.Load() }

// labelled is a family of counters keyed by one label's value; the values
// are fixed when it is made, so lookups need no lock.
type labelled map[string]*counter

func newLabelled(values []string) labelled {
	l := make(labelled, len(values))
	for _, v := range values {
		l[v] = &counter{}
	}
	return l
}

// WithLabelValues returns the counter of value v, which must be one the
// family was made with.
func (l labelled) WithLabelValues(v string) *counter { return l[v] }

// relayMetrics are the Relay's metrics: plain atomic counters, written in
// the Prometheus text exposition format by writeTo. The counters a message
// touches are resolved once, so the relaying path does no label lookups.
type relayMetrics struct {
	active      counter
	connections labelled
	bytesUp     *counter // client to upstream
	bytesDown   *counter // upstream to client
	msgsUp      *counter
	msgsDown    *counter
	errors      labelled
}

func newRelayMetrics() *relayMetrics {
	return &relayMetrics{
		connections: newLabelled(connectionResults),
		bytesUp:     &counter{},
		bytesDown:   &counter{},
		msgsUp:      &counter{},
		msgsDown:    &counter{},
		errors:      newLabelled(errorKinds),
	}
}

// writeTo writes the metrics, and the process's goroutines and open files,
// in the Prometheus text exposition format (version 0.0.4).
func (m *relayMetrics) writeTo(w io.Writer) {
	family := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("wsproxy_relay_connections", "gauge", "Client connections currently joined to an upstream connection.")
	fmt.Fprintf(w, "wsproxy_relay_connections %d\n", m.active.value())
	family("wsproxy_relay_connections_total", "counter", "Client upgrade requests by result: accepted, unauthorized, forbidden_origin, bad_request, over_capacity, upstream_failed.")
	for _, r := range connectionResults {
		fmt.Fprintf(w, "wsproxy_relay_connections_total{result=%q} %d\n", r, m.connections[r].value())
	}
	family("wsproxy_relay_bytes_total", "counter", "Payload bytes relayed, by direction (client_to_upstream, upstream_to_client).")
	fmt.Fprintf(w, "wsproxy_relay_bytes_total{direction=\"client_to_upstream\"} %d\n", m.bytesUp.value())
	fmt.Fprintf(w, "wsproxy_relay_bytes_total{direction=\"upstream_to_client\"} %d\n", m.bytesDown.value())
	family("wsproxy_relay_messages_total", "counter", "WebSocket messages relayed, by direction.")
	fmt.Fprintf(w, "wsproxy_relay_messages_total{direction=\"client_to_upstream\"} %d\n", m.msgsUp.value())
	fmt.Fprintf(w, "wsproxy_relay_messages_total{direction=\"upstream_to_client\"} %d\n", m.msgsDown.value())
	family("wsproxy_relay_errors_total", "counter", "Failures by kind: upstream_dial, message_too_big, idle_timeout, client_lost, upstream_lost, write_failed.")
	for _, k := range errorKinds {
		fmt.Fprintf(w, "wsproxy_relay_errors_total{kind=%q} %d\n", k, m.errors[k].value())
	}
	family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		family("process_open_fds", "gauge", "Number of open file descriptors.")
		fmt.Fprintf(w, "process_open_fds %d\n", len(fds))
	}
}

// serveMetrics answers GET /metrics.
func (m *relayMetrics) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.writeTo(w)
}
