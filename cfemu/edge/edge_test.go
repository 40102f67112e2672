package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/internal/testtool"
	"github.com/factory-wager/edgeconf/kvstore"
)

const (
	token   = "edge-test-token"
	account = "0123456789abcdef0123456789abcdef"
	worker  = `export default {
  async fetch(req, env) {
    const url = new URL(req.url);
    if (url.pathname === "/healthz") {
      return Response.json({
        status: "ok", version: env.CF_VERSION_METADATA,
        kv: await env.CONFIG.get("greeting"), greeting: env.GREETING, secret: env.TOKEN ? "set" : "unset",
      });
    }
    if (url.pathname === "/write") { await env.CONFIG.put("written", "by the worker"); return new Response("ok"); }
    return new Response("hello from " + env.GREETING + " at " + url.pathname);
  },
};
`
)

type rig struct {
	emu    *cfemu.Emulator
	edge   *Edge
	srv    *httptest.Server
	client *cloudflare.Client
}

func newRig(t *testing.T) *rig {
	t.Helper()
	workerd := testtool.Require(t, "workerd", "make tools")
	emu, err := cfemu.New(cfemu.Options{Token: token, RateLimit: -1, KeyWriteInterval: -1, Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: account}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{emu: emu}
	mux := http.NewServeMux()
	mux.Handle("/client/v4/", emu)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/client/v4/") {
			emu.ServeHTTP(w, req)
			return
		}
		r.edge.ServeHTTP(w, req)
	}))
	r.edge = New(Options{Emulator: emu, Workerd: workerd, APIBase: r.srv.URL + "/client/v4", Token: token, StateDir: t.TempDir(), Seed: 7})
	t.Cleanup(func() {
		_ = r.edge.Close()
		r.srv.Close()
		emu.Close()
	})
	r.client, err = cloudflare.New(cloudflare.Options{BaseURL: r.srv.URL + "/client/v4", Token: token, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) get(t *testing.T, host, path, override string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if override != "" {
		req.Header.Set(VersionOverrideHeader, override)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func upload(greeting, nsID string) cloudflare.Upload {
	return cloudflare.Upload{
		MainModule: "index.js", Modules: []cloudflare.Module{{Name: "index.js", Content: []byte(worker)}},
		Bindings:          []cloudflare.Binding{{Type: "kv_namespace", Name: "CONFIG", NamespaceID: nsID}, {Type: "plain_text", Name: "GREETING", Text: greeting}},
		CompatibilityDate: "2025-01-01", KeepBindings: []string{"secret_text"},
	}
}

// TestEdge_RunsDeployedVersions: a Worker deployed to the emulator answers
// on its custom domain, route and workers.dev host with its bindings; the
// override header reaches a version at 0 %; a 50/50 split reaches both;
// Close leaves no workerd behind.
func TestEdge_RunsDeployedVersions(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	ns, _, err := r.client.EnsureNamespace(ctx, "app-config")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.client.KV(ns.ID).Put(ctx, "greeting", []byte("from kv"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	up := upload("v1", ns.ID)
	up.Secrets = map[string]string{"TOKEN": "s3cr3t"}
	if _, err := r.client.UploadScript(ctx, "app", up); err != nil {
		t.Fatal(err)
	}
	deps, _ := r.client.Deployments(ctx, "app")
	v1 := deps[0].Versions[0].VersionID
	z, _ := r.client.ZoneFor(ctx, "example.com")
	if _, err := r.client.AttachDomain(ctx, cloudflare.Domain{Hostname: "app.example.com", Service: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.CreateRoute(ctx, z.ID, "api.example.com/v1/*", "app"); err != nil {
		t.Fatal(err)
	}

	code, body := r.get(t, "app.example.com", "/healthz", "")
	var hz struct {
		Version              struct{ ID string }
		KV, Greeting, Secret string
	}
	if code != 200 || json.Unmarshal([]byte(body), &hz) != nil || hz.Version.ID != v1 || hz.KV != "from kv" || hz.Greeting != "v1" || hz.Secret != "set" {
		t.Fatalf("custom domain /healthz: %d %s", code, body)
	}
	if code, body := r.get(t, "api.example.com", "/v1/items", ""); code != 200 || !strings.Contains(body, "hello from v1 at /v1/items") {
		t.Fatalf("route: %d %s", code, body)
	}
	if code, body := r.get(t, "app.sub.workers.dev:8080", "/", ""); code != 200 || !strings.Contains(body, "hello from v1") {
		t.Fatalf("workers.dev: %d %s", code, body)
	}
	if code, body := r.get(t, "api.example.com", "/v2/items", ""); code != 404 || !strings.Contains(body, "no Worker") {
		t.Fatalf("a path outside the route: %d %s", code, body)
	}
	if code, _ := r.get(t, "app.example.com", "/write", ""); code != 200 {
		t.Fatalf("write through the KV binding: %d", code)
	}
	if e, err := r.client.KV(ns.ID).Get(ctx, "written"); err != nil || string(e.Value) != "by the worker" {
		t.Fatalf("the Worker's KV write is not in the emulator: %q, %v", e.Value, err)
	}

	v2, err := r.client.UploadVersion(ctx, "app", upload("v2", ns.ID))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v1, Percentage: 100}, {VersionID: v2.ID, Percentage: 0}}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		if _, body := r.get(t, "app.example.com", "/", ""); !strings.Contains(body, "from v1") {
			t.Fatalf("a version at 0 %% answered without the override header: %s", body)
		}
	}
	if _, body := r.get(t, "app.example.com", "/healthz", fmt.Sprintf(`app=%q`, v2.ID)); !strings.Contains(body, v2.ID) || !strings.Contains(body, `"secret":"set"`) {
		t.Fatalf("override to the version at 0 %%: %s", body)
	}
	if _, body := r.get(t, "app.example.com", "/", `other="x", app="unknown"`); !strings.Contains(body, "from v1") {
		t.Fatalf("an override naming no live version: %s", body)
	}
	if _, err := r.client.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v1, Percentage: 50}, {VersionID: v2.ID, Percentage: 50}}}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := 0; i < 100; i++ {
		_, body := r.get(t, "app.example.com", "/", "")
		seen[strings.Fields(body)[2]]++
	}
	if seen["v1"] < 20 || seen["v2"] < 20 {
		t.Fatalf("a 50/50 split answered %v", seen)
	}
	var pids []int
	r.edge.mu.Lock()
	for _, s := range r.edge.running {
		pids = append(pids, s.Pid())
	}
	r.edge.mu.Unlock()
	if len(pids) != 2 {
		t.Fatalf("%d workerd running, want 2", len(pids))
	}
	if _, err := r.client.Deploy(ctx, "app", cloudflare.DeployOptions{Versions: []cloudflare.Split{{VersionID: v2.ID, Percentage: 100}}}); err != nil {
		t.Fatal(err)
	}
	if _, body := r.get(t, "app.example.com", "/", ""); !strings.Contains(body, "from v2") {
		t.Fatalf("after deploying v2 at 100 %%: %s", body)
	}
	r.edge.mu.Lock()
	running := len(r.edge.running)
	r.edge.mu.Unlock()
	if running != 1 {
		t.Fatalf("%d workerd running after v1 left the deployment, want 1", running)
	}
	_ = r.edge.Close()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("workerd %d outlived Close", pid)
		}
	}
	if code, _ := r.get(t, "app.example.com", "/", ""); code != http.StatusBadGateway {
		t.Errorf("a closed edge answered %d", code)
	}
}

func TestMatchAndOverride(t *testing.T) {
	w := cfemu.LiveWorker{Name: "app", Domains: []string{"dash.example.com"}, Routes: []string{"*.example.org/api/*", "*example.net/*", "exact.example.com/health"}}
	for _, tc := range []struct {
		host, path string
		want       bool
	}{
		{"dash.example.com", "/anything", true},
		{"app.workers.dev", "/", true},
		{"app.team.workers.dev", "/", true},
		{"other.team.workers.dev", "/", false},
		{"example.org", "/api/x", true},
		{"a.b.example.org", "/api/", true},
		{"a.example.org", "/web", false},
		{"www.example.net", "/", true},
		{"example.net", "/x", true},
		{"exact.example.com", "/health", true},
		{"exact.example.com", "/healthz", false},
		{"evil-example.com", "/", false},
	} {
		if got := match(w, tc.host, tc.path); got != tc.want {
			t.Errorf("match(%s%s) = %v, want %v", tc.host, tc.path, got, tc.want)
		}
	}
	for h, want := range map[string]string{
		`app="v1"`:            "v1",
		`other="x", app="v2"`: "v2",
		`app=v3`:              "",
		`other="x"`:           "",
		` app = "v4" `:        "v4",
	} {
		if got := override(h, "app"); got != want {
			t.Errorf("override(%q) = %q, want %q", h, got, want)
		}
	}
}
