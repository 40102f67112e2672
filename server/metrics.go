package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// metrics are the server's counters, written in the Prometheus text
// exposition format (the client library is not linked: see
// docs/dashboard.md).
type metrics struct {
	mu       sync.Mutex
	requests map[string]uint64 // route + "\x00" + status code
	sse      atomic.Int64
}

func (m *metrics) request(route string, status int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.requests == nil {
		m.requests = map[string]uint64{}
	}
	m.requests[fmt.Sprintf("%s\x00%d", route, status)]++
}

// label escapes a Prometheus label value.
func label(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) error {
	var b strings.Builder
	b.WriteString("# HELP edgeconf_http_requests_total API requests by route and status.\n# TYPE edgeconf_http_requests_total counter\n")
	s.metrics.mu.Lock()
	keys := make([]string, 0, len(s.metrics.requests))
	for k := range s.metrics.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		route, code, _ := strings.Cut(k, "\x00")
		fmt.Fprintf(&b, "edgeconf_http_requests_total{route=\"%s\",code=\"%s\"} %d\n", label(route), code, s.metrics.requests[k])
	}
	s.metrics.mu.Unlock()
	fmt.Fprintf(&b, "# HELP edgeconf_sse_clients Open live-update streams.\n# TYPE edgeconf_sse_clients gauge\nedgeconf_sse_clients %d\n", s.metrics.sse.Load())
	if s.o.Monitor != nil {
		b.WriteString("# HELP edgeconf_dependency_up 1 when a dependency is ok, 0 when warning or critical.\n# TYPE edgeconf_dependency_up gauge\n")
		sts := s.o.Monitor.Statuses()
		for _, st := range sts {
			up := 0
			if st.State == "ok" {
				up = 1
			}
			fmt.Fprintf(&b, "edgeconf_dependency_up{dependency=\"%s\"} %d\n", label(st.Name), up)
		}
		b.WriteString("# HELP edgeconf_dependency_latency_ms The latency of the last probe.\n# TYPE edgeconf_dependency_latency_ms gauge\n")
		for _, st := range sts {
			fmt.Fprintf(&b, "edgeconf_dependency_latency_ms{dependency=\"%s\"} %g\n", label(st.Name), st.LatencyMs)
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}
