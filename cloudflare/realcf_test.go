//go:build cloudflare

// The suites against a real Cloudflare account: make test-cloudflare (never
// run by CI). They skip, naming what is missing, without
// CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID. Every resource they make
// has the prefix edgeconf-test-<random> and is deleted when the test ends,
// passed or failed.

package cloudflare_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

// realClient is a client of the account in the environment, or a skip.
func realClient(t *testing.T) *cloudflare.Client {
	t.Helper()
	creds := cloudflare.CredentialsFromEnv(os.LookupEnv)
	if missing := creds.Missing(); len(missing) > 0 {
		t.Skipf("against a real account: set %s (see docs/cloudflare.md, \"make test-cloudflare\")", strings.Join(missing, " and "))
	}
	c, err := cloudflare.New(creds.Options())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// uniqueName is edgeconf-test-<8 random hex>-suffix.
func uniqueName(t *testing.T, suffix string) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "edgeconf-test-" + hex.EncodeToString(b) + "-" + suffix
}

// cleanupCtx bounds a cleanup that runs after the test's own context.
func cleanupCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// TestReal_KVConformance runs the KV conformance suite on a real namespace
// (the expiry cases need a clock the suite can move, and are skipped).
func TestReal_KVConformance(t *testing.T) {
	c := realClient(t)
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		ns, _, err := c.EnsureNamespace(context.Background(), uniqueName(t, "kv"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := cleanupCtx()
			defer cancel()
			if err := c.DeleteNamespace(ctx, ns.ID); err != nil {
				t.Errorf("cleanup: %v (delete namespace %s by hand)", err, ns.Title)
			}
		})
		return storetest.Harness{Store: c.KVNamespace(ns), Now: time.Now}
	}, storetest.Options{SkipLargeValues: true, RateLimited: true})
}

// TestReal_WorkersRoundTrip uploads a Worker, uploads a second version,
// splits traffic, rolls back and deletes it.
func TestReal_WorkersRoundTrip(t *testing.T) {
	c := realClient(t)
	ctx := context.Background()
	name := uniqueName(t, "worker")
	t.Cleanup(func() {
		ctx, cancel := cleanupCtx()
		defer cancel()
		if err := c.DeleteScript(ctx, name); err != nil && !strings.Contains(err.Error(), "not found") {
			t.Errorf("cleanup: %v (delete Worker %s by hand)", err, name)
		}
	})
	up := func(body string) cloudflare.Upload {
		return cloudflare.Upload{MainModule: "index.js", CompatibilityDate: "2025-01-01",
			Modules:  []cloudflare.Module{{Name: "index.js", Content: []byte("export default { fetch() { return new Response(" + body + ") } };")}},
			Bindings: []cloudflare.Binding{{Type: "plain_text", Name: "MODE", Text: "test"}}}
	}
	first, err := c.UploadScript(ctx, name, up(`"v1"`))
	if err != nil {
		t.Fatal(err)
	}
	second, err := c.UploadVersion(ctx, name, up(`"v2"`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deploy(ctx, name, cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: first.VersionID, Percentage: 90}, {VersionID: second.ID, Percentage: 10}}, Message: "edgeconf test split"}); err != nil {
		t.Fatal(err)
	}
	deps, err := c.Deployments(ctx, name)
	if err != nil || len(deps[0].Versions) != 2 {
		t.Fatalf("split: %+v, %v", deps, err)
	}
	if _, err := c.Deploy(ctx, name, cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: first.VersionID, Percentage: 100}}, Message: "edgeconf test rollback"}); err != nil {
		t.Fatal(err)
	}
	deps, err = c.Deployments(ctx, name)
	if err != nil || deps[0].Versions[0].VersionID != first.VersionID || deps[0].Versions[0].Percentage != 100 {
		t.Fatalf("rollback: %+v, %v", deps, err)
	}
	v, err := c.Version(ctx, name, second.ID)
	if err != nil || len(v.Bindings) == 0 {
		t.Fatalf("version: %+v, %v", v, err)
	}
}
