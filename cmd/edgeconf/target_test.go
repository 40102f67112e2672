package main

import (
	"context"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/report"
)

// instantClock is a Cloudflare retry clock that does not wait: it moves
// its own time forward instead.
type instantClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *instantClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *instantClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// runCLIWith is runCLI with a deps hook.
func runCLIWith(t *testing.T, env map[string]string, hook func(*deps), args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	d := &deps{
		Stdin:      strings.NewReader(""),
		Stdout:     &out,
		Stderr:     &errOut,
		LookupEnv:  func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Now:        func() time.Time { return testNow },
		IsTerminal: func(any) bool { return false },
	}
	hook(d)
	code := run(d, args)
	return code, out.String(), errOut.String()
}

// copyExample puts the example configuration in a fresh folder and
// returns its path.
func copyExample(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cloudflare-config.yaml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestValidate_UnreachableAPI: with the API unreachable, validate --remote
// shows each retry on stderr, gives up, and still prints the whole report
// in every format with the overrides marked store-unavailable.
func TestValidate_UnreachableAPI(t *testing.T) {
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": "http://" + closedPort(t) + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   "0123456789abcdef0123456789abcdef",
		"KV_NAMESPACE_ID":         strings.Repeat("a", 32),
		"EDGECONF_STATE_DIR":      filepath.Join(t.TempDir(), "state"),
	}
	for _, f := range report.Formats {
		t.Run(string(f), func(t *testing.T) {
			clock := &instantClock{now: testNow}
			code, out, errOut := runCLIWith(t, env, func(d *deps) { d.cfClock = clock }, "validate", "--remote", "-o", string(f), "-c", example)
			if code != 1 {
				t.Errorf("exit %d, want 1 (no last-known-good copy)\nstderr:\n%s", code, errOut)
			}
			for _, want := range []string{"store-unavailable", "no last-known-good copy", "domain"} {
				if !strings.Contains(out, want) {
					t.Errorf("report lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(errOut, "retrying in"); n < 2 || !strings.Contains(errOut, "attempt 1 failed") {
				t.Errorf("stderr shows %d retries:\n%s", n, errOut)
			}
			if strings.Contains(out+errOut, canaryToken) {
				t.Error("the token appears in the output")
			}
		})
	}
	// --quiet silences progress and target, not the report.
	clock := &instantClock{now: testNow}
	_, out, errOut := runCLIWith(t, env, func(d *deps) { d.cfClock = clock }, "validate", "--remote", "-q", "-c", example)
	if strings.Contains(errOut, "retrying") || strings.Contains(errOut, "using") || !strings.Contains(out, "store-unavailable") {
		t.Errorf("--quiet:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if code, _, errOut := runCLI(t, env, "validate", "--remote", "--timeout", "0s", "-c", example); code != 2 {
		t.Errorf("--timeout 0s: exit %d\n%s", code, errOut)
	}
}

// TestValidate_LockedStateFolder: a state folder another process holds
// still gives a report in every format; with a last-known-good copy the
// overrides come from it and the report names its age.
func TestValidate_LockedStateFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	env := map[string]string{"EDGECONF_STATE_DIR": dir}
	if code, _, errOut := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "35", "-c", example); code != 0 {
		t.Fatal(errOut)
	}
	held, err := local.Open(local.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	for _, f := range report.Formats {
		t.Run(string(f), func(t *testing.T) {
			// No copy yet: the file alone, Invalid.
			code, out, errOut := runCLI(t, env, "validate", "-o", string(f), "-c", example)
			if code != 1 || !strings.Contains(out, "store-unavailable") || !strings.Contains(out, "state folder is in use") || !strings.Contains(out, "domain") {
				t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
		})
	}
	// A copy from a good resolve (written while the folder was free).
	held.Close()
	if code, _, errOut := runCLI(t, env, "validate", "-c", example); code != 0 {
		t.Fatal(errOut)
	}
	held2, err := local.Open(local.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer held2.Close()
	later := maps.Clone(env)
	for _, f := range report.Formats {
		code, out, errOut := runCLIWith(t, later, func(d *deps) { d.Now = func() time.Time { return testNow.Add(2 * time.Hour) } }, "validate", "-o", string(f), "-c", example)
		if code != 0 || !strings.Contains(out, "store-unavailable") || !strings.Contains(out, "saved 2h0m0s ago") || !strings.Contains(errOut, "last-known-good") {
			t.Errorf("%s with a copy: exit %d\nstdout:\n%s\nstderr:\n%s", f, code, out, errOut)
		}
	}
}

// TestDotEnvCredentials: credentials in the .env beside the configuration
// reach the emulator; the real environment wins over the file.
func TestDotEnvCredentials(t *testing.T) {
	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow }, KeyWriteInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	client, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: canaryToken, AccountID: "0123456789abcdef0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.EnsureNamespace(context.Background(), "quantum-config"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := copyExample(t, dir)
	dotenv := "CLOUDFLARE_API_BASE_URL=" + srv.URL + "/client/v4\nCLOUDFLARE_API_TOKEN=" + canaryToken + "\nCLOUDFLARE_ACCOUNT_ID=0123456789abcdef0123456789abcdef\n"
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	code, out, errOut := runCLI(t, env, "kv", "put", "greeting", "hi", "--remote", "-c", cfg)
	if code != 0 || !strings.Contains(errOut, "quantum-config") {
		t.Fatalf("kv put with .env credentials: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, env, "kv", "get", "greeting", "--remote", "-c", cfg); code != 0 || out != "hi" {
		t.Errorf("kv get: exit %d %q\n%s", code, out, errOut)
	}
	// get and flags read the store they are told to, and say which.
	if code, _, errOut := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "100", "--remote", "-c", cfg); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut = runCLI(t, env, "get", "features.premium.rolloutPercentage", "--remote", "-c", cfg)
	if code != 0 || strings.TrimSpace(out) != "100" || !strings.Contains(errOut, "using cloudflare account") {
		t.Errorf("get --remote: exit %d %q\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "get", "features.premium.rolloutPercentage", "-c", cfg)
	if code != 0 || strings.TrimSpace(out) != "25" || !strings.Contains(errOut, "using local state") {
		t.Errorf("get (local): exit %d %q\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "flags", "eval", "premium", "--user", "someone@example.com", "-o", "json", "--remote", "-c", cfg)
	if code != 0 || !strings.Contains(out, `"reason": "in-rollout"`) {
		t.Errorf("flags eval --remote: exit %d\n%s%s", code, out, errOut)
	}
	env["CLOUDFLARE_API_TOKEN"] = "real-env-wrong-token"
	if code, out, errOut := runCLI(t, env, "kv", "get", "greeting", "--remote", "-c", cfg); code != 1 || !strings.Contains(errOut, "CLOUDFLARE_API_TOKEN") {
		t.Errorf("the real environment does not win: exit %d %q\n%s", code, out, errOut)
	}
}

// TestStateBesideConfig: two configurations in two folders keep separate
// overrides when EDGECONF_STATE_DIR is not set.
func TestStateBesideConfig(t *testing.T) {
	root := t.TempDir()
	a, b := copyExample(t, filepath.Join(root, "a")), copyExample(t, filepath.Join(root, "b"))
	env := map[string]string{"EDGECONF_STATE_DIR": ""}
	if code, _, errOut := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "35", "-c", a); code != 0 {
		t.Fatal(errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "a", ".edgeconf", local.DBFile)); err != nil {
		t.Errorf("no state beside a: %v", err)
	}
	if code, out, _ := runCLI(t, env, "get", "features.premium.rolloutPercentage", "-c", a); code != 0 || strings.TrimSpace(out) != "35" {
		t.Errorf("a: exit %d %q", code, out)
	}
	code, out, errOut := runCLI(t, env, "get", "features.premium.rolloutPercentage", "-c", b)
	if code != 0 || strings.TrimSpace(out) == "35" || !strings.Contains(errOut, filepath.Join(root, "b", ".edgeconf")) {
		t.Errorf("b sees a's override: exit %d %q\n%s", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, out, _ := runCLI(t, nil, args...)
		if code != 0 || !strings.HasPrefix(out, "edgeconf ") || !strings.Contains(out, "go1.") || !strings.Contains(out, "commit") {
			t.Errorf("%v: exit %d %q", args, code, out)
		}
	}
}

// TestDeleteAbsentIsNotAnError: one rule for override, kv and r2 —
// deleting what is not there succeeds (exit 0), as in Workers KV and R2.
func TestDeleteAbsentIsNotAnError(t *testing.T) {
	for _, args := range [][]string{
		{"override", "delete", "features.webgl.enabled", "-c", example},
		{"kv", "delete", "no-such-key", "-c", example},
		{"r2", "rm", "quantum-files/no-such-key", "-c", example},
	} {
		code, out, errOut := runCLI(t, nil, args...)
		if code != 0 || !strings.Contains(out, "delete") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

// TestCLIShape: completion is listed, mistyped subcommands get
// suggestions (exit 2), and -c is only on commands that read the
// configuration.
func TestCLIShape(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "completion"},
		{[]string{"valdate"}, 2, "Did you mean this?\n\tvalidate"},
		{[]string{"override", "lst"}, 2, "\tlist"},
		{[]string{"kv", "gte", "x"}, 2, "\tget"},
		{[]string{"schema", "-c", "x.yaml"}, 2, "unknown shorthand flag"},
		{[]string{"version", "--env", "x"}, 2, "unknown flag"},
		{[]string{"get", "--help"}, 0, "--remote"},
		{[]string{"flags", "eval", "--help"}, 0, "--remote"},
		{[]string{"get", "no.such.path", "-c", example}, 2, "no.such.path"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, nil, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("%v: exit %d, want %d with %q\n%s%s", tt.args, code, tt.code, tt.want, out, errOut)
		}
	}
}

// TestOverride_ReferenceShown: list and get show the reference and the
// value it resolves to; export carries the value, not null.
func TestOverride_ReferenceShown(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	steps := [][]string{
		{"kv", "put", "premium-users", `["bob@factory-wager.com"]`, "-c", example},
		{"override", "set", "features.premium.allowedUsers", "--ref", "kv://CONFIG/premium-users", "-c", example},
	}
	for _, s := range steps {
		if code, _, errOut := runCLI(t, env, s...); code != 0 {
			t.Fatalf("%v: %s", s, errOut)
		}
	}
	for _, args := range [][]string{
		{"override", "list", "-c", example},
		{"override", "get", "features.premium.allowedUsers", "-c", example},
		{"override", "get", "features.premium.allowedUsers", "-o", "json", "-c", example},
		{"override", "export", "-c", example},
	} {
		code, out, errOut := runCLI(t, env, args...)
		if code != 0 || !strings.Contains(out, "bob@factory-wager.com") || !strings.Contains(out, "kv://CONFIG/premium-users") || strings.Contains(out, "\tnull\t") || strings.Contains(out, `"value": "null"`) {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errOut)
		}
	}
}

func TestOverride_Rollback(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	now := testNow
	run := func(args ...string) (int, string, string) {
		now = now.Add(time.Second)
		at := now
		return runCLIWith(t, env, func(d *deps) { d.Now = func() time.Time { return at } }, append(args, "-c", example)...)
	}
	const p = "features.premium.rolloutPercentage"
	for _, v := range []string{"30", "40"} {
		if code, _, errOut := run("override", "set", p, v); code != 0 {
			t.Fatal(errOut)
		}
	}
	if code, out, errOut := run("override", "rollback", p); code != 0 || !strings.Contains(out, "= 30 (rev 3") {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := run("override", "rollback", p, "--to", "2"); code != 0 || !strings.Contains(out, "= 40 (rev 4") {
		t.Fatalf("rollback --to 2: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := run("override", "history", p); code != 0 || !strings.Contains(out, "30") || !strings.Contains(out, "40") {
		t.Errorf("history does not show the values:\n%s", out)
	}
	if code, _, errOut := run("override", "rollback", p, "--to", "9"); code != 1 || !strings.Contains(errOut, "no revision 9") {
		t.Errorf("rollback --to 9: exit %d\n%s", code, errOut)
	}
	if code, _, _ := run("override", "rollback", p, "--to", "-1"); code != 2 {
		t.Errorf("--to -1: exit %d", code)
	}
}

// TestValidate_CorruptStateAndMissingNamespace: a state.db that is not a
// bbolt file, and a remote namespace that does not exist, still give the
// whole report, marked store-unavailable.
func TestValidate_CorruptStateAndMissingNamespace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, local.DBFile), []byte("this is not a bbolt file, just junk of some length to read"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range report.Formats {
		code, out, errOut := runCLI(t, map[string]string{"EDGECONF_STATE_DIR": dir}, "validate", "-o", string(f), "-c", example)
		if code != 1 || !strings.Contains(out, "store-unavailable") || !strings.Contains(out, "domain") {
			t.Errorf("corrupt state.db, %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}

	emu, err := cfemu.New(cfemu.Options{Token: canaryToken, Clock: func() time.Time { return testNow }, KeyWriteInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()
	env := map[string]string{
		"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4",
		"CLOUDFLARE_API_TOKEN":    canaryToken,
		"CLOUDFLARE_ACCOUNT_ID":   "0123456789abcdef0123456789abcdef",
	}
	for _, f := range report.Formats {
		code, out, errOut := runCLI(t, env, "validate", "--remote", "-o", string(f), "-c", example)
		if code != 1 || !strings.Contains(out, "store-unavailable") || !strings.Contains(out, "quantum-config") {
			t.Errorf("missing namespace, %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
}

func TestOutputFlag(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	if code, _, errOut := runCLI(t, env, "kv", "put", "a\x1b[31mkey", "v", "--ttl", "1d", "-c", example); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := runCLI(t, env, "kv", "list", "-o", "table", "-c", example)
	if code != 0 || !strings.Contains(out, "NAME") || !strings.Contains(out, "a\uFFFD[31mkey") || strings.Contains(out, "\x1b") || !strings.Contains(out, "2026-06-02T12:00:00Z") {
		t.Errorf("kv list -o table: exit %d\n%q\n%s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, env, "kv", "list", "-c", example); code != 0 || !strings.HasPrefix(out, "[") {
		t.Errorf("kv list defaults to JSON: %q", out)
	}
	if code, _, errOut := runCLI(t, env, "kv", "list", "-o", "yaml", "-c", example); code != 2 || !strings.Contains(errOut, "want json or table") {
		t.Errorf("kv list -o yaml: exit %d %s", code, errOut)
	}
	if code, out, _ := runCLI(t, nil, "version", "-o", "json"); code != 0 || !strings.Contains(out, `"go": "go1.`) {
		t.Errorf("version -o json: %q", out)
	}
}

func TestOverride_ResultsAsJSON(t *testing.T) {
	env := map[string]string{"EDGECONF_STATE_DIR": filepath.Join(t.TempDir(), "state")}
	code, out, errOut := runCLI(t, env, "override", "set", "features.premium.rolloutPercentage", "30", "-o", "json", "-c", example)
	if code != 0 || !strings.Contains(out, `"rev": 1`) || !strings.Contains(out, `"value": 30`) {
		t.Errorf("set -o json: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, env, "override", "rollback", "features.premium.rolloutPercentage", "-o", "json", "-c", example)
	if code != 0 || !strings.Contains(out, `"removed": true`) {
		t.Errorf("rollback -o json: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, env, "override", "set", "owner", "x", "-o", "csv", "-c", example); code != 2 {
		t.Errorf("set -o csv: exit %d", code)
	}
}

// A .env that cannot be read is a usage error of the commands that read
// the configuration, and does not stop the others.
func TestDotEnvUnreadable(t *testing.T) {
	dir := t.TempDir()
	cfg := copyExample(t, dir)
	if err := os.Mkdir(filepath.Join(dir, ".env"), 0o700); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, nil, "validate", "-c", cfg); code != 2 || !strings.Contains(errOut, ".env") {
		t.Errorf("validate: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := runCLI(t, map[string]string{"EDGECONF_CONFIG": cfg}, "version"); code != 0 {
		t.Errorf("version: exit %d\n%s", code, errOut)
	}
}
