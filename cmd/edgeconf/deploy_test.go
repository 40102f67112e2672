package main

import (
	"context"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/testtool"
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
	for _, args := range [][]string{{"deploy", "--plan", "-o", "yaml"}, {"deploy", "--plan", "--timeout", "0s"},
		{"deploy", "--canary", "10"}, {"deploy", "--canary", "150", "--url", "http://x"}, {"deploy", "--canary-window", "0s"},
		{"versions", "list", "--limit", "0"}, {"rollback", "-o", "csv"}} {
		if code, _, errOut := runCLI(t, env, append(args, "-c", example)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, errOut)
		}
	}
}

// TestDeploy_EndToEnd deploys the example configuration to the emulator:
// refused without its secret (nothing created), then deployed; the plan
// after it is empty; versions, deployments and a rollback read and change
// what the emulator holds.
func TestDeploy_EndToEnd(t *testing.T) {
	const account = "0123456789abcdef0123456789abcdef"
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow },
		Zones: []cfemu.ZoneSeed{{Name: "factory-wager.com", AccountID: account}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   account,
		"EDGECONF_STATE_DIR":      filepath.Join(t.TempDir(), "state"),
	}
	client, err := cloudflare.New(cloudflare.Options{BaseURL: env["CLOUDFLARE_API_BASE_URL"], Token: canaryToken, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	code, out, errOut := runCLI(t, env, "deploy", "-c", example)
	if code != exitFailed || !strings.Contains(errOut, "deploy refused") {
		t.Fatalf("deploy without the secret: exit %d\n%s\n%s", code, out, errOut)
	}
	if nss, _ := client.Namespaces(ctx); len(nss) != 0 {
		t.Fatalf("a refused deploy created %+v", nss)
	}
	secrets := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(secrets, []byte("DASHBOARD_TOKEN=admin-token-value-9c1e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, env, "deploy", "--secrets-file", secrets, "--message", "first", "-c", example)
	if code != 0 || !strings.Contains(out, "Deployed quantum-dashboard") || strings.Contains(out+errOut, "admin-token-value-9c1e") {
		t.Fatalf("deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	if names, _ := client.Secrets(ctx, "quantum-dashboard"); len(names) != 1 || names[0] != "DASHBOARD_TOKEN" {
		t.Errorf("secrets after the deploy: %v", names)
	}
	z, _ := client.ZoneFor(ctx, "factory-wager.com")
	if rs, _ := client.Routes(ctx, z.ID); len(rs) != 1 || rs[0].Script != "quantum-dashboard" {
		t.Errorf("routes after the deploy: %+v", rs)
	}
	if recs, _ := client.DNSRecords(ctx, z.ID, "dashboard.factory-wager.com"); len(recs) != 1 || !strings.Contains(recs[0].Comment, "edgeconf") {
		t.Errorf("records after the deploy: %+v", recs)
	}
	withSecret := maps.Clone(env)
	withSecret["DASHBOARD_TOKEN"] = "admin-token-value-9c1e"
	if code, out, errOut := runCLI(t, withSecret, "deploy", "--plan", "--detailed-exitcode", "-c", example); code != 0 || !strings.Contains(out, "no changes") {
		t.Fatalf("plan after the deploy: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, withSecret, "deploy", "-o", "json", "-c", example); code != 0 || !strings.Contains(out, `"outcome": "unchanged"`) {
		t.Fatalf("deploying again: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "versions", "list", "-c", example)
	if code != 0 || strings.Count(out, "\n") != 3 || !strings.Contains(out, "ec-") || !strings.Contains(out, "first") {
		t.Fatalf("versions list: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, env, "deployments", "status", "-c", example)
	if code != 0 || !strings.Contains(out, "100%") || !strings.Contains(out, "tag ec-") {
		t.Fatalf("deployments status: exit %d\n%s", code, out)
	}
	code, out, errOut = runCLI(t, env, "rollback", "-o", "json", "-c", example)
	var rb struct{ To string }
	if code != 0 || json.Unmarshal([]byte(out), &rb) != nil || rb.To == "" {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "deployments", "list", "-o", "json", "-c", example)
	var ds []struct {
		Versions []struct {
			VersionID string `json:"version_id"`
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &ds) != nil || len(ds) != 3 || ds[0].Versions[0].VersionID != rb.To {
		t.Fatalf("deployments after the rollback: exit %d\n%s", code, out)
	}
}

// TestDeploy_OnEmulatorEdge deploys the example Worker to `edgeconf
// emulate`, which runs it on workerd: the smoke test probes the real
// Worker through its route; a canary of a version whose /healthz fails is
// caught by the gate and rolled back; a healthy one is promoted.
func TestDeploy_OnEmulatorEdge(t *testing.T) {
	workerd := testtool.Require(t, "workerd", "make tools")
	const account = "0123456789abcdef0123456789abcdef"
	var stdout, stderr lockedBuffer
	d := &deps{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now,
		LookupEnv: func(k string) (string, bool) {
			if k == "EDGECONF_WORKERD" {
				return workerd, true
			}
			return "", false
		}}
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan string, 1), make(chan error, 1)
	opts := &emulateOptions{Listen: "127.0.0.1:0", Token: canaryToken, RateLimit: -1, Zones: []string{"factory-wager.com"}, AccountID: account}
	go func() { done <- runEmulate(ctx, d, opts, func(addr string) { ready <- addr }) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("emulate did not start: %v", err)
	}
	defer func() { cancel(); <-done }()
	if !strings.Contains(stdout.String(), "workers: deployed Workers answer at") {
		t.Fatalf("emulate does not run Workers:\n%s", stdout.String())
	}

	dir := t.TempDir()
	cfg := copyExample(t, dir)
	if err := os.CopyFS(filepath.Join(dir, "worker"), os.DirFS("../../worker")); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": "http://" + addr + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   account,
		"EDGECONF_STATE_DIR":      filepath.Join(dir, "state"),
		"DASHBOARD_TOKEN":         "admin-token-value-9c1e",
	}
	clock := &instantClock{now: testNow}
	deployCLI := func(args ...string) (int, string, string) {
		return runCLIWith(t, env, func(d *deps) { d.deployClock = clock }, append(args, "-c", cfg, "--url", "http://"+addr, "--probe-host", "dashboard.factory-wager.com")...)
	}
	code, out, errOut := deployCLI("deploy", "--message", "first")
	if code != 0 || !strings.Contains(out, "smoke test: 3 probes, 0 failed") {
		t.Fatalf("first deploy on the edge: exit %d\n%s\n%s\nemulate:\n%s", code, out, errOut, stderr.String())
	}

	// A version whose /healthz fails: the canary catches it.
	index := filepath.Join(dir, "worker", "index.js")
	src, err := os.ReadFile(index)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(src), "async function healthz(env) {", "async function healthz(env) {\n  if (Math.random() < 2) return new Response(\"broken\", { status: 500 });", 1)
	if broken == string(src) {
		t.Fatal("the example Worker's healthz moved; update this test")
	}
	if err := os.WriteFile(index, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = deployCLI("deploy", "--canary", "10", "--canary-window", "1m")
	if code != exitFailed || !strings.Contains(out, "Rolled back quantum-dashboard") || !strings.Contains(errOut, "/healthz answered 500") {
		t.Fatalf("broken canary: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "deployments", "status", "-c", cfg)
	if code != 0 || strings.Count(out, "%") != 1 || !strings.Contains(out, "100%") {
		t.Fatalf("after the rollback: exit %d\n%s", code, out)
	}

	// Fixed: the canary passes and is promoted.
	fixed := strings.Replace(string(src), `status: kvError ? "degraded" : "ok",`, `status: kvError ? "degraded" : "ok", fixed: true,`, 1)
	if err := os.WriteFile(index, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = deployCLI("deploy", "--canary", "10", "--canary-window", "1m", "-o", "json")
	var res struct {
		Outcome string
		Canary  struct{ Probes, Failures int }
	}
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Outcome != "promoted" || res.Canary.Probes < 10 || res.Canary.Failures != 0 {
		t.Fatalf("healthy canary: exit %d\n%s\n%s", code, out, errOut)
	}
}
