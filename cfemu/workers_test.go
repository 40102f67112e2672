package cfemu_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"

	"github.com/factory-wager/edgeconf/cfemu"
)

const scripts = "accounts/" + account + "/workers/scripts"

// upload is a script or version upload as the SDK sends it: a JSON
// metadata part and module parts named "files" with a filename.
func (h *harness) upload(method, path, meta string, modules ...[2]string) answer {
	h.t.Helper()
	parts := [][4]string{{"metadata", "", "application/json", meta}}
	for _, m := range modules {
		parts = append(parts, [4]string{"files", m[0], "application/javascript+module", m[1]})
	}
	b, ct := multipartBody(h.t, parts...)
	return h.do(method, path, b, "Content-Type", ct)
}

// sdkOptions points the SDK at an httptest server of the emulator.
func sdkOptions(t *testing.T, e *cfemu.Emulator) []option.RequestOption {
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return []option.RequestOption{option.WithBaseURL(srv.URL + base), option.WithAPIToken(token), option.WithMaxRetries(0)}
}

func TestWorkers_ScriptsVersionsDeployments(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ctx := context.Background()
	meta := `{"main_module":"index.js","compatibility_date":"2025-01-01","bindings":[{"type":"kv_namespace","name":"CONFIG","namespace_id":"ns1"}]}`

	// The first upload of a script must be a script upload.
	h.want(h.upload("POST", scripts+"/app/versions", meta, [2]string{"index.js", "export default {}"}), 404, 10007)
	a := h.upload("PUT", scripts+"/app", meta, [2]string{"index.js", "export default {fetch(){return new Response('v1')}}"})
	h.want(a, 200, 0)
	var s struct {
		ID                string
		Etag              string
		CompatibilityDate string `json:"compatibility_date"`
	}
	a.result(t, &s)
	if s.ID != "app" || s.Etag == "" || s.CompatibilityDate != "2025-01-01" {
		t.Errorf("script upload: %s", a.Env.Result)
	}
	if a := h.do("GET", scripts+"/app", nil); !strings.Contains(string(a.Raw), "v1") || a.Header.Get("Content-Type") != "application/javascript+module" {
		t.Errorf("script content: %q %v", a.Raw, a.Header)
	}
	if a := h.do("GET", scripts, nil); !strings.Contains(string(a.Env.Result), `"id":"app"`) {
		t.Errorf("script list: %s", a.Env.Result)
	}
	bad := []struct {
		name, path, meta string
		modules          [][2]string
		code             int
	}{
		{"bad name", scripts + "/App!", meta, [][2]string{{"index.js", "x"}}, 10001},
		{"no metadata", scripts + "/app", "", nil, 10021},
		{"main module missing", scripts + "/app", `{"main_module":"main.js"}`, [][2]string{{"index.js", "x"}}, 10021},
		{"no main module", scripts + "/app", `{}`, [][2]string{{"index.js", "x"}}, 10021},
		{"metadata not json", scripts + "/app", `{`, [][2]string{{"index.js", "x"}}, 10001},
	}
	for _, tc := range bad {
		var a answer
		if tc.meta == "" {
			b, ct := multipartBody(t, [4]string{"files", "index.js", "", "x"})
			a = h.do("PUT", tc.path, b, "Content-Type", ct)
		} else {
			a = h.upload("PUT", tc.path, tc.meta, tc.modules...)
		}
		if a.Status != 400 || a.code() != tc.code {
			t.Errorf("%s: %d %s", tc.name, a.Status, a.Raw)
		}
	}
	h.want(h.do("PUT", scripts+"/app", "not multipart"), 400, 10001)
	h.want(h.upload("POST", scripts+"/app/versions", `{"body_part":"index.js"}`, [2]string{"index.js", "x"}), 400, 10021)
	// Service-worker syntax is fine for a script upload.
	h.want(h.upload("PUT", scripts+"/sw", `{"body_part":"worker.js"}`, [2]string{"worker.js", "addEventListener('fetch', e => {})"}), 200, 0)

	// Versions and deployments through the SDK.
	opts := sdkOptions(t, h.emu)
	svc := workers.NewScriptService(opts...)
	a = h.upload("POST", scripts+"/app/versions", `{"main_module":"index.js","annotations":{"workers/message":"canary"}}`, [2]string{"index.js", "v2"})
	h.want(a, 200, 0)
	var v2 struct {
		ID     string
		Number int
	}
	a.result(t, &v2)
	if v2.Number != 2 {
		t.Errorf("second version number %d", v2.Number)
	}
	var lp workers.ScriptVersionListParams
	lp.AccountID.Value, lp.AccountID.Present = account, true
	it := svc.Versions.ListAutoPaging(ctx, "app", lp)
	var ids []string
	for it.Next() {
		ids = append(ids, it.Current().ID)
	}
	if it.Err() != nil || len(ids) != 2 || ids[0] != v2.ID {
		t.Fatalf("versions: %v, %v", ids, it.Err())
	}
	var gp workers.ScriptVersionGetParams
	gp.AccountID.Value, gp.AccountID.Present = account, true
	got, err := svc.Versions.Get(ctx, "app", v2.ID, gp)
	if err != nil || got.Number != 2 {
		t.Errorf("version get: %+v, %v", got, err)
	}
	h.want(h.do("GET", scripts+"/app/versions/nope", nil), 404, 10007)
	h.want(h.do("GET", scripts+"/app/versions?deployable=true&per_page=1", nil), 200, 0)

	var dp workers.ScriptDeploymentNewParams
	dp.AccountID.Value, dp.AccountID.Present = account, true
	dp.Deployment.Strategy.Value, dp.Deployment.Strategy.Present = workers.DeploymentStrategyPercentage, true
	v := func(id string, pct float64) workers.DeploymentVersionParam {
		var p workers.DeploymentVersionParam
		p.VersionID.Value, p.VersionID.Present = id, true
		p.Percentage.Value, p.Percentage.Present = pct, true
		return p
	}
	dp.Deployment.Versions.Value, dp.Deployment.Versions.Present = []workers.DeploymentVersionParam{v(ids[1], 90), v(ids[0], 10)}, true
	dep, err := svc.Deployments.New(ctx, "app", dp)
	if err != nil || len(dep.Versions) != 2 {
		t.Fatalf("deployment: %+v, %v", dep, err)
	}
	var dl workers.ScriptDeploymentListParams
	dl.AccountID.Value, dl.AccountID.Present = account, true
	deps, err := svc.Deployments.List(ctx, "app", dl)
	if err != nil || len(deps.Deployments) != 2 || deps.Deployments[0].ID != dep.ID {
		t.Fatalf("deployments: %+v, %v", deps, err)
	}
	// The script content follows the version with the most traffic.
	if a := h.do("GET", scripts+"/app", nil); !strings.Contains(string(a.Raw), "v1") {
		t.Errorf("live content %q", a.Raw)
	}
	depPath := scripts + "/app/deployments"
	badDeps := []struct {
		name string
		body any
	}{
		{"strategy", map[string]any{"strategy": "immediate", "versions": []map[string]any{{"version_id": ids[0], "percentage": 100}}}},
		{"no versions", map[string]any{"strategy": "percentage", "versions": []any{}}},
		{"three versions", map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[0], "percentage": 50}, {"version_id": ids[1], "percentage": 25}, {"version_id": ids[1], "percentage": 25}}}},
		{"sum", map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[0], "percentage": 50}, {"version_id": ids[1], "percentage": 40}}}},
		{"range", map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[0], "percentage": 100.5}}}},
		{"same version twice", map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[0], "percentage": 50}, {"version_id": ids[0], "percentage": 50}}}},
	}
	for _, tc := range badDeps {
		if a := h.do("POST", depPath, tc.body); a.Status != 400 {
			t.Errorf("%s: %d %s", tc.name, a.Status, a.Raw)
		}
	}
	h.want(h.do("POST", depPath, map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": "nope", "percentage": 100}}}), 404, 10007)
	h.want(h.do("POST", scripts+"/ghost/deployments", map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[0], "percentage": 100}}}), 404, 10007)

	// Rollback reaches back at most 100 versions.
	for i := 0; i < 100; i++ {
		h.want(h.upload("POST", scripts+"/app/versions", `{"main_module":"index.js"}`, [2]string{"index.js", "n"}), 200, 0)
	}
	h.want(h.do("POST", depPath, map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": ids[1], "percentage": 100}}}), 400, 10001)
	a = h.do("GET", scripts+"/app/versions?per_page=100&page=1", nil)
	var vl struct{ Items []struct{ ID string } }
	a.result(t, &vl)
	oldest := vl.Items[99].ID // number 3 of 102: the 100th most recent
	h.want(h.do("POST", depPath, map[string]any{"strategy": "percentage", "versions": []map[string]any{{"version_id": oldest, "percentage": 100}}}), 200, 0)

	// Deployment get and delete: the live one stays.
	h.want(h.do("GET", depPath+"/"+dep.ID, nil), 200, 0)
	h.want(h.do("GET", depPath+"/nope", nil), 404, 10007)
	a = h.do("GET", depPath, nil)
	var list struct{ Deployments []struct{ ID string } }
	a.result(t, &list)
	h.want(h.do("DELETE", depPath+"/"+list.Deployments[0].ID, nil), 400, 10001)
	h.want(h.do("DELETE", depPath+"/"+dep.ID, nil), 200, 0)
	h.want(h.do("DELETE", depPath+"/nope", nil), 404, 10007)

	// Delete the script.
	h.want(h.do("DELETE", scripts+"/app", nil), 200, 0)
	h.want(h.do("GET", scripts+"/app", nil), 404, 10007)
	h.want(h.do("DELETE", scripts+"/app", nil), 404, 10007)
	h.want(h.do("GET", depPath, nil), 404, 10007)
	h.want(h.do("GET", scripts+"/app/versions", nil), 404, 10007)
	h.want(h.do("GET", scripts+"/app/versions/x", nil), 404, 10007)
	h.want(h.do("GET", depPath+"/x", nil), 404, 10007)
	h.want(h.do("DELETE", depPath+"/x", nil), 404, 10007)
}

func TestWorkers_Secrets(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	sec := scripts + "/app/secrets"
	h.want(h.do("PUT", sec, map[string]string{"name": "TOKEN", "text": "s3cret"}), 404, 10007)
	h.want(h.upload("PUT", scripts+"/app", `{"main_module":"index.js"}`, [2]string{"index.js", "x"}), 200, 0)
	a := h.do("PUT", sec, map[string]string{"name": "TOKEN", "text": "s3cret", "type": "secret_text"})
	h.want(a, 200, 0)
	if strings.Contains(string(a.Raw), "s3cret") {
		t.Errorf("a secret's value came back: %s", a.Raw)
	}
	h.want(h.do("PUT", sec, map[string]string{"name": "B", "text": "x"}), 200, 0)
	h.want(h.do("PUT", sec, map[string]string{"text": "x"}), 400, 10001)
	h.want(h.do("PUT", sec, map[string]string{"name": "C", "type": "plain"}), 400, 10001)
	h.want(h.do("PUT", sec, "{"), 400, 10001)
	a = h.do("GET", sec, nil)
	if string(a.Env.Result) != `[{"name":"B","type":"secret_text"},{"name":"TOKEN","type":"secret_text"}]` {
		t.Errorf("secrets: %s", a.Env.Result)
	}
	h.want(h.do("GET", sec+"/TOKEN", nil), 200, 0)
	h.want(h.do("GET", sec+"/NOPE", nil), 404, 10007)
	h.want(h.do("DELETE", sec+"/TOKEN", nil), 200, 0)
	h.want(h.do("DELETE", sec+"/TOKEN", nil), 404, 10007)
	for _, m := range []string{"GET", "DELETE"} {
		h.want(h.do(m, scripts+"/ghost/secrets/X", nil), 404, 10007)
	}
	h.want(h.do("GET", scripts+"/ghost/secrets", nil), 404, 10007)
}

func TestWorkers_RoutesAndDomains(t *testing.T) {
	h := newHarness(t, cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "factory-wager.com", AccountID: account}, {Name: "other.dev"}}})
	ctx := context.Background()
	a := h.do("GET", "zones?name=factory-wager.com", nil)
	var zones []struct{ ID, Name string }
	a.result(t, &zones)
	if len(zones) != 1 {
		t.Fatalf("zones: %s", a.Raw)
	}
	zone := zones[0].ID
	routes := "zones/" + zone + "/workers/routes"

	opts := sdkOptions(t, h.emu)
	rs := workers.NewRouteService(opts...)
	var rp workers.RouteNewParams
	rp.ZoneID.Value, rp.ZoneID.Present = zone, true
	rp.Pattern.Value, rp.Pattern.Present = "dashboard.factory-wager.com/*", true
	rp.Script.Value, rp.Script.Present = "app", true
	r, err := rs.New(ctx, rp)
	if err != nil || r.ID == "" || r.Pattern != "dashboard.factory-wager.com/*" {
		t.Fatalf("route: %+v, %v", r, err)
	}
	var rl workers.RouteListParams
	rl.ZoneID.Value, rl.ZoneID.Present = zone, true
	page, err := rs.List(ctx, rl)
	if err != nil || len(page.Result) != 1 {
		t.Fatalf("routes: %+v, %v", page, err)
	}
	h.want(h.do("POST", routes, map[string]string{"pattern": "dashboard.factory-wager.com/*", "script": "x"}), 400, 10020)
	h.want(h.do("POST", routes, map[string]string{"pattern": "example.org/*", "script": "x"}), 400, 10001)
	h.want(h.do("POST", routes, map[string]string{"pattern": "*.factory-wager.com/api/*", "script": "x"}), 200, 0)
	h.want(h.do("POST", routes, "{"), 400, 10001)
	h.want(h.do("GET", routes+"/"+r.ID, nil), 200, 0)
	h.want(h.do("PUT", routes+"/"+r.ID, map[string]string{"pattern": "*.factory-wager.com/api/*", "script": "y"}), 400, 10020)
	h.want(h.do("PUT", routes+"/"+r.ID, map[string]string{"pattern": "x.com/*", "script": "y"}), 400, 10001)
	h.want(h.do("PUT", routes+"/"+r.ID, "{"), 400, 10001)
	h.want(h.do("PUT", routes+"/"+r.ID, map[string]string{"pattern": "factory-wager.com/*", "script": "y"}), 200, 0)
	h.want(h.do("DELETE", routes+"/"+r.ID, nil), 200, 0)
	h.want(h.do("GET", routes+"/"+r.ID, nil), 404, 10007)
	h.want(h.do("PUT", routes+"/"+r.ID, map[string]string{"pattern": "factory-wager.com/*"}), 404, 10007)
	h.want(h.do("DELETE", routes+"/"+r.ID, nil), 404, 10007)
	h.want(h.do("GET", "zones/"+strings.Repeat("9", 32)+"/workers/routes", nil), 400, 7003)
	h.want(h.do("POST", "zones/"+strings.Repeat("9", 32)+"/workers/routes", map[string]string{"pattern": "a.b/*"}), 400, 7003)

	// Custom domains: the Worker must exist; upsert by hostname.
	domains := "accounts/" + account + "/workers/domains"
	h.want(h.do("PUT", domains, map[string]string{"hostname": "app.factory-wager.com", "service": "app"}), 404, 10007)
	h.want(h.upload("PUT", scripts+"/app", `{"main_module":"index.js"}`, [2]string{"index.js", "x"}), 200, 0)
	ds := workers.NewDomainService(opts...)
	var dp workers.DomainUpdateParams
	dp.AccountID.Value, dp.AccountID.Present = account, true
	dp.Hostname.Value, dp.Hostname.Present = "app.factory-wager.com", true
	dp.Service.Value, dp.Service.Present = "app", true
	d, err := ds.Update(ctx, dp)
	if err != nil || d.ZoneID != zone || d.Service != "app" {
		t.Fatalf("domain: %+v, %v", d, err)
	}
	again, err := ds.Update(ctx, dp)
	if err != nil || again.ID != d.ID {
		t.Errorf("second attach made another domain: %+v, %v", again, err)
	}
	h.want(h.do("PUT", domains, map[string]string{"hostname": "x.factory-wager.com", "service": "app", "zone_name": "factory-wager.com"}), 200, 0)
	h.want(h.do("PUT", domains, map[string]string{"hostname": "y.factory-wager.com", "service": "app", "zone_id": zone}), 200, 0)
	h.want(h.do("PUT", domains, map[string]string{"hostname": "app.example.org", "service": "app"}), 400, 10001)
	h.want(h.do("PUT", domains, map[string]string{"hostname": "app.other.dev", "service": "app"}), 400, 10001) // a zone of another account
	h.want(h.do("PUT", domains, map[string]string{"service": "app"}), 400, 10001)
	h.want(h.do("PUT", domains, "{"), 400, 10001)
	a = h.do("GET", domains+"?service=app&hostname=app.factory-wager.com", nil)
	if n := strings.Count(string(a.Env.Result), `"hostname"`); n != 1 {
		t.Errorf("filtered domains: %s", a.Env.Result)
	}
	h.want(h.do("GET", domains+"/"+d.ID, nil), 200, 0)
	h.want(h.do("DELETE", domains+"/"+d.ID, nil), 200, 0)
	h.want(h.do("GET", domains+"/"+d.ID, nil), 404, 10007)
	h.want(h.do("DELETE", domains+"/"+d.ID, nil), 404, 10007)
}

// TestWorkers_SecretBindingsInUploads: a secret_text binding of an upload
// sets the Worker's secret, and the version shows the binding without its
// text.
func TestWorkers_SecretBindingsInUploads(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	meta := `{"main_module":"index.js","bindings":[{"type":"secret_text","name":"TOKEN","text":"s3cr3t-in-upload"}]}`
	h.want(h.upload("PUT", scripts+"/app", meta, [2]string{"index.js", "export default {}"}), 200, 0)
	a := h.do("GET", scripts+"/app/secrets", nil)
	if !strings.Contains(string(a.Env.Result), `"name":"TOKEN"`) || strings.Contains(string(a.Raw), "s3cr3t") {
		t.Fatalf("secrets after an upload with a secret binding: %s", a.Raw)
	}
	v := h.upload("POST", scripts+"/app/versions", `{"main_module":"index.js","bindings":[{"type":"secret_text","name":"OTHER","text":"s3cr3t-2"}]}`, [2]string{"index.js", "x"})
	h.want(v, 200, 0)
	if strings.Contains(string(v.Raw), "s3cr3t") || !strings.Contains(string(v.Raw), `"name":"OTHER"`) {
		t.Fatalf("a version answer shows a secret's text or loses its binding: %s", v.Raw)
	}
	if a := h.do("GET", scripts+"/app/secrets", nil); !strings.Contains(string(a.Env.Result), `"name":"OTHER"`) {
		t.Fatalf("secrets after a version upload: %s", a.Raw)
	}
}

// TestWorkers_KeepBindings: a version upload with keep_bindings inherits the
// latest version's bindings of those types that it does not name.
func TestWorkers_KeepBindings(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	h.want(h.upload("PUT", scripts+"/app", `{"main_module":"index.js","bindings":[{"type":"secret_text","name":"A","text":"1"},{"type":"plain_text","name":"V","text":"x"}]}`, [2]string{"index.js", "x"}), 200, 0)
	kept := h.upload("POST", scripts+"/app/versions", `{"main_module":"index.js","keep_bindings":["secret_text"],"bindings":[]}`, [2]string{"index.js", "y"})
	h.want(kept, 200, 0)
	if !strings.Contains(string(kept.Raw), `"name":"A"`) || strings.Contains(string(kept.Raw), `"name":"V"`) {
		t.Fatalf("keep_bindings [secret_text] kept: %s", kept.Raw)
	}
	plain := h.upload("POST", scripts+"/app/versions", `{"main_module":"index.js","bindings":[]}`, [2]string{"index.js", "z"})
	if strings.Contains(string(plain.Raw), `"name":"A"`) {
		t.Fatalf("without keep_bindings the secret binding was kept: %s", plain.Raw)
	}
}
