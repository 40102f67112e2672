package devrun_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/flags"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

// TestWorker_DashboardAtTheEdge: the Worker serves the dashboard's files
// and the read-only API from KV; with DASHBOARD_TOKEN the API asks for it;
// changes are refused.
func TestWorker_DashboardAtTheEdge(t *testing.T) {
	store := kvstore.NewMemory(nil)
	srv, doc := startExampleWith(t, store, map[string]string{"DASHBOARD_TOKEN": "edge-token-1"})
	m := overrides.New(overrides.Options{Store: store, Doc: doc, By: "edge-test"})
	if _, err := m.Set(context.Background(), "features.premium.rolloutPercentage", 60, overrides.SetOptions{}); err != nil {
		t.Fatal(err)
	}
	code, hdr, body := do(t, "GET", srv.URL+"/", "", nil)
	if code != 200 || !strings.Contains(body, "QUANTUM TERMINAL") || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || hdr.Get("Content-Security-Policy") == "" {
		t.Fatalf("/: %d %v", code, hdr)
	}
	if code, hdr, body := do(t, "GET", srv.URL+"/app.js", "", nil); code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/javascript") || !strings.Contains(body, "EventSource") {
		t.Fatalf("/app.js: %d %v", code, hdr)
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/v1/config", "", nil); code != 401 {
		t.Fatalf("the API without the token: %d", code)
	}
	auth := map[string]string{"Authorization": "Bearer edge-token-1"}
	if code, _, _ := do(t, "GET", srv.URL+"/api/v1/config", "", map[string]string{"Authorization": "Bearer edge-token-2"}); code != 401 {
		t.Fatalf("a wrong token: %d", code)
	}
	_, _, body = do(t, "GET", srv.URL+"/api/v1/session", "", auth)
	if !strings.Contains(body, `"mutations":false`) || !strings.Contains(body, `"edge":true`) {
		t.Errorf("session: %s", body)
	}
	_, _, body = do(t, "GET", srv.URL+"/api/v1/config", "", auth)
	var cfg struct {
		Values []struct {
			Path     string
			Value    any
			Override bool
			Source   struct{ Layer, SetBy string }
		}
	}
	if err := json.Unmarshal([]byte(body), &cfg); err != nil {
		t.Fatalf("config: %v %s", err, body)
	}
	found := false
	for _, v := range cfg.Values {
		if v.Path == "features.premium.rolloutPercentage" {
			found = v.Value == 60.0 && v.Override && v.Source.SetBy == "edge-test"
		}
	}
	if !found {
		t.Errorf("the override is not in the edge configuration: %s", body)
	}
	_, _, body = do(t, "GET", srv.URL+"/api/v1/flags/premium/eval?user=alice@factory-wager.com", "", auth)
	if !strings.Contains(body, `"enabled":true`) {
		t.Errorf("eval: %s", body)
	}
	_, _, body = do(t, "GET", srv.URL+"/api/v1/flags/premium/simulate?users=1000", "", auth)
	var sim struct{ Users, Enabled int }
	flag := doc.Config.Features["premium"]
	flag.RolloutPercentage = 60
	if want := flags.Simulate("premium", flag, 1000, nil); json.Unmarshal([]byte(body), &sim) != nil || sim.Users != 1000 || sim.Enabled != want.Enabled {
		t.Errorf("simulate at 60 %%: %s, want %d enabled as in Go", body, want.Enabled)
	}
	if code, _, _ := do(t, "PUT", srv.URL+"/api/v1/overrides/features.premium.rolloutPercentage", `{"value":1}`, auth); code != 405 {
		t.Errorf("a change at the edge: %d", code)
	}
	for _, p := range []string{"/api/v1/flags", "/api/v1/overrides", "/api/v1/report", "/api/v1/monitor", "/api/v1/alerts", "/api/v1/deployments", "/api/v1/events"} {
		if code, _, body := do(t, "GET", srv.URL+p, "", auth); code != 200 {
			t.Errorf("%s: %d %s", p, code, body)
		}
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/v1/flags/nope/eval?user=a", "", auth); code != 404 {
		t.Errorf("an unknown flag: %d", code)
	}
}
