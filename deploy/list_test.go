package deploy

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
)

// TestListsAndStatus: versions, deployments, the live status and a
// deploy's result print with control characters from the account escaped.
func TestListsAndStatus(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	o := applyOpts(clk, ok, nil)
	o.Message = "first\x1b[31m"
	res, err := Apply(ctx, c, prepared(t, c, testSpec()), o)
	if err != nil {
		t.Fatal(err)
	}
	vs, _ := c.Versions(ctx, "app", 0)
	ds, _ := c.Deployments(ctx, "app")
	st, err := LiveStatus(ctx, c, "app")
	if err != nil || len(st.Versions) != 1 || st.Versions[0].Tag != testSpec().CodeTag() {
		t.Fatalf("status = %+v, %v", st, err)
	}
	var b bytes.Buffer
	for _, write := range []func() error{
		func() error { return WriteVersions(&b, vs) },
		func() error { return WriteDeployments(&b, ds) },
		func() error { return st.WriteText(&b) },
		func() error { return res.WriteText(&b) },
		func() error { return (&Result{Worker: "app", Outcome: Unchanged}).WriteText(&b) },
		func() error {
			return (&Result{Worker: "app", Outcome: RolledBack, VersionID: "n", PreviousVersion: "p",
				Canary: &GateReport{Probes: 5, Failures: 2, Reason: "error rate"}, Warnings: []string{"w"}}).WriteText(&b)
		},
		func() error { return (&Result{Worker: "app", Outcome: "failed"}).WriteText(&b) },
		func() error {
			return (&Result{Worker: "one", Smoke: &GateReport{Probes: 1, Healthy: true}}).WriteText(&b)
		},
	} {
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Errorf("a control character reached the output:\n%q", out)
	}
	for _, want := range []string{"VERSION", "(live)", "100%", "tag ec-", "Deployed app", "is up to date", "Rolled back app", "canary: 5 probes, 2 failed", "warning: w", "did not finish (failed)",
		"Deploy of one did not finish (the error says why)", "smoke test: 1 probe, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := LiveStatus(ctx, c, "missing"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Errorf("status of a missing Worker: %v", err)
	}
}

func TestGateFromConfig(t *testing.T) {
	g := GateFromConfig([]config.AlertConfig{{Metric: "worker.error_rate", Threshold: 0.05}, {Metric: "worker.latency_ms", Threshold: 250}, {Metric: "kv.latency_ms", Threshold: 1}})
	if g.MaxErrorRate != 0.05 || g.MaxLatency != 250*time.Millisecond {
		t.Fatalf("gate = %+v", g)
	}
	if d := (Gate{}).withDefaults(); d.MaxErrorRate != 0.01 || d.MaxLatency != time.Second || d.Window != 5*time.Minute {
		t.Fatalf("defaults = %+v", d)
	}
}

// TestGate_Latency: a canary whose p95 is over the limit fails even with no
// errors.
func TestGate_Latency(t *testing.T) {
	slow := proberFunc(func(string) ProbeResult { return ProbeResult{OK: true, Latency: 2 * time.Second} })
	clk := &fakeClock{now: time.Unix(0, 0)}
	a := &applier{p: &Prepared{Spec: testSpec()}, o: ApplyOptions{Prober: slow, Now: clk.Now, Sleep: clk.Sleep, Gate: Gate{MaxLatency: time.Second}}, res: &Result{}}
	rep := a.probe(context.Background(), "v", 3, 0, time.Minute)
	if rep.Healthy || !strings.Contains(rep.Reason, "p95 latency") || rep.Probes < 3 {
		t.Fatalf("slow canary = %+v", rep)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("sleep with a cancelled context: %v", err)
	}
	if err := sleepCtx(context.Background(), time.Microsecond); err != nil {
		t.Fatal(err)
	}
	a.o.Sleep = sleepCtx
	rep = a.probe(ctx, "v", 3, 0, time.Minute)
	if rep.Healthy || !strings.Contains(rep.Reason, "interrupted") {
		t.Fatalf("an interrupted canary = %+v", rep)
	}
}

type proberFunc func(id string) ProbeResult

func (f proberFunc) Probe(_ context.Context, _, id string) ProbeResult { return f(id) }
