package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/testtool"
)

// TestDeployScript runs scripts/deploy.sh, the project's CI deploy, with
// the built binary against `edgeconf emulate` running the Worker on
// workerd: validate, build, plan, a canary deploy and its summary.
func TestDeployScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs workerd")
	}
	workerd := testtool.Require(t, "workerd", "make tools")
	bash := testtool.Require(t, "bash", "apt-get install -y bash")
	bin := filepath.Join(t.TempDir(), "edgeconf")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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

	// The example configuration without its cross references (which
	// name data this test does not create), so that validate --strict
	// passes; the zone id comes from the environment, as in CI.
	dir := t.TempDir()
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	skip := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(line, "crossReferences:") {
			skip = true
			continue
		}
		if skip && strings.HasPrefix(line, "  ") {
			continue
		}
		skip = false
		kept = append(kept, line)
	}
	cfg := filepath.Join(dir, "cloudflare-config.yaml")
	if err := os.WriteFile(cfg, []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(filepath.Join(dir, "worker"), os.DirFS("../../worker")); err != nil {
		t.Fatal(err)
	}
	client, err := cloudflare.New(cloudflare.Options{BaseURL: "http://" + addr + "/client/v4", Token: canaryToken, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	zone, err := client.ZoneFor(ctx, "factory-wager.com")
	if err != nil {
		t.Fatal(err)
	}
	summary := filepath.Join(t.TempDir(), "summary.md")
	env := append(os.Environ(),
		"EDGECONF="+bin,
		"EDGECONF_CONFIG="+cfg,
		"EDGECONF_STATE_DIR="+filepath.Join(t.TempDir(), "state"),
		"EDGECONF_ENV=production",
		"CLOUDFLARE_API_BASE_URL=http://"+addr+"/client/v4",
		"CLOUDFLARE_API_TOKEN="+canaryToken,
		"CLOUDFLARE_ACCOUNT_ID="+account,
		"CLOUDFLARE_ZONE_ID="+zone.ID,
		"DASHBOARD_TOKEN=admin-token-value-9c1e",
		"DEPLOY_URL=http://"+addr,
		"PROBE_HOST=dashboard.factory-wager.com",
		"CANARY=10", "CANARY_WINDOW=1s", "PROBE_INTERVAL=20ms",
		"GITHUB_STEP_SUMMARY="+summary, "GITHUB_SHA=0123456789abcdef0123",
	)
	script := func() ([]byte, error) {
		cmd := exec.Command(bash, "../../scripts/deploy.sh")
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	out, err := script()
	if err != nil {
		t.Fatalf("deploy.sh: %v\n%s\nemulate:\n%s", err, out, stderr.String())
	}
	for _, want := range []string{"== validate --strict", "== build", "== plan", "== deploy", "== verify", "100%"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("deploy.sh output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "admin-token-value-9c1e") {
		t.Error("deploy.sh printed the secret")
	}
	b, err := os.ReadFile(summary)
	if err != nil || !strings.Contains(string(b), `"outcome": "promoted"`) {
		t.Fatalf("summary: %v\n%s", err, b)
	}
	// The same tree again: the plan says nothing to deploy, the deploy is a no-op.
	out, err = script()
	if err != nil || !strings.Contains(string(out), "nothing to deploy") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(summary); !strings.Contains(string(b), `"outcome": "unchanged"`) {
		t.Fatalf("second summary:\n%s", b)
	}
}
