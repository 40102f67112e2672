package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
)

func TestRollback(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	clk := &fakeClock{now: time.Unix(0, 0)}
	ok := &versionProber{healthy: func(string, int) bool { return true }}
	if _, err := Rollback(ctx, c, RollbackOptions{Worker: "app"}); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Fatalf("rollback of a Worker that does not exist: %v", err)
	}
	r1, err := Apply(ctx, c, prepared(t, c, testSpec()), applyOpts(clk, ok, nil))
	if err != nil {
		t.Fatal(err)
	}
	s2 := testSpec()
	s2.Script = []byte("export default {v:2}")
	s2.Secrets = nil
	r2, err := Apply(ctx, c, prepared(t, c, s2), applyOpts(clk, ok, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, c, RollbackOptions{Worker: "app", To: "no-such-version"}); !errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "most recent") {
		t.Fatalf("rollback to an unknown version: %v", err)
	}
	if _, err := Rollback(ctx, c, RollbackOptions{Worker: "app", To: r2.VersionID}); !errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "already live") {
		t.Fatalf("rollback to the live version: %v", err)
	}
	res, err := Rollback(ctx, c, RollbackOptions{Worker: "app", Message: "bad release"})
	if err != nil {
		t.Fatal(err)
	}
	if res.To != r1.VersionID || res.From[0].VersionID != r2.VersionID {
		t.Fatalf("rollback went from %+v to %s, want %s → %s", res.From, res.To, r2.VersionID, r1.VersionID)
	}
	if sp := live(t, c); sp[0].VersionID != r1.VersionID || sp[0].Percentage != 100 {
		t.Fatalf("live after the rollback: %+v", sp)
	}
	deps, _ := c.Deployments(ctx, "app")
	if deps[0].Message != "bad release" {
		t.Errorf("the rollback deployment's message is %q", deps[0].Message)
	}

	// A version whose namespace is gone cannot come back.
	up := cloudflare.Upload{MainModule: "index.js", Modules: []cloudflare.Module{{Name: "index.js", Content: []byte("x")}},
		Bindings: []cloudflare.Binding{{Type: "kv_namespace", Name: "CONFIG", NamespaceID: "ffffffffffffffffffffffffffffffff"},
			{Type: "r2_bucket", Name: "FILES", BucketName: "gone-bucket"}, {Type: "d1", Name: "DB", ID: "00000000-0000-4000-8000-00000000dead"}}}
	v, err := c.UploadVersion(ctx, "app", up)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, c, RollbackOptions{Worker: "app", To: v.ID}); !errors.Is(err, ErrRollbackRefused) ||
		!strings.Contains(err.Error(), "kv namespace ffffffffffffffffffffffffffffffff") || !strings.Contains(err.Error(), "r2 bucket gone-bucket") || !strings.Contains(err.Error(), "d1 database 00000000") {
		t.Fatalf("rollback to a version with missing resources: %v", err)
	}
	// The secrets differ between r1 (DASHBOARD_TOKEN, kept from the first
	// upload) and v (no secrets): going back from v to r1 warns.
	if _, err := c.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v.ID, Percentage: 100}}}); err != nil {
		t.Fatal(err)
	}
	res, err = Rollback(ctx, c, RollbackOptions{Worker: "app", To: r1.VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "DASHBOARD_TOKEN") {
		t.Fatalf("rollback across a secret change warns %q", res.Warnings)
	}
}

// TestRollback_OneDeployment: with one deployment there is nothing before
// it to go back to.
func TestRollback_OneDeployment(t *testing.T) {
	c, ctx := emulator(t), context.Background()
	if _, err := c.UploadScript(ctx, "app", cloudflare.Upload{MainModule: "i.js", Modules: []cloudflare.Module{{Name: "i.js", Content: []byte("x")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(ctx, c, RollbackOptions{Worker: "app"}); !errors.Is(err, ErrRollbackRefused) || !strings.Contains(err.Error(), "only one deployment") {
		t.Fatalf("rollback with one deployment: %v", err)
	}
}
