package cfemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/internal/testtool"
)

// The fidelity suite: the pinned wrangler, driven as a user drives it,
// against the emulator over HTTP. Each flow checks wrangler's exit status
// and what the emulator holds afterwards, read through its API.

// wranglerTimeout bounds one wrangler command.
const wranglerTimeout = 2 * time.Minute

type wranglerRig struct {
	h   *harness
	bin string
	env []string
}

func newWranglerRig(t *testing.T) *wranglerRig {
	t.Helper()
	bin := testtool.Require(t, "wrangler", "make tools")
	h := newHarness(t, cfemu.Options{RateLimit: -1, KeyWriteInterval: -1, Clock: time.Now, Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: account}}})
	srv := httptest.NewServer(h.emu)
	t.Cleanup(srv.Close)
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"CLOUDFLARE_API_BASE_URL=" + srv.URL + "/client/v4", "CLOUDFLARE_API_TOKEN=" + token, "CLOUDFLARE_ACCOUNT_ID=" + account,
		// No telemetry, and no update check: the registry it asks is a
		// closed local port.
		"WRANGLER_SEND_METRICS=false", "npm_config_registry=http://127.0.0.1:9/", "WRANGLER_LOG_PATH=" + filepath.Join(home, "logs"),
		"CI=true", "NO_COLOR=1", "FORCE_COLOR=0", "TMPDIR=" + filepath.Join(home, "tmp"),
	}
	if err := os.MkdirAll(filepath.Join(home, "tmp"), 0o700); err != nil {
		t.Fatal(err)
	}
	return &wranglerRig{h: h, bin: bin, env: env}
}

// run runs wrangler in dir and returns its output; a failure fails the test
// unless wantFail.
func (w *wranglerRig) run(t *testing.T, dir string, wantFail bool, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wranglerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string(nil), w.env...), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it left (esbuild)
	}
	if (err != nil) != wantFail {
		t.Fatalf("wrangler %s: %v (want failure: %v)\n%s", strings.Join(args, " "), err, wantFail, out)
	}
	return string(out)
}

// api reads the emulator: the result of a GET.
func (w *wranglerRig) api(t *testing.T, path string, v any) {
	t.Helper()
	h := w.harness(t)
	a := h.do("GET", path, nil)
	h.want(a, 200, 0)
	a.result(t, v)
}

// harness is the emulator's harness reporting to t.
func (w *wranglerRig) harness(t *testing.T) *harness {
	return &harness{t: t, emu: w.h.emu, clock: w.h.clock}
}

func project(t *testing.T, toml string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index.js":      "export default { fetch() { return new Response('v1') }, scheduled() {} };\n",
		"wrangler.toml": toml,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

func TestWrangler_Fidelity(t *testing.T) {
	if testing.Short() {
		t.Skip("runs wrangler about 50 times")
	}
	w := newWranglerRig(t)
	scripts := "accounts/" + account + "/workers/scripts"
	t.Run("whoami", func(t *testing.T) {
		t.Parallel()
		if out := w.run(t, t.TempDir(), false, nil, "whoami"); strings.Contains(out, "update available") {
			t.Errorf("wrangler checked for updates:\n%s", out)
		}
	})
	t.Run("whoami without an account id", func(t *testing.T) {
		t.Parallel()
		out := w.run(t, t.TempDir(), false, nil, "whoami")
		if !strings.Contains(out, account) || !strings.Contains(out, "You are logged in") {
			t.Errorf("whoami:\n%s", out)
		}
		// Without an account id wrangler asks /accounts and /memberships.
		env := []string{"CLOUDFLARE_ACCOUNT_ID="}
		if out := w.run(t, t.TempDir(), false, env, "whoami"); !strings.Contains(out, cfemu.DefaultAccountID) {
			t.Errorf("whoami without an account id:\n%s", out)
		}
	})
	t.Run("kv", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := w.run(t, dir, false, nil, "kv", "namespace", "create", "FIDELITY")
		ids := regexp.MustCompile(`[0-9a-f]{32}`).FindAllString(out, -1)
		if len(ids) == 0 {
			t.Fatalf("no namespace id in:\n%s", out)
		}
		ns := ids[0]
		nsPath := "accounts/" + account + "/storage/kv/namespaces/" + ns
		var info struct{ Title string }
		w.api(t, nsPath, &info)
		if info.Title != "FIDELITY" {
			t.Fatalf("namespace title %q", info.Title)
		}
		if out := w.run(t, dir, false, nil, "kv", "namespace", "list"); !strings.Contains(out, ns) {
			t.Errorf("namespace list lacks %s", ns)
		}
		w.run(t, dir, false, nil, "kv", "namespace", "rename", "--namespace-id", ns, "--new-name", "RENAMED")
		w.api(t, nsPath, &info)
		if info.Title != "RENAMED" {
			t.Errorf("title after rename %q", info.Title)
		}
		w.run(t, dir, false, nil, "kv", "key", "put", "greeting", "hello", "--namespace-id", ns, "--ttl", "3600", "--metadata", `{"lang":"en"}`, "--remote")
		var md map[string]string
		w.api(t, nsPath+"/metadata/greeting", &md)
		if md["lang"] != "en" {
			t.Errorf("metadata %v", md)
		}
		var keys []struct {
			Name       string
			Expiration int64
		}
		w.api(t, nsPath+"/keys", &keys)
		if len(keys) != 1 || keys[0].Expiration <= time.Now().Unix() {
			t.Errorf("keys after put with a TTL: %+v", keys)
		}
		if out := w.run(t, dir, false, nil, "kv", "key", "get", "greeting", "--namespace-id", ns, "--remote"); !strings.Contains(out, "hello") {
			t.Errorf("key get:\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "kv", "key", "list", "--namespace-id", ns, "--remote"); !strings.Contains(out, `"greeting"`) {
			t.Errorf("key list:\n%s", out)
		}
		bulk := filepath.Join(dir, "bulk.json")
		names := filepath.Join(dir, "names.json")
		os.WriteFile(bulk, []byte(`[{"key":"a","value":"1"},{"key":"b","value":"2","expiration_ttl":3600}]`), 0o644)
		os.WriteFile(names, []byte(`["a","b"]`), 0o644)
		w.run(t, dir, false, nil, "kv", "bulk", "put", bulk, "--namespace-id", ns, "--remote")
		if out := w.run(t, dir, false, nil, "kv", "bulk", "get", names, "--namespace-id", ns, "--remote"); !strings.Contains(out, `"b": "2"`) {
			t.Errorf("bulk get:\n%s", out)
		}
		w.run(t, dir, false, nil, "kv", "bulk", "delete", names, "--namespace-id", ns, "--remote", "--force")
		w.run(t, dir, false, nil, "kv", "key", "delete", "greeting", "--namespace-id", ns, "--remote")
		w.api(t, nsPath+"/keys", &keys)
		if len(keys) != 0 {
			t.Errorf("keys left after the deletes: %+v", keys)
		}
		w.run(t, dir, false, nil, "kv", "namespace", "delete", "--namespace-id", ns)
		w.harness(t).want(w.harness(t).do("GET", nsPath, nil), 404, 10013)
	})
	t.Run("workers", func(t *testing.T) {
		t.Parallel()
		dir := project(t, `name = "fidelity"
main = "index.js"
compatibility_date = "2025-01-01"
workers_dev = true
routes = [ { pattern = "app.example.com/*", zone_name = "example.com" }, { pattern = "dash.example.com", custom_domain = true } ]
[triggers]
crons = ["*/5 * * * *"]
[vars]
MODE = "test"
`)
		out := w.run(t, dir, false, nil, "deploy")
		ids := uuidRE.FindAllString(out, -1)
		if len(ids) == 0 || !strings.Contains(out, "schedule: */5 * * * *") {
			t.Fatalf("deploy:\n%s", out)
		}
		first := ids[len(ids)-1]
		var deps struct {
			Deployments []struct {
				Versions []struct {
					VersionID  string `json:"version_id"`
					Percentage float64
				}
			}
		}
		w.api(t, scripts+"/fidelity/deployments", &deps)
		if len(deps.Deployments) != 1 || deps.Deployments[0].Versions[0].VersionID != first {
			t.Fatalf("deployments after the first deploy (Current Version ID %s): %+v", first, deps)
		}
		var routes []struct{ Pattern, Script string }
		var zones []struct{ ID string }
		w.api(t, "zones?name=example.com", &zones)
		w.api(t, "zones/"+zones[0].ID+"/workers/routes", &routes)
		if len(routes) != 1 || routes[0].Pattern != "app.example.com/*" || routes[0].Script != "fidelity" {
			t.Errorf("zone routes: %+v", routes)
		}
		var domains []struct{ Hostname, Service string }
		w.api(t, "accounts/"+account+"/workers/domains", &domains)
		if len(domains) != 1 || domains[0].Hostname != "dash.example.com" {
			t.Errorf("custom domains: %+v", domains)
		}
		var sched struct{ Schedules []struct{ Cron string } }
		w.api(t, scripts+"/fidelity/schedules", &sched)
		if len(sched.Schedules) != 1 {
			t.Errorf("schedules: %+v", sched)
		}
		var sub struct{ Enabled bool }
		w.api(t, scripts+"/fidelity/subdomain", &sub)
		if !sub.Enabled {
			t.Error("workers_dev = true left workers.dev off")
		}

		// A change is a new version, live at 100 %.
		os.WriteFile(filepath.Join(dir, "index.js"), []byte("export default { fetch() { return new Response('v2') }, scheduled() {} };\n"), 0o644)
		out = w.run(t, dir, false, nil, "deploy")
		ids = uuidRE.FindAllString(out, -1)
		second := ids[len(ids)-1]
		w.api(t, scripts+"/fidelity/deployments", &deps)
		if second == first || deps.Deployments[0].Versions[0].VersionID != second {
			t.Fatalf("after the second deploy: %s vs %+v", second, deps.Deployments[0])
		}

		// versions upload / list / view / deploy with a split.
		out = w.run(t, dir, false, nil, "versions", "upload", "--message", "third", "--tag", "v3")
		third := uuidRE.FindString(out[strings.Index(out, "Worker Version ID"):])
		w.api(t, scripts+"/fidelity/deployments", &deps)
		if deps.Deployments[0].Versions[0].VersionID != second {
			t.Fatal("versions upload changed what is live")
		}
		if out := w.run(t, dir, false, nil, "versions", "list"); !strings.Contains(out, third) || !strings.Contains(out, "third") {
			t.Errorf("versions list:\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "versions", "view", third); !strings.Contains(out, "v3") {
			t.Errorf("versions view:\n%s", out)
		}
		w.run(t, dir, false, nil, "versions", "deploy", second+"@90%", third+"@10%", "--yes")
		w.api(t, scripts+"/fidelity/deployments", &deps)
		if got := fmt.Sprint(deps.Deployments[0].Versions); got != fmt.Sprintf("[{%s 90} {%s 10}]", second, third) {
			t.Errorf("split: %s", got)
		}
		if out := w.run(t, dir, false, nil, "deployments", "list"); !strings.Contains(out, third) {
			t.Errorf("deployments list:\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "deployments", "status"); !strings.Contains(out, "(90%)") || !strings.Contains(out, "(10%)") {
			t.Errorf("deployments status:\n%s", out)
		}
		w.run(t, dir, false, nil, "rollback", first, "--message", "back", "--yes")
		w.api(t, scripts+"/fidelity/deployments", &deps)
		if v := deps.Deployments[0].Versions; len(v) != 1 || v[0].VersionID != first || v[0].Percentage != 100 {
			t.Errorf("after rollback: %+v", v)
		}

		// Secrets: put, list, bulk, delete.
		w.runStdin(t, dir, "s3cr3t\n", "secret", "put", "TOKEN")
		bulk := filepath.Join(dir, "secrets.json")
		os.WriteFile(bulk, []byte(`{"K1":"v1","K2":"v2"}`), 0o644)
		w.run(t, dir, false, nil, "secret", "bulk", bulk)
		var secrets []struct{ Name string }
		w.api(t, scripts+"/fidelity/secrets", &secrets)
		if fmt.Sprint(secrets) != "[{K1} {K2} {TOKEN}]" {
			t.Errorf("secrets: %v", secrets)
		}
		if out := w.run(t, dir, false, nil, "secret", "list"); !strings.Contains(out, "K2") || strings.Contains(out, "s3cr3t") {
			t.Errorf("secret list:\n%s", out)
		}
		w.run(t, dir, false, nil, "secret", "delete", "K1")
		w.api(t, scripts+"/fidelity/secrets", &secrets)
		if fmt.Sprint(secrets) != "[{K2} {TOKEN}]" {
			t.Errorf("secrets after delete: %v", secrets)
		}

		// triggers deploy replaces the triggers.
		os.WriteFile(filepath.Join(dir, "wrangler.toml"), []byte(`name = "fidelity"
main = "index.js"
compatibility_date = "2025-01-01"
routes = [ { pattern = "api.example.com/*", zone_name = "example.com" } ]
[triggers]
crons = ["0 * * * *", "30 2 * * *"]
`), 0o644)
		w.run(t, dir, false, nil, "triggers", "deploy")
		w.api(t, "zones/"+zones[0].ID+"/workers/routes", &routes)
		w.api(t, scripts+"/fidelity/schedules", &sched)
		if len(routes) != 1 || routes[0].Pattern != "api.example.com/*" || len(sched.Schedules) != 2 {
			t.Errorf("after triggers deploy: routes %+v, schedules %+v", routes, sched)
		}

		// delete removes the Worker and what points at it.
		w.run(t, dir, false, nil, "delete", "--force")
		w.harness(t).want(w.harness(t).do("GET", "accounts/"+account+"/workers/services/fidelity", nil), 404, 10090)
		w.api(t, "zones/"+zones[0].ID+"/workers/routes", &routes)
		w.api(t, "accounts/"+account+"/workers/domains", &domains)
		if len(routes) != 0 || len(domains) != 0 {
			t.Errorf("left after delete: routes %+v, domains %+v", routes, domains)
		}
	})
	t.Run("r2", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		w.run(t, dir, false, nil, "r2", "bucket", "create", "fidelity-files")
		w.run(t, dir, false, nil, "r2", "bucket", "create", "fidelity-eu", "--jurisdiction", "eu")
		if out := w.run(t, dir, false, nil, "r2", "bucket", "list"); !strings.Contains(out, "fidelity-files") || strings.Contains(out, "fidelity-eu") {
			t.Errorf("bucket list (default jurisdiction):\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "r2", "bucket", "list", "--jurisdiction", "eu"); !strings.Contains(out, "fidelity-eu") || strings.Contains(out, "fidelity-files") {
			t.Errorf("bucket list --jurisdiction eu:\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "r2", "bucket", "info", "fidelity-files"); !strings.Contains(out, "ENAM") {
			t.Errorf("bucket info:\n%s", out)
		}
		src := filepath.Join(dir, "a.txt")
		os.WriteFile(src, []byte("object body\n"), 0o644)
		w.run(t, dir, false, nil, "r2", "object", "put", "fidelity-files/docs/a.txt", "--file", src, "--remote")
		if a := w.harness(t).do("GET", "accounts/"+account+"/r2/buckets/fidelity-files/objects/docs%2Fa.txt", nil); string(a.Raw) != "object body\n" {
			t.Errorf("object in the emulator: %q", a.Raw)
		}
		got := filepath.Join(dir, "got.txt")
		w.run(t, dir, false, nil, "r2", "object", "get", "fidelity-files/docs/a.txt", "--file", got, "--remote")
		if b, _ := os.ReadFile(got); string(b) != "object body\n" {
			t.Errorf("object get: %q", b)
		}
		w.run(t, dir, false, nil, "r2", "object", "delete", "fidelity-files/docs/a.txt", "--remote")
		w.harness(t).want(w.harness(t).do("GET", "accounts/"+account+"/r2/buckets/fidelity-files/objects/docs%2Fa.txt", nil), 404, 10007)
		w.run(t, dir, false, nil, "r2", "bucket", "delete", "fidelity-eu", "--jurisdiction", "eu")
		w.run(t, dir, false, nil, "r2", "bucket", "delete", "fidelity-files")
		var list struct{ Buckets []any }
		w.api(t, "accounts/"+account+"/r2/buckets", &list)
		if len(list.Buckets) != 0 {
			t.Errorf("buckets left: %+v", list)
		}
	})
	t.Run("d1", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		out := w.run(t, dir, false, nil, "d1", "create", "fidelity-db")
		id := uuidRE.FindString(out)
		os.WriteFile(filepath.Join(dir, "wrangler.toml"), []byte(fmt.Sprintf(`name = "d1-fidelity"
compatibility_date = "2025-01-01"
[[d1_databases]]
binding = "DB"
database_name = "fidelity-db"
database_id = "%s"
`, id)), 0o644)
		if out := w.run(t, dir, false, nil, "d1", "list"); !strings.Contains(out, id) {
			t.Errorf("d1 list:\n%s", out)
		}
		if out := w.run(t, dir, false, nil, "d1", "info", "fidelity-db"); !strings.Contains(out, id) {
			t.Errorf("d1 info:\n%s", out)
		}
		w.run(t, dir, false, nil, "d1", "execute", "fidelity-db", "--remote", "--command", "CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)")
		seed := filepath.Join(dir, "seed.sql")
		os.WriteFile(seed, []byte("INSERT INTO t VALUES (2);\nINSERT INTO t VALUES (3);\n"), 0o644)
		w.run(t, dir, false, nil, "d1", "execute", "fidelity-db", "--remote", "--file", seed, "--yes")
		os.MkdirAll(filepath.Join(dir, "migrations"), 0o755)
		os.WriteFile(filepath.Join(dir, "migrations", "0001_more.sql"), []byte("CREATE TABLE m (y TEXT);\nINSERT INTO m VALUES ('a');\n"), 0o644)
		w.run(t, dir, false, nil, "d1", "migrations", "apply", "fidelity-db", "--remote")
		a := w.harness(t).do("POST", "accounts/"+account+"/d1/database/"+id+"/query", map[string]string{"sql": "SELECT (SELECT count(*) FROM t) AS t, (SELECT count(*) FROM m) AS m, (SELECT count(*) FROM d1_migrations) AS applied"})
		var res []struct{ Results []map[string]float64 }
		a.result(t, &res)
		if len(res) != 1 || res[0].Results[0]["t"] != 3 || res[0].Results[0]["m"] != 1 || res[0].Results[0]["applied"] != 1 {
			t.Errorf("database after execute, import and migrations: %s", a.Raw)
		}
		w.run(t, dir, false, nil, "d1", "delete", "fidelity-db", "--skip-confirmation")
		w.harness(t).want(w.harness(t).do("GET", "accounts/"+account+"/d1/database/"+id, nil), 404, 7404)
	})
}

// runStdin is run with text on standard input.
func (w *wranglerRig) runStdin(t *testing.T, dir, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wranglerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Dir, cmd.Env, cmd.Stdin = dir, w.env, strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	out, err := cmd.CombinedOutput()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("wrangler %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
