package cfemu_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6/dns"
	"github.com/cloudflare/cloudflare-go/v6/zones"

	"github.com/factory-wager/edgeconf/cfemu"
)

func TestZonesAndDNS(t *testing.T) {
	h := newHarness(t, cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "factory-wager.com", AccountID: account}}})
	ctx := context.Background()
	opts := sdkOptions(t, h.emu)

	// Zone lookup by name through the SDK's auto-pager.
	zs := zones.NewZoneService(opts...)
	var zp zones.ZoneListParams
	zp.Name.Value, zp.Name.Present = "factory-wager.com", true
	it := zs.ListAutoPaging(ctx, zp)
	var zone zones.Zone
	n := 0
	for it.Next() {
		zone = it.Current()
		n++
	}
	if it.Err() != nil || n != 1 || zone.Name != "factory-wager.com" || zone.Account.ID != account {
		t.Fatalf("zones: %d %+v %v", n, zone.Account, it.Err())
	}
	h.want(h.do("POST", "zones", map[string]any{"name": "second.dev", "account": map[string]string{"id": account}}), 200, 0)
	h.want(h.do("POST", "zones", map[string]any{"name": "second.dev", "account": map[string]string{"id": account}}), 400, 1061)
	h.want(h.do("POST", "zones", map[string]any{"name": "x.dev"}), 400, 10001)
	h.want(h.do("POST", "zones", map[string]any{"name": "no_dots", "account": map[string]string{"id": account}}), 400, 10001)
	h.want(h.do("POST", "zones", "{"), 400, 10001)
	a := h.do("GET", "zones?account.id="+account+"&status=active", nil)
	if strings.Count(string(a.Env.Result), `"name"`) < 2 {
		t.Errorf("zones of the account: %s", a.Env.Result)
	}
	h.want(h.do("GET", "zones?per_page=51", nil), 400, 10001)
	h.want(h.do("GET", "zones/"+zone.ID, nil), 200, 0)

	// DNS records through the SDK.
	rs := dns.NewRecordService(opts...)
	var np dns.RecordNewParams
	np.ZoneID.Value, np.ZoneID.Present = zone.ID, true
	var rec dns.ARecordParam
	rec.Name.Value, rec.Name.Present = "dashboard", true
	rec.Type.Value, rec.Type.Present = dns.ARecordTypeA, true
	rec.Content.Value, rec.Content.Present = "192.0.2.1", true
	rec.TTL.Value, rec.TTL.Present = dns.TTL(1), true
	rec.Proxied.Value, rec.Proxied.Present = true, true
	np.Body = rec
	created, err := rs.New(ctx, np)
	if err != nil || created.Name != "dashboard.factory-wager.com" || !created.Proxied || !created.Proxiable {
		t.Fatalf("record: %+v, %v", created, err)
	}
	var lp dns.RecordListParams
	lp.ZoneID.Value, lp.ZoneID.Present = zone.ID, true
	lp.Name.Value, lp.Name.Present = dns.RecordListParamsName{}, true
	lp.Name.Value.Exact.Value, lp.Name.Value.Exact.Present = "dashboard.factory-wager.com", true
	lit := rs.ListAutoPaging(ctx, lp)
	n = 0
	for lit.Next() {
		n++
	}
	if lit.Err() != nil || n != 1 {
		t.Fatalf("records by name: %d, %v", n, lit.Err())
	}

	recs := "zones/" + zone.ID + "/dns_records"
	h.want(h.do("POST", recs, map[string]any{"type": "A", "name": "dashboard", "content": "192.0.2.1"}), 400, 81058)
	h.want(h.do("POST", recs, map[string]any{"type": "CNAME", "name": "dashboard", "content": "x.workers.dev"}), 400, 81053)
	h.want(h.do("POST", recs, map[string]any{"type": "A", "name": "dashboard", "content": "192.0.2.2"}), 200, 0)
	h.want(h.do("POST", recs, map[string]any{"type": "CNAME", "name": "www", "content": "quantum-dashboard.workers.dev", "proxied": true}), 200, 0)
	h.want(h.do("POST", recs, map[string]any{"type": "A", "name": "www", "content": "192.0.2.9"}), 400, 81053)
	h.want(h.do("POST", recs, map[string]any{"type": "MX", "name": "@", "content": "mail.factory-wager.com", "priority": 10}), 200, 0)
	h.want(h.do("POST", recs, map[string]any{"type": "TXT", "name": "factory-wager.com.", "content": "v=spf1 -all", "comment": "spf", "tags": []string{"a:b"}}), 200, 0)
	bad := []map[string]any{
		{"type": "A", "name": "x", "content": "2001:db8::1"},
		{"type": "AAAA", "name": "x", "content": "192.0.2.1"},
		{"type": "CNAME", "name": "x", "content": "not a host"},
		{"type": "MX", "name": "x", "content": "mail.example.com"},
		{"type": "TXT", "name": "x", "content": "t", "proxied": true},
		{"type": "A", "name": "x", "content": "192.0.2.1", "ttl": 30},
		{"type": "BOGUS", "name": "x", "content": "y"},
		{"type": "A", "name": "bad name!", "content": "192.0.2.1"},
		{"type": "A", "name": "x"},
	}
	for _, b := range bad {
		if a := h.do("POST", recs, b); a.Status != 400 || a.code() != 9005 {
			t.Errorf("%v: %d %s", b, a.Status, a.Raw)
		}
	}
	h.want(h.do("POST", recs, "{"), 400, 10001)
	a = h.do("GET", recs+"?type=A&per_page=1&page=2", nil)
	if strings.Count(string(a.Env.Result), `"id"`) != 1 {
		t.Errorf("page 2 of A records: %s", a.Env.Result)
	}
	for _, q := range []string{"name.contains=dash", "name.startswith=www", "name.endswith=wager.com&type=TXT", "content=192.0.2.2", "content.exact=192.0.2.2", "proxied=true", "name=WWW.factory-wager.com"} {
		if a := h.do("GET", recs+"?"+q, nil); a.Status != 200 || string(a.Env.Result) == "[]" {
			t.Errorf("filter %s: %s", q, a.Raw)
		}
	}
	id := created.ID
	h.want(h.do("GET", recs+"/"+id, nil), 200, 0)
	a = h.do("PATCH", recs+"/"+id, map[string]any{"content": "192.0.2.3", "ttl": 300})
	h.want(a, 200, 0)
	if !strings.Contains(string(a.Env.Result), `"proxied":true`) || !strings.Contains(string(a.Env.Result), `"ttl":300`) {
		t.Errorf("PATCH keeps other fields: %s", a.Env.Result)
	}
	a = h.do("PUT", recs+"/"+id, map[string]any{"type": "A", "name": "dashboard", "content": "192.0.2.4"})
	h.want(a, 200, 0)
	if !strings.Contains(string(a.Env.Result), `"proxied":false`) {
		t.Errorf("PUT replaces: %s", a.Env.Result)
	}
	h.want(h.do("PATCH", recs+"/"+id, map[string]any{"content": "192.0.2.2"}), 400, 81058)
	h.want(h.do("PATCH", recs+"/"+id, map[string]any{"content": "nope"}), 400, 9005)
	h.want(h.do("PATCH", recs+"/"+id, "{"), 400, 10001)
	h.want(h.do("DELETE", recs+"/"+id, nil), 200, 0)
	for _, m := range []string{"GET", "DELETE"} {
		h.want(h.do(m, recs+"/"+id, nil), 404, 81044)
	}
	h.want(h.do("PATCH", recs+"/"+id, map[string]any{}), 404, 81044)
	ghost := "zones/" + strings.Repeat("7", 32)
	for _, m := range []string{"GET", "POST"} {
		h.want(h.do(m, ghost+"/dns_records", map[string]any{}), 400, 7003)
	}
	h.want(h.do("GET", ghost+"/dns_records/x", nil), 400, 7003)
	h.want(h.do("DELETE", "zones/"+zone.ID, nil), 200, 0)
	h.want(h.do("DELETE", "zones/"+zone.ID, nil), 400, 7003)
	if _, err := cfemu.New(cfemu.Options{Zones: []cfemu.ZoneSeed{{Name: "bad zone"}}}); err == nil {
		t.Error("a bad zone seed was accepted")
	}
}
