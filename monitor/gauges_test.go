package monitor

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestGauges: a probe's figures are read after a good check and kept in
// its status; a failed read of them, or a failed check, leaves the last
// figures and never fails the probe.
func TestGauges(t *testing.T) {
	clk := &clock{t: time.Unix(0, 0)}
	p := &switchable{name: "d1", clk: clk}
	hits, readErr := 1.0, error(nil)
	m, err := New(Options{Probes: []Probe{WithGauges(p, func(context.Context) (map[string]float64, error) {
		return map[string]float64{"d1.cache_hits": hits}, readErr
	})}, Thresholds: thresholds, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	gauge := func() (float64, State) {
		st := m.Statuses()[0]
		return st.Gauges["d1.cache_hits"], st.State
	}
	m.Round(context.Background())
	if g, s := gauge(); g != 1 || s != OK {
		t.Fatalf("after a good round: gauge %v, state %s", g, s)
	}
	hits, readErr = 5, errors.New("kv down")
	m.Round(context.Background())
	if g, s := gauge(); g != 1 || s != OK {
		t.Errorf("a failed read of the gauges: gauge %v, state %s", g, s)
	}
	readErr = nil
	p.set(errors.New("database gone"), 0)
	m.Round(context.Background())
	if g, _ := gauge(); g != 1 {
		t.Errorf("a failed check read the gauges: %v", g)
	}
	p.set(nil, 0)
	m.Round(context.Background())
	if g, _ := gauge(); g != 5 {
		t.Errorf("gauges after recovery: %v", g)
	}
	// Statuses hands out copies.
	m.Statuses()[0].Gauges["d1.cache_hits"] = 99
	if g, _ := gauge(); g != 5 {
		t.Errorf("a caller changed the monitor's gauges: %v", g)
	}
}
