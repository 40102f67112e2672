package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/testtool"
)

const parityConfig = `owner: parity
domain: example.com
ports: { main: 8091, compliance: 3001, dashboard: 3000 }
dependencies: { enabled: false, thresholds: { refresh: 60, warning: 300, critical: 900 } }
cloudflare:
  worker: { name: %s, main: worker/index.js, compatibilityDate: "2025-01-01", compatibilityFlags: [nodejs_compat] }
  kvNamespaces:   [ { binding: CONFIG, title: parity-config%s } ]
  r2Buckets:      [ { binding: FILES, bucket: parity-files } ]
  d1Databases:    [ { binding: DB, name: parity-db%s } ]
  durableObjects: [ { binding: SESSIONS, className: TerminalSession } ]
  vars:           { LOG_LEVEL: info, MODE: parity }
`

// binding is what the parity test compares of a binding.
type parityBinding struct{ Type, Name, Target string }

func liveBindings(t *testing.T, c *cloudflare.Client, worker string) ([]parityBinding, cloudflare.Version) {
	t.Helper()
	ctx := context.Background()
	deps, err := c.Deployments(ctx, worker)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Version(ctx, worker, deps[0].Versions[0].VersionID)
	if err != nil {
		t.Fatal(err)
	}
	var out []parityBinding
	for _, b := range v.Bindings {
		target := b.NamespaceID + b.BucketName + b.ID + b.ClassName + b.Text
		out = append(out, parityBinding{b.Type, b.Name, target})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, v
}

// TestDeploy_ParityWithWrangler deploys one Worker with edgeconf deploy and
// the same Worker with the real wrangler, from the wrangler.toml edgeconf
// wrangler generate writes; both end with the same bindings (to the same
// resources) and the same compatibility settings.
func TestDeploy_ParityWithWrangler(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrangler")
	}
	wrangler := testtool.Require(t, "wrangler", "make tools")
	const account = "0123456789abcdef0123456789abcdef"
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, RateLimit: -1, Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); emu.Close() }()
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4", "CLOUDFLARE_API_TOKEN": canaryToken, "CLOUDFLARE_ACCOUNT_ID": account,
	}
	project := func(worker, kvID, dbID string) string {
		dir := t.TempDir()
		if err := os.CopyFS(filepath.Join(dir, "worker"), os.DirFS("../../worker")); err != nil {
			t.Fatal(err)
		}
		cfg := fmt.Sprintf(parityConfig, worker, kvID, dbID)
		if err := os.WriteFile(filepath.Join(dir, "cloudflare-config.yaml"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(dir, "cloudflare-config.yaml")
	}
	// edgeconf provisions the resources and deploys.
	cfgA := project("parity-edgeconf", "", "")
	envA := maps.Clone(env)
	envA["EDGECONF_STATE_DIR"] = filepath.Join(t.TempDir(), "state")
	if code, out, errOut := runCLI(t, envA, "deploy", "-c", cfgA); code != 0 {
		t.Fatalf("edgeconf deploy: %d\n%s\n%s", code, out, errOut)
	}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: env["CLOUDFLARE_API_BASE_URL"], Token: canaryToken, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	nss, _ := c.Namespaces(ctx)
	db, err := c.Database(ctx, "parity-db")
	if err != nil || len(nss) != 1 {
		t.Fatalf("provisioned: %+v, %v", nss, err)
	}
	// The same Worker under another name, with the resources' ids, through
	// wrangler.
	cfgB := project("parity-wrangler", `, id: "`+nss[0].ID+`"`, `, id: "`+db.UUID+`"`)
	dirB := filepath.Dir(cfgB)
	envB := maps.Clone(env)
	envB["EDGECONF_STATE_DIR"] = filepath.Join(t.TempDir(), "state")
	if code, out, errOut := runCLI(t, envB, "build", "-c", cfgB); code != 0 {
		t.Fatalf("edgeconf build: %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, envB, "wrangler", "generate", "-o", filepath.Join(dirB, "wrangler.toml"), "-c", cfgB); code != 0 {
		t.Fatalf("wrangler generate: %d\n%s\n%s", code, out, errOut)
	}
	home := t.TempDir()
	cmd := exec.Command(wrangler, "deploy")
	cmd.Dir = dirB
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + t.TempDir(), "CI=true", "NO_COLOR=1",
		"WRANGLER_SEND_METRICS=false", "npm_config_registry=http://127.0.0.1:9/", "WRANGLER_LOG_PATH=" + filepath.Join(home, "logs"),
		"CLOUDFLARE_API_BASE_URL=" + env["CLOUDFLARE_API_BASE_URL"], "CLOUDFLARE_API_TOKEN=" + canaryToken, "CLOUDFLARE_ACCOUNT_ID=" + account}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wrangler deploy: %v\n%s", err, out)
	}
	a, va := liveBindings(t, c, "parity-edgeconf")
	b, vb := liveBindings(t, c, "parity-wrangler")
	// wrangler binds the version metadata only when asked; edgeconf always
	// does (the Worker's /healthz reads it): compare the rest.
	filter := func(bs []parityBinding) string {
		var out []string
		for _, x := range bs {
			if x.Type != "version_metadata" {
				out = append(out, fmt.Sprintf("%s %s=%s", x.Type, x.Name, x.Target))
			}
		}
		return strings.Join(out, "; ")
	}
	if filter(a) != filter(b) {
		t.Errorf("bindings differ:\n edgeconf: %s\n wrangler: %s", filter(a), filter(b))
	}
	if va.CompatibilityDate != vb.CompatibilityDate || strings.Join(va.CompatibilityFlags, ",") != strings.Join(vb.CompatibilityFlags, ",") {
		t.Errorf("compatibility: edgeconf %s %v, wrangler %s %v", va.CompatibilityDate, va.CompatibilityFlags, vb.CompatibilityDate, vb.CompatibilityFlags)
	}
	raw, _ := json.Marshal(a)
	t.Logf("bindings: %s", raw)
}
