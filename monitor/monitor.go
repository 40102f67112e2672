// Package monitor watches the dependencies the configuration names and
// keeps each one's state: a probe per dependency (KV, R2, D1, the Worker's
// /healthz, the API token) runs every dependencies.thresholds.refresh
// seconds; a dependency is ok while its probes are good, warning after
// thresholds.warning seconds without a good probe, critical after
// thresholds.critical. Each change of state (ok → warning → critical →
// recovered) is one Alert, written to the store the alert configuration
// names (a KV key with a TTL, or an R2 object per day). A probe is good when
// it succeeds within the latency the alerts set for its metric
// (kv.latency_ms, …).
//
// The state machine runs on an injected clock; probes are small interfaces
// so that tests drive them.
package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/config"
)

// State is a dependency's health.
type State string

// The states of a dependency.
const (
	Unknown  State = "unknown" // not probed yet
	OK       State = "ok"
	Warning  State = "warning"
	Critical State = "critical"
)

// MaxSamples is how many latencies a dependency keeps (for the sparklines).
const MaxSamples = 60

// DefaultProbeTimeout bounds one probe when Options.ProbeTimeout is 0.
const DefaultProbeTimeout = 10 * time.Second

// Probe checks one dependency.
type Probe interface {
	// Name is the dependency: kv, r2, d1, worker, token.
	Name() string
	// Metric is the latency metric its alerts use (kv.latency_ms, …).
	Metric() string
	// Check probes once. A nil error is a success.
	Check(ctx context.Context) error
}

// Gauger is a Probe that also reports figures of its dependency (the D1
// cache's hits and misses), read after each good check. A failure to read
// them never fails the probe.
type Gauger interface {
	Gauges(ctx context.Context) (map[string]float64, error)
}

// WithGauges adds the figures f reads to probe p.
func WithGauges(p Probe, f func(ctx context.Context) (map[string]float64, error)) Probe {
	return gauged{p, f}
}

type gauged struct {
	Probe
	f func(ctx context.Context) (map[string]float64, error)
}

func (g gauged) Gauges(ctx context.Context) (map[string]float64, error) { return g.f(ctx) }

// Status is what the monitor knows of a dependency.
type Status struct {
	Name      string    `json:"name"`
	Metric    string    `json:"metric"`
	State     State     `json:"state"`
	Since     time.Time `json:"since"`             // when it entered State
	LastGood  time.Time `json:"lastGood,omitzero"` // the last good probe
	LastError string    `json:"lastError,omitempty"`
	LatencyMs float64   `json:"latencyMs"` // of the last probe
	Samples   []float64 `json:"samples"`   // the last MaxSamples latencies, oldest first
	Threshold float64   `json:"thresholdMs,omitempty"`
	// Gauges are the figures its probe reports besides latency (Gauger),
	// as of the last good probe that read them.
	Gauges map[string]float64 `json:"gauges,omitempty"`
}

// Alert is one change of a dependency's state.
type Alert struct {
	Dependency string    `json:"dependency"`
	Metric     string    `json:"metric"`
	From       State     `json:"from"`
	To         State     `json:"to"`
	At         time.Time `json:"at"`
	Message    string    `json:"message"`
	Storage    string    `json:"storage"` // KV or R2
}

// Recovered reports whether the alert is a return to ok.
func (a Alert) Recovered() bool { return a.To == OK && (a.From == Warning || a.From == Critical) }

// AlertStore keeps alerts.
type AlertStore interface {
	Put(ctx context.Context, a Alert) error
	List(ctx context.Context, limit int) ([]Alert, error)
}

// Options configure a Monitor.
type Options struct {
	Probes     []Probe
	Thresholds config.DependencyThresholds
	Alerts     []config.AlertConfig
	// Stores holds the alert stores by storage name ("KV", "R2"); an
	// alert whose storage has none goes to "KV", else is only logged.
	Stores map[string]AlertStore
	// Strict makes a dependency that has never had a good probe critical
	// at its first failure (edgeconf monitor --once), instead of counting
	// the seconds from the monitor's start.
	Strict       bool
	ProbeTimeout time.Duration // 0 means DefaultProbeTimeout
	Now          func() time.Time
	Sleep        func(ctx context.Context, d time.Duration) error
	Logger       *slog.Logger
	// OnChange, if set, is called after each round that changed a state.
	OnChange func([]Alert)
}

// Monitor keeps the state of every dependency.
type Monitor struct {
	o       Options
	started time.Time
	mu      sync.Mutex
	deps    map[string]*Status
}

// New returns a monitor; it probes nothing until Round or Run.
func New(o Options) (*Monitor, error) {
	if o.Thresholds.Refresh <= 0 || o.Thresholds.Warning <= 0 || o.Thresholds.Critical <= 0 {
		return nil, fmt.Errorf("monitor: thresholds must be positive (refresh %d, warning %d, critical %d seconds)", o.Thresholds.Refresh, o.Thresholds.Warning, o.Thresholds.Critical)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = DefaultProbeTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Monitor{o: o, started: o.Now(), deps: map[string]*Status{}}
	for _, p := range o.Probes {
		m.deps[p.Name()] = &Status{Name: p.Name(), Metric: p.Metric(), State: Unknown, Since: m.started, Samples: []float64{}, Threshold: m.threshold(p.Metric())}
	}
	return m, nil
}

// threshold is the latency (ms) the alerts allow for a metric; 0 is none.
func (m *Monitor) threshold(metric string) float64 {
	for _, a := range m.o.Alerts {
		if a.Metric == metric {
			return a.Threshold
		}
	}
	return 0
}

// storage is where alerts of a metric go.
func (m *Monitor) storage(metric string) string {
	for _, a := range m.o.Alerts {
		if a.Metric == metric && a.Storage != "" {
			return a.Storage
		}
	}
	return "KV"
}

// Interval is the time between two rounds.
func (m *Monitor) Interval() time.Duration {
	return time.Duration(m.o.Thresholds.Refresh) * time.Second
}

// Round probes every dependency once (in parallel), updates the states and
// stores an alert per change. It returns the alerts of the round.
func (m *Monitor) Round(ctx context.Context) []Alert {
	type result struct {
		name    string
		latency time.Duration
		err     error
		gauges  map[string]float64
	}
	results := make([]result, len(m.o.Probes))
	var wg sync.WaitGroup
	for i, p := range m.o.Probes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, m.o.ProbeTimeout)
			defer cancel()
			start := m.o.Now()
			err := p.Check(pctx)
			results[i] = result{name: p.Name(), latency: m.o.Now().Sub(start), err: err}
			if g, ok := p.(Gauger); ok && err == nil {
				gs, gerr := g.Gauges(pctx)
				if gerr != nil {
					m.o.Logger.Debug("monitor: gauges not read", "dependency", p.Name(), "err", gerr)
				} else {
					results[i].gauges = gs
				}
			}
		}()
	}
	wg.Wait()
	now := m.o.Now()
	var alerts []Alert
	m.mu.Lock()
	for _, r := range results {
		st := m.deps[r.name]
		ms := float64(r.latency.Microseconds()) / 1000
		st.LatencyMs = ms
		if r.gauges != nil {
			st.Gauges = r.gauges
		}
		st.Samples = append(st.Samples, ms)
		if len(st.Samples) > MaxSamples {
			st.Samples = st.Samples[len(st.Samples)-MaxSamples:]
		}
		good := r.err == nil && (st.Threshold == 0 || ms <= st.Threshold)
		switch {
		case r.err != nil:
			st.LastError = r.err.Error()
		case !good:
			st.LastError = fmt.Sprintf("%s %.0f ms is above the alert threshold of %.0f ms", st.Metric, ms, st.Threshold)
		default:
			st.LastError, st.LastGood = "", now
		}
		next := m.stateOf(st, now)
		if next != st.State {
			a := Alert{Dependency: st.Name, Metric: st.Metric, From: st.State, To: next, At: now, Storage: m.storage(st.Metric), Message: message(st, next)}
			if st.State != Unknown || next != OK {
				alerts = append(alerts, a)
			}
			st.State, st.Since = next, now
		}
	}
	m.mu.Unlock()
	for _, a := range alerts {
		m.o.Logger.Warn("monitor: "+a.Message, "dependency", a.Dependency, "from", a.From, "to", a.To)
		if err := m.store(ctx, a); err != nil {
			m.o.Logger.Error("monitor: could not store the alert", "dependency", a.Dependency, "err", err)
		}
	}
	if len(alerts) > 0 && m.o.OnChange != nil {
		m.o.OnChange(alerts)
	}
	return alerts
}

func (m *Monitor) stateOf(st *Status, now time.Time) State {
	if st.LastGood.Equal(now) {
		return OK
	}
	since := st.LastGood
	if since.IsZero() {
		if m.o.Strict {
			return Critical
		}
		since = m.started
	}
	bad := now.Sub(since)
	switch {
	case bad >= time.Duration(m.o.Thresholds.Critical)*time.Second:
		return Critical
	case bad >= time.Duration(m.o.Thresholds.Warning)*time.Second:
		return Warning
	case st.State == Unknown:
		return OK // within the grace of the first probes
	}
	return st.State
}

func message(st *Status, to State) string {
	switch {
	case to == OK:
		return st.Name + " recovered"
	case st.LastGood.IsZero():
		return fmt.Sprintf("%s is %s: no good probe yet (%s)", st.Name, to, st.LastError)
	}
	return fmt.Sprintf("%s is %s: no good probe since %s (%s)", st.Name, to, st.LastGood.UTC().Format(time.RFC3339), st.LastError)
}

func (m *Monitor) store(ctx context.Context, a Alert) error {
	s := m.o.Stores[a.Storage]
	if s == nil {
		s = m.o.Stores["KV"]
		a.Storage = "KV"
	}
	if s == nil {
		return errors.New("no alert store is configured")
	}
	return s.Put(ctx, a)
}

// Statuses returns every dependency's status, by name.
func (m *Monitor) Statuses() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.deps))
	for _, st := range m.deps {
		c := *st
		c.Samples = append([]float64(nil), st.Samples...)
		c.Gauges = maps.Clone(st.Gauges)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Critical lists the dependencies that are critical.
func (m *Monitor) Critical() []string {
	out := []string{}
	for _, st := range m.Statuses() {
		if st.State == Critical {
			out = append(out, st.Name)
		}
	}
	return out
}

// Run probes every Interval until ctx ends.
func (m *Monitor) Run(ctx context.Context) error { return m.RunThen(ctx, nil) }

// RunThen is Run, calling afterFirst (when not nil) once the first round
// is done: a command shows the initial states there.
func (m *Monitor) RunThen(ctx context.Context, afterFirst func()) error {
	for {
		m.Round(ctx)
		if afterFirst != nil {
			afterFirst()
			afterFirst = nil
		}
		if err := m.o.Sleep(ctx, m.Interval()); err != nil {
			return err
		}
	}
}

// Alerts lists the stored alerts, newest first, from every store.
func (m *Monitor) Alerts(ctx context.Context, limit int) ([]Alert, error) {
	var out []Alert
	for _, name := range []string{"KV", "R2"} {
		s := m.o.Stores[name]
		if s == nil {
			continue
		}
		as, err := s.List(ctx, limit)
		if err != nil {
			return nil, fmt.Errorf("alerts in %s: %w", name, err)
		}
		out = append(out, as...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Backends are how the probes reach each dependency; a nil one is not
// probed.
type Backends struct {
	KV        OpenKV                          // dependencies.integrations.kv
	R2        ProbeTarget                     // dependencies.integrations.r2: the first bucket
	D1        Probe                           // a D1Probe of the first database, when one is declared
	WorkerURL string                          // the Worker's /healthz (and Durable Objects through it)
	Token     func(ctx context.Context) error // the API token's verification (with --remote)
	Now       func() time.Time
}

// ProbeTarget is a probe to add as it is (the R2 probe of a bucket).
type ProbeTarget = Probe

// ProbesFor lists the probes the configuration asks for: those of the
// integrations it enables, D1 when it declares a database, the Worker when
// its URL is known, the token when there is one.
func ProbesFor(cfg *config.Config, b Backends) []Probe {
	var out []Probe
	in := cfg.Dependencies.Integrations
	if in.KV && b.KV != nil {
		out = append(out, KVProbe(b.KV, b.Now))
	}
	if in.R2 && b.R2 != nil {
		out = append(out, b.R2)
	}
	if len(cfg.Cloudflare.D1Databases) > 0 && b.D1 != nil {
		out = append(out, b.D1)
	}
	if b.WorkerURL != "" {
		out = append(out, WorkerProbe(b.WorkerURL, nil))
	}
	if b.Token != nil {
		out = append(out, Func{N: "token", M: "token.latency_ms", F: b.Token})
	}
	return out
}
