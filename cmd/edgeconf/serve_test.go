package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServe starts edgeconf serve on the example configuration with a
// fresh state folder, reads the API, sets an override with the admin
// token and stops on cancel.
func TestServe(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": state, "DASHBOARD_TOKEN": "admin-token-abc"}
	var stdout, stderr lockedBuffer
	d := &deps{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now,
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	g := &globalOptions{ConfigPath: example}
	g.target.Timeout = 10 * time.Second // as the flag sets it
	d.stateDir = state
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, d, g, &serveOptions{Listen: "127.0.0.1:0"}) }()
	defer func() { cancel(); <-done }()
	re := regexp.MustCompile(`dashboard at (http://[^/\s]+)/`)
	var base string
	deadline := time.After(20 * time.Second)
	for base == "" {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s\n%s", err, stdout.String(), stderr.String())
		case <-deadline:
			t.Fatalf("serve did not start:\n%s\n%s", stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	get := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-token-abc")
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := get("GET", "/api/v1/session", ""); code != 200 || !strings.Contains(body, `"mutations":true`) {
		t.Fatalf("session: %d %s", code, body)
	}
	if code, body := get("PUT", "/api/v1/overrides/features.premium.rolloutPercentage", `{"value":35}`); code != 200 {
		t.Fatalf("set: %d %s", code, body)
	}
	// The CLI reads the same state folder while the server runs.
	code, out, errOut := runCLI(t, map[string]string{"EDGECONF_STATE_DIR": state}, "get", "features.premium.rolloutPercentage", "-c", example)
	if code != 0 || strings.TrimSpace(out) != "35" {
		t.Fatalf("the CLI during serve: exit %d %q %s", code, out, errOut)
	}
	code, body := get("GET", "/api/v1/monitor", "")
	var m struct {
		Enabled      bool
		Dependencies []struct{ Name, State string }
	}
	if code != 200 || json.Unmarshal([]byte(body), &m) != nil || !m.Enabled || len(m.Dependencies) == 0 {
		t.Fatalf("monitor: %d %s", code, body)
	}
	if code, _ := get("GET", "/", ""); code != 200 {
		t.Errorf("dashboard page: %d", code)
	}
	// serve answers the presigned URLs of the local buckets at /r2/NAME,
	// with no dashboard token: the signature is the authorisation.
	live := func(d *deps) { d.Stdin, d.Now = strings.NewReader("hello r2"), time.Now } // serve checks expiry on the real clock
	code, out, errOut = runCLIWith(t, map[string]string{"EDGECONF_STATE_DIR": state}, live, "r2", "put", "FILES/hello.txt", "-c", example)
	if code != 0 {
		t.Fatalf("r2 put: %d %s %s", code, out, errOut)
	}
	code, out, errOut = runCLIWith(t, map[string]string{"EDGECONF_STATE_DIR": state}, live, "r2", "presign", "FILES/hello.txt", "--base-url", base+"/r2/quantum-files", "-q", "-c", example)
	if code != 0 {
		t.Fatalf("r2 presign: %d %s %s", code, out, errOut)
	}
	for url, want := range map[string]int{strings.TrimSpace(out): 200, strings.Replace(strings.TrimSpace(out), "signature=", "signature=0", 1): 403, base + "/r2/nope?k=1": 404} {
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || want == 200 && string(b) != "hello r2" {
			t.Errorf("GET %s: %d %q, want %d", url, res.StatusCode, b, want)
		}
	}
}

// TestR2Presign_DefaultPointsAtServe: a local presigned URL points where
// serve listens by default, 127.0.0.1:ports.dashboard.
func TestR2Presign_DefaultPointsAtServe(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "cloudflare-config.yaml")
	if err := os.WriteFile(cfg, bytes.Replace(src, []byte("dashboard: 3000"), []byte("dashboard: 3999"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, nil, "r2", "presign", "FILES/a.txt", "-q", "-c", cfg)
	if code != 0 || !strings.HasPrefix(out, "http://127.0.0.1:3999/r2/quantum-files?") {
		t.Errorf("presign: %d %q %s", code, out, errOut)
	}
}

func TestServe_NotLoopbackWithoutToken(t *testing.T) {
	code, _, errOut := runCLI(t, nil, "serve", "--listen", "0.0.0.0:0", "-c", example)
	if code != exitUsage || !strings.Contains(errOut, "DASHBOARD_TOKEN") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

// TestMonitorOnce probes the example's local dependencies once.
func TestMonitorOnce(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	code, out, errOut := runCLI(t, env, "monitor", "--once", "-c", example)
	if code != 0 || !strings.Contains(out, "kv") || !strings.Contains(out, "ok") {
		t.Fatalf("monitor --once: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, env, "monitor", "--once", "-o", "json", "-c", example)
	var sts []struct{ Name, State string }
	if code != 0 || json.Unmarshal([]byte(out), &sts) != nil || len(sts) < 2 {
		t.Fatalf("monitor --once -o json: exit %d %s", code, out)
	}
	code, out, _ = runCLI(t, env, "alerts", "list", "-o", "json", "-c", example)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("alerts list: exit %d %s", code, out)
	}
	if code, _, _ := runCLI(t, env, "alerts", "list", "--limit", "0", "-c", example); code != exitUsage {
		t.Errorf("--limit 0: exit %d", code)
	}
	// A Worker that is down is critical at once with --once: exit 1.
	code, out, _ = runCLI(t, env, "monitor", "--once", "--worker-url", "http://127.0.0.1:1", "-c", example)
	if code != exitFailed || !strings.Contains(out, "critical") {
		t.Fatalf("monitor --once with a dead Worker: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, env, "alerts", "list", "-c", example)
	if code != 0 || !strings.Contains(out, "worker") || !strings.Contains(out, "critical") {
		t.Fatalf("alerts after a critical probe: exit %d\n%s", code, out)
	}
}

// TestMonitor_PrintsFirstStates: the continuous monitor shows where every
// dependency stands after its first round, then waits for changes; Ctrl-C
// (the context) ends it with exit 0.
func TestMonitor_PrintsFirstStates(t *testing.T) {
	var stdout, stderr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	state := filepath.Join(t.TempDir(), "state")
	d := &deps{Context: ctx, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr, Now: time.Now,
		LookupEnv: func(k string) (string, bool) {
			return map[string]string{"EDGECONF_STATE_DIR": state}[k], k == "EDGECONF_STATE_DIR"
		}}
	done := make(chan int, 1)
	go func() { done <- run(d, []string{"monitor", "-c", example}) }()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(stdout.String(), "DEPENDENCY") {
		select {
		case code := <-done:
			t.Fatalf("monitor ended (exit %d) before printing the states:\n%s\n%s", code, stdout.String(), stderr.String())
		case <-deadline:
			t.Fatalf("no states after the first round:\n%s\n%s", stdout.String(), stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d after Ctrl-C", code)
	}
	if out := stdout.String(); !strings.Contains(out, "kv") || !strings.Contains(stderr.String(), "probing every") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, stderr.String())
	}
}
