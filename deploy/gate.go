package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/internal/termsafe"
)

// Gate is how a new version is judged: the smoke test's probes, and during
// the canary window the error rate and latency of probes pinned to it.
type Gate struct {
	SmokeProbes  int           // probes of the smoke test, all must pass; 0 means 3
	MinProbes    int           // probes the canary needs before it can pass; 0 means 10
	Window       time.Duration // the canary window; 0 means 5 minutes
	Interval     time.Duration // between probes; 0 means 5 s
	MaxErrorRate float64       // failed probes / probes, 0..1; 0 means 0.01 (1 %)
	MaxLatency   time.Duration // the p95 latency allowed; 0 means 1 s
}

func (g Gate) withDefaults() Gate {
	if g.SmokeProbes <= 0 {
		g.SmokeProbes = 3
	}
	if g.MinProbes <= 0 {
		g.MinProbes = 10
	}
	if g.Window <= 0 {
		g.Window = 5 * time.Minute
	}
	if g.Interval <= 0 {
		g.Interval = 5 * time.Second
	}
	if g.MaxErrorRate <= 0 {
		g.MaxErrorRate = 0.01
	}
	if g.MaxLatency <= 0 {
		g.MaxLatency = time.Second
	}
	return g
}

// ProbeResult is one probe of a version.
type ProbeResult struct {
	OK      bool
	Latency time.Duration
	Problem string // why it failed
}

// Prober sends one request to the Worker pinned to a version.
type Prober interface {
	Probe(ctx context.Context, worker, versionID string) ProbeResult
}

// GateReport is what the probes of one phase saw.
type GateReport struct {
	Probes    int     `json:"probes"`
	Failures  int     `json:"failures"`
	ErrorRate float64 `json:"errorRate"`
	P50ms     float64 `json:"p50Ms"`
	P95ms     float64 `json:"p95Ms"`
	Healthy   bool    `json:"healthy"`
	Reason    string  `json:"reason,omitempty"`
	// LastProblem is the reason of the last failed probe.
	LastProblem string `json:"lastProblem,omitempty"`
	// RecordedErrors are the unhandled errors the version recorded itself
	// (ApplyOptions.Errors), out of Requests counted by its analytics.
	RecordedErrors int `json:"recordedErrors,omitempty"`
	Requests       int `json:"requests,omitempty"`
	// ErrorsUnavailable says why the recorded errors could not be read.
	ErrorsUnavailable string `json:"errorsUnavailable,omitempty"`
}

// ErrorSource counts what a Worker version recorded about itself.
type ErrorSource interface {
	// VersionErrors returns the unhandled errors versionID recorded, the
	// requests it counted (0 without analytics), and the last error's
	// message.
	VersionErrors(ctx context.Context, versionID string) (errors, requests int, last string, err error)
}

// recordedErrors adds to a canary's report the errors its version
// recorded. The budget is the gate's error rate applied to the larger of
// the probes and the requests the version counted: with 10 probes and 1 %,
// one unhandled error fails the canary. A store that cannot be read is
// reported, and the probes alone decide.
func (a *applier) recordedErrors(ctx context.Context, versionID string, rep *GateReport) {
	if a.o.Errors == nil {
		return
	}
	n, requests, last, err := a.o.Errors.VersionErrors(ctx, versionID)
	if err != nil {
		rep.ErrorsUnavailable = termsafe.String(err.Error())
		a.res.Warnings = append(a.res.Warnings, "the canary's recorded errors could not be read: "+rep.ErrorsUnavailable)
		return
	}
	rep.RecordedErrors, rep.Requests = n, requests
	budget := int(a.o.Gate.withDefaults().MaxErrorRate * float64(max(rep.Probes, requests)))
	if n > budget && rep.Healthy {
		rep.Healthy = false
		rep.Reason = fmt.Sprintf("version %s recorded %d unhandled error(s), above the budget of %d (last: %s)", versionID, n, budget, truncate(termsafe.String(last), 200))
	}
}

// probe runs count probes (count > 0: every one must pass), or probes for
// window and at least min times, judging the error rate and p95 latency.
func (a *applier) probe(ctx context.Context, versionID string, min, count int, window time.Duration) GateReport {
	g := a.o.Gate.withDefaults()
	var lat []time.Duration
	rep := GateReport{}
	start := a.o.Now()
	for i := 0; ; i++ {
		if count > 0 && i == count {
			break
		}
		if count == 0 && i >= min && a.o.Now().Sub(start) >= window {
			break
		}
		if i > 0 {
			if err := a.o.Sleep(ctx, g.Interval); err != nil {
				rep.Reason = "interrupted: " + err.Error()
				return rep
			}
		}
		r := a.o.Prober.Probe(ctx, a.p.Spec.Worker, versionID)
		rep.Probes++
		lat = append(lat, r.Latency)
		if !r.OK {
			rep.Failures++
			rep.LastProblem = r.Problem
			if count > 0 {
				break // a smoke test fails on its first failed probe
			}
		}
		// A canary fails early once its failures alone exceed the rate
		// over the probes it must run.
		if count == 0 && float64(rep.Failures) > g.MaxErrorRate*float64(max(min, rep.Probes)) && rep.Failures > 0 && rep.Probes >= min {
			break
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	rep.P50ms = ms(percentile(lat, 0.50))
	rep.P95ms = ms(percentile(lat, 0.95))
	if rep.Probes > 0 {
		rep.ErrorRate = float64(rep.Failures) / float64(rep.Probes)
	}
	switch {
	case count > 0 && rep.Failures > 0:
		rep.Reason = fmt.Sprintf("probe %d of %d failed: %s", rep.Probes, count, rep.LastProblem)
	case count == 0 && rep.ErrorRate > g.MaxErrorRate:
		rep.Reason = fmt.Sprintf("error rate %.1f %% over %d probes is above %.1f %% (last: %s)", rep.ErrorRate*100, rep.Probes, g.MaxErrorRate*100, rep.LastProblem)
	case percentile(lat, 0.95) > g.MaxLatency:
		rep.Reason = fmt.Sprintf("p95 latency %.0f ms is above %d ms", rep.P95ms, g.MaxLatency.Milliseconds())
	default:
		rep.Healthy = true
	}
	return rep
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// VersionOverrideHeader pins a request to a version of a Worker in the
// live deployment, even one at 0 %.
const VersionOverrideHeader = "Cloudflare-Workers-Version-Overrides"

// maxHealthBody bounds what a probe reads of a /healthz answer.
const maxHealthBody = 64 << 10

// HTTPProber probes BaseURL/healthz with the version override header; the
// answer must be 200 and name the version (the Worker's /healthz reports
// CF_VERSION_METADATA).
type HTTPProber struct {
	BaseURL string
	Client  *http.Client // nil means one with a 10 s timeout
	Host    string       // optional Host header (a route's hostname)
	Now     func() time.Time
}

// Probe implements Prober.
func (h HTTPProber) Probe(ctx context.Context, worker, versionID string) ProbeResult {
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	now := h.Now
	if now == nil {
		now = time.Now
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(h.BaseURL, "/")+"/healthz", nil)
	if err != nil {
		return ProbeResult{Problem: err.Error()}
	}
	if h.Host != "" {
		req.Host = h.Host
	}
	req.Header.Set(VersionOverrideHeader, fmt.Sprintf("%s=%q", worker, versionID))
	start := now()
	res, err := c.Do(req)
	if err != nil {
		return ProbeResult{Latency: now().Sub(start), Problem: err.Error()}
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxHealthBody))
	lat := now().Sub(start)
	if err != nil {
		return ProbeResult{Latency: lat, Problem: "read /healthz: " + err.Error()}
	}
	if res.StatusCode != http.StatusOK {
		return ProbeResult{Latency: lat, Problem: fmt.Sprintf("/healthz answered %d", res.StatusCode)}
	}
	var hz struct {
		Status  string `json:"status"`
		Version struct {
			ID string `json:"id"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &hz); err != nil {
		return ProbeResult{Latency: lat, Problem: "/healthz is not JSON: " + err.Error()}
	}
	if hz.Version.ID != versionID {
		return ProbeResult{Latency: lat, Problem: fmt.Sprintf("answered by version %q, not %s (is the version in the live deployment?)", hz.Version.ID, versionID)}
	}
	if hz.Status != "ok" {
		return ProbeResult{Latency: lat, Problem: "/healthz status " + hz.Status}
	}
	return ProbeResult{OK: true, Latency: lat}
}

// GateFromConfig reads the gate's thresholds from the alert metrics of the
// configuration: worker.error_rate (a ratio) and worker.latency_ms.
func GateFromConfig(alerts []config.AlertConfig) Gate {
	var g Gate
	for _, a := range alerts {
		switch a.Metric {
		case "worker.error_rate":
			g.MaxErrorRate = a.Threshold
		case "worker.latency_ms":
			g.MaxLatency = time.Duration(a.Threshold * float64(time.Millisecond))
		}
	}
	return g
}
