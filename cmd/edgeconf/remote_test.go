package main

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
)

const canaryToken = "canary-token-3f9d2c7e1b"

// TestRemote runs the --remote commands against the emulator over HTTP,
// as a user with CLOUDFLARE_API_BASE_URL pointing at `edgeconf emulate` would.
func TestRemote(t *testing.T) {
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow }, KeyWriteInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	account := "0123456789abcdef0123456789abcdef"
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   account,
		"EDGECONF_STATE_DIR":      filepath.Join(t.TempDir(), "state"),
		"USER":                    "remote-tester",
	}
	client, err := cloudflare.New(cloudflare.Options{BaseURL: env["CLOUDFLARE_API_BASE_URL"], Token: canaryToken, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := client.EnsureNamespace(ctx, "quantum-config"); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	step := func(name string, wantCode int, want []string, args ...string) {
		t.Helper()
		code, out, errOut := runCLI(t, env, args...)
		all.WriteString(out + errOut)
		if code != wantCode {
			t.Fatalf("%s: edgeconf %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), code, wantCode, out, errOut)
		}
		for _, w := range want {
			if !strings.Contains(out+errOut, w) {
				t.Errorf("%s: output lacks %q:\nstdout:\n%s\nstderr:\n%s", name, w, out, errOut)
			}
		}
	}
	step("kv put", 0, []string{"using cloudflare account " + account, "quantum-config", "wrote 2 bytes"}, "kv", "put", "greeting", "hi", "--remote", "-c", example)
	step("kv get", 0, []string{"hi"}, "kv", "get", "greeting", "--remote", "-c", example)
	step("kv list", 0, []string{`"name": "greeting"`}, "kv", "list", "--remote", "-c", example)
	step("override set", 0, []string{"(rev 1, by remote-tester)"}, "override", "set", "features.premium.rolloutPercentage", "35", "--remote", "-c", example)
	step("override get", 0, []string{`"rev": 1`}, "override", "get", "features.premium.rolloutPercentage", "-o", "json", "--remote", "-c", example)
	// A refused token is not an outage: no fallback to the copy the get
	// above saved, exit 1, and validate says the credentials were refused.
	step("get saves a last-known-good copy", 0, []string{"35"}, "get", "features.premium.rolloutPercentage", "--remote", "-c", example)
	goodToken := env["CLOUDFLARE_API_TOKEN"]
	env["CLOUDFLARE_API_TOKEN"] = "wrong-token-0123456789"
	step("get with a refused token", 1, []string{"token was refused"}, "get", "features.premium.rolloutPercentage", "--remote", "-c", example)
	step("validate with a refused token", 1, []string{"the store refused the credentials"}, "validate", "--remote", "-c", example)
	env["CLOUDFLARE_API_TOKEN"] = goodToken
	step("local is separate", 1, []string{"no override"}, "override", "get", "features.premium.rolloutPercentage", "-c", example)
	step("validate: bucket and database missing", 1, []string{"r2 bucket quantum-files does not exist in account " + account, "d1 database quantum-db does not exist", `"kvOverride": true`,
		`"location": "../../cloudflare-config.yaml:33:`}, // the binding's place in the file
		"validate", "--remote", "-o", "json", "-c", example)
	if _, _, err := client.EnsureBucket(ctx, "quantum-files"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.EnsureDatabase(ctx, "quantum-db"); err != nil {
		t.Fatal(err)
	}
	step("validate: all there", 0, []string{"PASS"}, "validate", "--remote", "-c", example)
	bad := maps.Clone(env)
	bad["CLOUDFLARE_API_TOKEN"] = "wrong-token-value"
	code, out, errOut := runCLI(t, bad, "validate", "--remote", "-c", example)
	if code != 1 || !strings.Contains(out+errOut, "token") || strings.Contains(out+errOut, "wrong-token-value") {
		t.Errorf("validate with a bad token: exit %d\n%s%s", code, out, errOut)
	}
	none := map[string]string{"EDGECONF_STATE_DIR": env["EDGECONF_STATE_DIR"]}
	step2, out2, errOut2 := runCLI(t, none, "override", "list", "--remote", "-c", example)
	if step2 != 2 || !strings.Contains(errOut2, "CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID are not set") {
		t.Errorf("without credentials: exit %d\n%s%s", step2, out2, errOut2)
	}
	if strings.Contains(all.String(), canaryToken) {
		t.Error("the API token appears in command output")
	}
}

// TestRemote_Timeout: kv get --remote against a server that never answers,
// or that stalls in the middle of its body, fails within --timeout with an
// error naming it (exit 1), for kv and override alike.
func TestRemote_Timeout(t *testing.T) {
	release := make(chan struct{})
	for name, h := range map[string]http.HandlerFunc{
		"silent": func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
		"stalled body": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100000")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte(`{"success":true,"result":`))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		},
	} {
		srv := httptest.NewServer(h)
		defer srv.Close()
		env := map[string]string{
			"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
			"CLOUDFLARE_API_TOKEN":    canaryToken,
			"CLOUDFLARE_ACCOUNT_ID":   "0123456789abcdef0123456789abcdef",
			"KV_NAMESPACE_ID":         "0123456789abcdef0123456789abcdef",
			"EDGECONF_STATE_DIR":      filepath.Join(t.TempDir(), "state"),
		}
		for _, args := range [][]string{
			{"kv", "get", "greeting", "--remote", "--timeout", "200ms", "-c", example},
			{"override", "list", "--remote", "--timeout", "200ms", "-c", example},
		} {
			code, _, stderr := runCLI(t, env, args...)
			if code != exitFailed || !strings.Contains(stderr, "timeout of 200ms") {
				t.Errorf("%s: %v: exit %d, want %d naming the timeout of 200ms; stderr:\n%s", name, args, code, exitFailed, stderr)
			}
		}
	}
	close(release)
}
