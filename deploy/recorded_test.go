package deploy

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/telemetry"
)

// recordingProber answers every probe healthily and, for the version
// being probed, lets record write what the Worker would record in KV.
type recordingProber struct {
	versionProber
	record func(id string)
}

func (p *recordingProber) Probe(ctx context.Context, worker, id string) ProbeResult {
	if p.record != nil {
		p.record(id)
	}
	return p.versionProber.Probe(ctx, worker, id)
}

type failingErrors struct{}

func (failingErrors) VersionErrors(context.Context, string) (int, int, string, error) {
	return 0, 0, "", errors.New("namespace unreachable")
}

// TestApply_CanaryCountsRecordedErrors: with error tracking, a canary whose
// probes all pass is still rolled back when its version recorded unhandled
// errors above the budget; errors of another version do not count; a
// store that cannot be read leaves the probes to decide, with a warning.
func TestApply_CanaryCountsRecordedErrors(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	j := &Journal{Path: filepath.Join(t.TempDir(), "deploy-journal.json")}
	kv := kvstore.NewMemory(clk.Now)
	src := telemetry.Source{Open: func(context.Context) (kvstore.Store, func() error, error) {
		return kv, func() error { return nil }, nil
	}}
	put := func(key, body string) {
		t.Helper()
		if err := kv.Put(ctx, key, []byte(body), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	healthy := &recordingProber{versionProber: versionProber{healthy: func(string, int) bool { return true }}}
	first, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, healthy, j))
	if err != nil {
		t.Fatal(err)
	}
	// The live version's own errors never fail someone else's canary.
	put(telemetry.ErrorsPrefix+first.VersionID+"/2026-12-05T12:00:00Z-r0", `{"version":"`+first.VersionID+`","message":"old"}`)

	deployWith := func(n int, src ErrorSource, record func(id string)) (*Result, error) {
		s := testSpec()
		s.Script = []byte(fmt.Sprintf("export default {v:%d}", n))
		o := applyOpts(clk, &recordingProber{versionProber: versionProber{healthy: func(string, int) bool { return true }}, record: record}, j)
		o.Canary, o.Errors = 10, src
		return Apply(ctx, c, prepared(t, c, s), o)
	}

	// No errors recorded by the canary: promoted, the figures reported.
	res, err := deployWith(2, src, func(id string) {
		put(telemetry.TelemetryPrefix+id+"/isolate-1", `{"version":"`+id+`","routes":{"/healthz":40}}`)
	})
	if err != nil || res.Outcome != Promoted || res.Canary.Requests != 40 || res.Canary.RecordedErrors != 0 {
		t.Fatalf("clean canary: %v, %+v", err, res.Canary)
	}
	now := res.VersionID

	// Errors recorded by the canary version: rolled back, the message named.
	n := 0
	res, err = deployWith(3, src, func(id string) {
		n++
		put(fmt.Sprintf("%s%s/2026-12-05T12:00:%02dZ-r%d", telemetry.ErrorsPrefix, id, n, n),
			`{"version":"`+id+`","route":"/api/config","message":"TypeError: x is undefined\u001b[2J"}`)
	})
	if !errors.Is(err, ErrUnhealthy) || res.Outcome != RolledBack || res.Canary.Healthy || res.Canary.RecordedErrors < 5 {
		t.Fatalf("canary with recorded errors: %v, %+v", err, res.Canary)
	}
	if !strings.Contains(err.Error(), "unhandled error") || !strings.Contains(err.Error(), "TypeError: x is undefined") || strings.Contains(err.Error(), "\x1b") {
		t.Errorf("the error does not name the recorded error, or prints control characters: %q", err)
	}
	var b strings.Builder
	if err := res.WriteText(&b); err != nil || !strings.Contains(b.String(), "unhandled error(s) recorded") {
		t.Errorf("the text result does not show the recorded errors: %v\n%s", err, b.String())
	}
	if sp := live(t, c); len(sp) != 1 || sp[0].VersionID != now {
		t.Fatalf("live after the rollback: %+v, want %s", sp, now)
	}

	// A store that cannot be read: the probes decide, with a warning.
	res, err = deployWith(4, failingErrors{}, nil)
	if err != nil || res.Outcome != Promoted || res.Canary.ErrorsUnavailable == "" || len(res.Warnings) == 0 {
		t.Fatalf("unreadable errors: %v, %+v, warnings %q", err, res.Canary, res.Warnings)
	}
}
