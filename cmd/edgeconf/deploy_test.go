package main

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
)

// TestDeployPlan runs deploy --plan against the emulator: a first deploy
// with a missing secret is a problem (exit 1), with the secret at hand the
// plan lists every creation (exit 2 with --detailed-exitcode), -o json is
// one object, and missing credentials are a usage error.
func TestDeployPlan(t *testing.T) {
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow },
		Zones: []cfemu.ZoneSeed{{Name: "factory-wager.com", AccountID: "0123456789abcdef0123456789abcdef"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   "0123456789abcdef0123456789abcdef",
		"EDGECONF_STATE_DIR":      filepath.Join(t.TempDir(), "state"),
	}
	code, out, errOut := runCLI(t, env, "deploy", "--plan", "-c", example)
	if code != exitFailed || !strings.Contains(out, "✗ secret DASHBOARD_TOKEN") || !strings.Contains(out, "+ worker") {
		t.Fatalf("plan without the secret: exit %d\n%s\n%s", code, out, errOut)
	}
	withSecret := maps.Clone(env)
	withSecret["DASHBOARD_TOKEN"] = "admin-token-value-9c1e"
	code, out, errOut = runCLI(t, withSecret, "deploy", "--plan", "--detailed-exitcode", "-c", example)
	if code != exitChanges || strings.Contains(out+errOut, "admin-token-value-9c1e") {
		t.Fatalf("plan with the secret: exit %d (want %d), or the secret was printed\n%s\n%s", code, exitChanges, out, errOut)
	}
	for _, want := range []string{"+ kv_namespace   quantum-config", "+ r2_bucket      quantum-files", "+ d1_database    quantum-db",
		"+ secret         DASHBOARD_TOKEN", "+ route          dashboard.factory-wager.com/*", "+ dns_record     CNAME dashboard.factory-wager.com",
		"+ do_migration   TerminalSession", "first deploy"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "cloudflare account 0123456789abcdef0123456789abcdef") {
		t.Errorf("the plan does not say which account it read:\n%s", errOut)
	}
	code, out, _ = runCLI(t, withSecret, "deploy", "--plan", "-o", "json", "-c", example)
	var p struct {
		FirstDeploy bool
		Changes     []struct{ Action, Kind, Name string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || !p.FirstDeploy || len(p.Changes) < 8 {
		t.Fatalf("plan -o json: exit %d, %+v\n%s", code, p, out)
	}
	noCreds := maps.Clone(env)
	delete(noCreds, "CLOUDFLARE_API_TOKEN")
	if code, _, errOut := runCLI(t, noCreds, "deploy", "--plan", "-c", example); code != exitUsage || !strings.Contains(errOut, "CLOUDFLARE_API_TOKEN") {
		t.Errorf("plan without a token: exit %d\n%s", code, errOut)
	}
	for _, args := range [][]string{{"deploy"}, {"deploy", "--plan", "-o", "yaml"}, {"deploy", "--plan", "--timeout", "0s"}} {
		if code, _, errOut := runCLI(t, env, append(args, "-c", example)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}
