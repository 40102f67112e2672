package deploy

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

const killRounds = 50

// TestApply_KillAndRerun runs deploys of changing code in another process
// (this test binary) and SIGKILLs each after a random number of steps, 50
// times, then deploys once more to the end: the account converges to the
// wanted state with no duplicate resources and one version live at 100 %.
func TestApply_KillAndRerun(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns 50 processes")
	}
	emu, err := cfemu.New(cfemu.Options{Token: emuToken, RateLimit: -1, KeyWriteInterval: -1, Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: emuAccount}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer func() { srv.Close(); emu.Close() }()
	base := srv.URL + "/client/v4"
	journal := filepath.Join(t.TempDir(), "journal.json")
	rng := rand.New(rand.NewPCG(14, 50))
	midRun := 0
	for round := 0; round < killRounds; round++ {
		killAfter := rng.IntN(5) // a later deploy has 4 steps: upload, smoke test, canary, promote
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDeploy$")
		cmd.Env = append(os.Environ(), "EDGECONF_HELPER_DEPLOY="+base, "EDGECONF_HELPER_JOURNAL="+journal,
			fmt.Sprintf("EDGECONF_HELPER_CODE=export default {v:%d}", round%3))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		steps, finished := 0, false
		for sc.Scan() {
			if sc.Text() == "finished" {
				finished = true
				break
			}
			if steps++; steps > killAfter {
				break
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if !finished {
			midRun++
		}
	}
	if midRun < killRounds/2 {
		t.Fatalf("only %d of %d runs were killed before they finished", midRun, killRounds)
	}

	c, err := cloudflare.New(cloudflare.Options{BaseURL: base, Token: emuToken, AccountID: emuAccount, Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := testSpec()
	s.Script = []byte("export default {v:'final'}")
	clk := &fakeClock{now: time.Unix(0, 0)}
	o := applyOpts(clk, &versionProber{healthy: func(string, int) bool { return true }}, &Journal{Path: journal})
	o.Canary, o.Yes = 10, true
	if res, err := Apply(ctx, c, prepared(t, c, s), o); err != nil {
		t.Fatalf("the final deploy: %v (%q)", err, res.Steps)
	}
	nss, _ := c.Namespaces(ctx)
	buckets, _ := c.Buckets(ctx)
	if len(nss) != 1 || len(buckets) != 1 {
		t.Errorf("duplicate resources: namespaces %+v, buckets %+v", nss, buckets)
	}
	sp := live(t, c)
	v, err := c.Version(ctx, "app", sp[0].VersionID)
	if err != nil || len(sp) != 1 || sp[0].Percentage != 100 || v.Tag != s.CodeTag() {
		t.Fatalf("live after the final deploy: %+v (version %+v, %v)", sp, v, err)
	}
	z, _ := c.ZoneFor(ctx, "example.com")
	routes, _ := c.Routes(ctx, z.ID)
	recs, _ := c.DNSRecords(ctx, z.ID, "")
	domains, _ := c.Domains(ctx, "app", "")
	if len(routes) != 1 || len(recs) != 1 || len(domains) != 1 {
		t.Errorf("routes %+v, records %+v, domains %+v", routes, recs, domains)
	}
	if p := prepared(t, c, s); p.Plan.HasChanges() {
		t.Errorf("the plan after converging: %+v", p.Plan.Changes)
	}
	vs, _ := c.Versions(ctx, "app", 0)
	t.Logf("%d of %d runs killed mid-deploy; %d versions uploaded in all", midRun, killRounds, len(vs))
}

// TestHelperDeploy is the process TestApply_KillAndRerun kills: one deploy
// with a canary, printing a line per step.
func TestHelperDeploy(t *testing.T) {
	base := os.Getenv("EDGECONF_HELPER_DEPLOY")
	if base == "" {
		t.Skip("helper process")
	}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: base, Token: emuToken, AccountID: emuAccount, Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(1)
	}
	s := testSpec()
	s.Script = []byte(os.Getenv("EDGECONF_HELPER_CODE"))
	ctx := context.Background()
	st, err := Observe(ctx, c, s)
	if err != nil {
		fmt.Println("observe:", err)
		os.Exit(1)
	}
	p := &Prepared{Spec: s, State: st, Plan: Compute(s, st, PlanOptions{SecretAvailable: func(string) bool { return true }})}
	clk := &fakeClock{now: time.Unix(0, 0)}
	o := applyOpts(clk, &versionProber{healthy: func(string, int) bool { return true }}, &Journal{Path: os.Getenv("EDGECONF_HELPER_JOURNAL")})
	o.Canary, o.Yes = 10, true
	o.Progress = func(step string) { fmt.Println("step", step) }
	if _, err := Apply(ctx, c, p, o); err != nil {
		fmt.Println("apply:", err)
	}
	fmt.Println("finished")
	os.Exit(0)
}
