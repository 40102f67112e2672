package cfemu_test

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
)

// deployed uploads a Worker called name and returns its live version id.
func (h *harness) deployed(name string) string {
	h.t.Helper()
	a := h.upload("PUT", scripts+"/"+name, `{"main_module":"index.js","bindings":[{"type":"plain_text","name":"MODE","text":"a"},{"type":"secret_text","name":"TOKEN","text":"s"}]}`, [2]string{"index.js", "export default {}"})
	h.want(a, 200, 0)
	var r struct {
		DeploymentID string `json:"deployment_id"`
	}
	a.result(h.t, &r)
	return r.DeploymentID
}

func TestWhoAmIEndpoints(t *testing.T) {
	h := newHarness(t, cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: account}}})
	var u struct{ ID, Email string }
	h.do("GET", "user", nil).result(t, &u)
	if u.Email == "" || len(u.ID) != 32 {
		t.Errorf("user = %+v", u)
	}
	var accts []struct{ ID string }
	h.do("GET", "accounts", nil).result(t, &accts)
	if len(accts) != 2 || accts[0].ID != cfemu.DefaultAccountID || accts[1].ID != account {
		t.Errorf("accounts = %+v", accts)
	}
	var ms []struct {
		Status  string
		Account struct{ ID string }
	}
	h.do("GET", "memberships", nil).result(t, &ms)
	if len(ms) != 2 || ms[1].Account.ID != account || ms[0].Status != "accepted" {
		t.Errorf("memberships = %+v", ms)
	}
	h.want(h.do("GET", "accounts?per_page=0", nil), 400, 10001)
}

func TestServicesSubdomainSchedulesSettings(t *testing.T) {
	h := newHarness(t, cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: account}}})
	svc := "accounts/" + account + "/workers/services/app"
	h.want(h.do("GET", svc, nil), 404, 10090)
	h.want(h.do("DELETE", svc, nil), 404, 10090)
	v1 := h.deployed("app")
	var s struct {
		DefaultEnvironment struct {
			Environment string
			Script      struct {
				ID               string
				LastDeployedFrom string `json:"last_deployed_from"`
			}
		} `json:"default_environment"`
	}
	h.do("GET", svc, nil).result(t, &s)
	if s.DefaultEnvironment.Script.ID != "app" || s.DefaultEnvironment.Script.LastDeployedFrom != "api" {
		t.Errorf("service = %+v", s)
	}

	// workers.dev
	sub := "accounts/" + account + "/workers/subdomain"
	var name struct{ Subdomain string }
	h.do("GET", sub, nil).result(t, &name)
	if !strings.HasPrefix(name.Subdomain, "cfemu-") {
		t.Errorf("default subdomain %q", name.Subdomain)
	}
	h.want(h.do("PUT", sub, map[string]string{"subdomain": "Bad Name!"}), 400, 10001)
	h.want(h.do("PUT", sub, map[string]string{"subdomain": "team"}), 200, 0)
	h.do("GET", sub, nil).result(t, &name)
	if name.Subdomain != "team" {
		t.Errorf("subdomain after PUT %q", name.Subdomain)
	}
	ssub := scripts + "/app/subdomain"
	var toggle struct {
		Enabled         bool
		PreviewsEnabled bool `json:"previews_enabled"`
	}
	h.do("GET", ssub, nil).result(t, &toggle)
	if toggle.Enabled {
		t.Error("workers.dev on by default")
	}
	h.want(h.do("POST", ssub, map[string]any{}), 400, 10001)
	h.want(h.do("POST", ssub, map[string]any{"enabled": true}), 200, 0)
	h.do("GET", ssub, nil).result(t, &toggle)
	if !toggle.Enabled || !toggle.PreviewsEnabled {
		t.Errorf("after enabling: %+v", toggle)
	}
	h.want(h.do("POST", ssub, map[string]any{"enabled": true, "previews_enabled": false}), 200, 0)
	h.want(h.do("DELETE", ssub, nil), 200, 0)
	h.do("GET", ssub, nil).result(t, &toggle)
	if toggle.Enabled {
		t.Error("workers.dev still on after DELETE")
	}
	h.want(h.do("GET", scripts+"/nope/subdomain", nil), 404, 10007)

	// Cron triggers.
	sch := scripts + "/app/schedules"
	h.want(h.do("PUT", sch, []map[string]string{{"cron": "not a cron"}}), 400, 10001)
	h.want(h.do("PUT", sch, []map[string]string{{"cron": "* * * * *"}, {"cron": "* * * * *"}, {"cron": "* * * * *"}, {"cron": "* * * * *"}, {"cron": "* * * * *"}, {"cron": "* * * * *"}}), 400, 10001)
	h.want(h.do("PUT", sch, []map[string]string{{"cron": "*/5 * * * *"}, {"cron": "0 3 * * 1"}}), 200, 0)
	var got struct{ Schedules []struct{ Cron string } }
	h.do("GET", sch, nil).result(t, &got)
	if len(got.Schedules) != 2 || got.Schedules[1].Cron != "0 3 * * 1" {
		t.Errorf("schedules %+v", got)
	}

	// Settings: a PATCH makes a new version of the same code, deployed.
	set := scripts + "/app/settings"
	var st struct {
		Bindings          []map[string]string
		CompatibilityDate string `json:"compatibility_date"`
	}
	h.do("GET", set, nil).result(t, &st)
	if len(st.Bindings) != 2 {
		t.Fatalf("settings bindings %+v", st.Bindings)
	}
	body, ct := multipartBody(t, [4]string{"settings", "", "application/json", `{"compatibility_date":"2026-01-01","bindings":[{"type":"inherit","name":"TOKEN"},{"type":"secret_text","name":"NEW","text":"n"},{"type":"plain_text","name":"MODE","text":"b"}]}`})
	h.want(h.do("PATCH", set, body, "Content-Type", ct), 200, 0)
	st.Bindings = nil
	h.do("GET", set, nil).result(t, &st)
	names := []string{}
	for _, b := range st.Bindings {
		names = append(names, b["name"]+"="+b["text"])
	}
	if st.CompatibilityDate != "2026-01-01" || strings.Join(names, ",") != "TOKEN=,NEW=,MODE=b" {
		t.Errorf("after PATCH: %s %v", st.CompatibilityDate, names)
	}
	var deps struct {
		Deployments []struct {
			Versions []struct {
				VersionID string `json:"version_id"`
			}
		}
	}
	h.do("GET", scripts+"/app/deployments", nil).result(t, &deps)
	if len(deps.Deployments) != 2 || deps.Deployments[0].Versions[0].VersionID == v1 {
		t.Errorf("a settings PATCH did not deploy a new version: %+v", deps)
	}
	body, ct = multipartBody(t, [4]string{"settings", "", "application/json", `{"bindings":[{"type":"inherit","name":"MISSING"}]}`})
	h.want(h.do("PATCH", set, body, "Content-Type", ct), 400, 10001)
	h.want(h.do("PATCH", set, `{"bindings":[{"type":"plain_text"}]}`, "Content-Type", "application/json"), 400, 10001)
	h.want(h.do("PATCH", set, "x", "Content-Type", "text/plain"), 400, 10001)
	body, ct = multipartBody(t, [4]string{"other", "", "", "x"})
	h.want(h.do("PATCH", set, body, "Content-Type", ct), 400, 10001)
	h.want(h.do("PATCH", set, `{"logpush":true,"tags":["a"]}`, "Content-Type", "application/json"), 200, 0)

	ss := scripts + "/app/script-settings"
	h.want(h.do("PATCH", ss, map[string]any{"logpush": false, "tags": []string{"x", "y"}}), 200, 0)
	var sset struct {
		Logpush bool
		Tags    []string
	}
	h.do("GET", ss, nil).result(t, &sset)
	if sset.Logpush || len(sset.Tags) != 2 {
		t.Errorf("script-settings %+v", sset)
	}

	// DELETE through the services API removes the Worker.
	h.want(h.do("DELETE", svc, nil), 200, 0)
	h.want(h.do("GET", scripts+"/app/settings", nil), 404, 10007)
}

func TestScriptRoutesAndDomains(t *testing.T) {
	h := newHarness(t, cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "example.com", AccountID: account}}})
	h.deployed("app")
	h.deployed("other")
	var zones []struct{ ID string }
	h.do("GET", "zones?name=example.com", nil).result(t, &zones)
	zr := "zones/" + zones[0].ID + "/workers/routes"
	h.want(h.do("POST", zr, map[string]string{"pattern": "shared.example.com/*", "script": "other"}), 200, 0)

	rr := scripts + "/app/routes"
	h.want(h.do("PUT", rr, []map[string]any{{"pattern": "x.example.org/*"}}), 400, 10001)
	h.want(h.do("PUT", rr, []map[string]any{{"pattern": "d.example.com", "custom_domain": true}}), 400, 10001)
	h.want(h.do("PUT", rr, []map[string]any{{"pattern": "app.example.com/*", "zone_name": "example.com"}, {"pattern": "shared.example.com/*", "zone_id": zones[0].ID}}), 200, 0)
	var routes []struct{ Pattern, Script string }
	h.do("GET", zr, nil).result(t, &routes)
	if len(routes) != 2 || routes[0].Script != "app" || routes[1].Script != "app" {
		t.Errorf("zone routes after PUT: %+v", routes)
	}
	h.want(h.do("PUT", rr, []map[string]any{{"pattern": "app.example.com/v2/*"}}), 200, 0)
	var mine []struct{ Pattern string }
	h.do("GET", rr, nil).result(t, &mine)
	if len(mine) != 1 || mine[0].Pattern != "app.example.com/v2/*" {
		t.Errorf("a PUT replaces the Worker's routes: %+v", mine)
	}

	dr := scripts + "/app/domains/records"
	h.want(h.do("PUT", dr, map[string]any{"origins": []map[string]string{{"hostname": "dash.example.org"}}}), 400, 10001)
	h.want(h.do("PUT", dr, map[string]any{"override_scope": true, "origins": []map[string]string{{"hostname": "dash.example.com"}}}), 200, 0)
	var ch struct {
		Added   []struct{ Hostname string }
		Updated []struct {
			ID       string
			Modified bool
		}
	}
	h.do("POST", scripts+"/other/domains/changeset", []map[string]string{{"hostname": "dash.example.com"}, {"hostname": "new.example.com"}}).result(t, &ch)
	if len(ch.Added) != 1 || len(ch.Updated) != 1 || !ch.Updated[0].Modified {
		t.Fatalf("changeset %+v", ch)
	}
	var d struct{ Hostname, Service string }
	h.do("GET", "accounts/"+account+"/workers/domains/records/"+ch.Updated[0].ID, nil).result(t, &d)
	if d.Service != "app" {
		t.Errorf("domain record %+v", d)
	}
	od := scripts + "/other/domains/records"
	h.want(h.do("PUT", od, map[string]any{"origins": []map[string]string{{"hostname": "dash.example.com"}}}), 409, 100116)
	h.want(h.do("PUT", od, map[string]any{"override_existing_origin": true, "origins": []map[string]string{{"hostname": "dash.example.com"}}}), 200, 0)
	h.do("GET", "accounts/"+account+"/workers/domains/records/"+ch.Updated[0].ID, nil).result(t, &d)
	if d.Service != "other" {
		t.Errorf("override_existing_origin did not move the domain: %+v", d)
	}
	h.want(h.do("POST", "zones/"+zones[0].ID+"/dns_records", map[string]any{"type": "A", "name": "taken.example.com", "content": "192.0.2.1"}), 200, 0)
	h.want(h.do("PUT", dr, map[string]any{"origins": []map[string]string{{"hostname": "taken.example.com"}}}), 409, 100116)
	h.want(h.do("PUT", dr, map[string]any{"override_existing_dns_record": true, "origins": []map[string]string{{"hostname": "taken.example.com"}}}), 200, 0)

	// Deleting a Worker removes its routes and domains (shared.example.com
	// moved to app with the first PUT and went with the second).
	h.want(h.do("POST", zr, map[string]string{"pattern": "other.example.com/*", "script": "other"}), 200, 0)
	h.want(h.do("DELETE", scripts+"/app", nil), 200, 0)
	h.do("GET", zr, nil).result(t, &routes)
	var domains []struct{ Service string }
	h.do("GET", "accounts/"+account+"/workers/domains", nil).result(t, &domains)
	if len(routes) != 1 || len(domains) != 1 || domains[0].Service != "other" {
		t.Errorf("after deleting app: routes %+v, domains %+v", routes, domains)
	}
	lw := h.emu.LiveWorkers()
	if len(lw) != 1 || lw[0].Name != "other" || len(lw[0].Domains) != 1 || len(lw[0].Routes) != 1 || lw[0].Versions[0].Secrets["TOKEN"] != "s" {
		t.Errorf("live workers %+v", lw)
	}
	if h.emu.Generation() == 0 {
		t.Error("the generation did not move")
	}
}

func TestD1Import(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	var db struct{ UUID string }
	h.do("POST", "accounts/"+account+"/d1/database", map[string]string{"name": "imports"}).result(t, &db)
	imp := "accounts/" + account + "/d1/database/" + db.UUID + "/import"
	sql := "CREATE TABLE t (x INTEGER);\nINSERT INTO t VALUES (1);\nINSERT INTO t VALUES (2);\n"
	sum := md5.Sum([]byte(sql))
	etag := hex.EncodeToString(sum[:])
	h.want(h.do("POST", imp, map[string]string{"action": "init", "etag": "nope"}), 400, 10001)
	h.want(h.do("POST", imp, map[string]string{"action": "explode"}), 400, 10001)
	h.want(h.do("POST", imp, map[string]string{"action": "ingest", "filename": etag + ".sql"}), 400, 10001)
	var init struct {
		UploadURL string `json:"upload_url"`
		Filename  string
	}
	h.do("POST", imp, map[string]string{"action": "init", "etag": etag}).result(t, &init)
	i := strings.Index(init.UploadURL, "/client/v4/")
	if i < 0 || init.Filename != etag+".sql" {
		t.Fatalf("init = %+v", init)
	}
	// The upload URL is presigned: no Authorization header.
	up := h.do("PUT", init.UploadURL[i:], sql, "Authorization", "")
	if up.Status != 200 || up.Header.Get("ETag") != `"`+etag+`"` {
		t.Fatalf("upload: %d %v %s", up.Status, up.Header, up.Raw)
	}
	h.want(h.do("PUT", "/client/v4/d1-import-upload/forged", sql, "Authorization", ""), 403, 10000)
	var res struct {
		Status     string
		AtBookmark string `json:"at_bookmark"`
		Result     struct {
			NumQueries int `json:"num_queries"`
		}
	}
	h.do("POST", imp, map[string]string{"action": "ingest", "filename": init.Filename, "etag": etag}).result(t, &res)
	if res.Status != "complete" || res.Result.NumQueries != 3 {
		t.Fatalf("ingest = %+v", res)
	}
	h.do("POST", imp, map[string]string{"action": "poll", "current_bookmark": res.AtBookmark}).result(t, &res)
	if res.Status != "complete" {
		t.Fatalf("poll = %+v", res)
	}
	h.want(h.do("POST", imp, map[string]string{"action": "poll", "current_bookmark": "nope"}), 400, 10001)

	// A failing file is reported, and nothing of it stays.
	bad := "INSERT INTO t VALUES (3);\nINSERT INTO missing VALUES (1);\n"
	sum = md5.Sum([]byte(bad))
	etag = hex.EncodeToString(sum[:])
	h.do("POST", imp, map[string]string{"action": "init", "etag": etag}).result(t, &init)
	h.do("PUT", init.UploadURL[strings.Index(init.UploadURL, "/client/v4/"):], bad, "Authorization", "")
	var failed struct {
		Status string
		Errors []string
	}
	h.do("POST", imp, map[string]string{"action": "ingest", "filename": init.Filename, "etag": etag}).result(t, &failed)
	if failed.Status != "error" || len(failed.Errors) == 0 || !strings.Contains(failed.Errors[0], "missing") {
		t.Fatalf("a failing import: %+v", failed)
	}
	var rows []struct{ Results []map[string]float64 }
	h.do("POST", "accounts/"+account+"/d1/database/"+db.UUID+"/query", map[string]string{"sql": "SELECT count(*) AS n FROM t"}).result(t, &rows)
	if rows[0].Results[0]["n"] != 2 {
		t.Errorf("rows after a failed import: %v", rows)
	}
	// A file that is not what init announced is refused.
	h.do("POST", imp, map[string]string{"action": "init", "etag": etag}).result(t, &init)
	h.do("PUT", init.UploadURL[strings.Index(init.UploadURL, "/client/v4/"):], "SELECT 1;", "Authorization", "")
	h.want(h.do("POST", imp, map[string]string{"action": "ingest", "filename": init.Filename, "etag": etag}), 400, 10001)
	for n := 0; n < 10; n++ { // more inits than kept: the oldest go
		h.want(h.do("POST", imp, map[string]string{"action": "init", "etag": strings.Repeat("a", 31) + string(rune('0'+n))}), 200, 0)
	}
}
