package server

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/factory-wager/edgeconf/monitor"
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
		writeGauges(&b, sts)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, err := w.Write([]byte(b.String()))
	return err
}

// writeGauges writes the figures probes report besides latency (the D1
// cache's d1.cache_hits, …) as edgeconf_d1_cache_hits{dependency="d1"}.
func writeGauges(b *strings.Builder, sts []monitor.Status) {
	byName := map[string][]monitor.Status{}
	for _, st := range sts {
		for name := range st.Gauges {
			byName[name] = append(byName[name], st)
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		metric := "edgeconf_" + metricName(name)
		fmt.Fprintf(b, "# HELP %s %s, as the %s probe last read it.\n# TYPE %s gauge\n", metric, name, byName[name][0].Name, metric)
		for _, st := range byName[name] {
			fmt.Fprintf(b, "%s{dependency=\"%s\"} %g\n", metric, label(st.Name), st.Gauges[name])
		}
	}
}

// metricName turns a gauge name into a Prometheus metric name: letters,
// digits and underscores.
func metricName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			return r
		}
		return '_'
	}, s)
}
