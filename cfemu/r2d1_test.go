package cfemu_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cloudflare/cloudflare-go/v6/d1"
	"github.com/cloudflare/cloudflare-go/v6/r2"

	"github.com/factory-wager/edgeconf/cfemu"
)

func TestR2Buckets(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ctx := context.Background()
	svc := r2.NewBucketService(sdkOptions(t, h.emu)...)
	var np r2.BucketNewParams
	np.AccountID.Value, np.AccountID.Present = account, true
	np.Name.Value, np.Name.Present = "quantum-files", true
	np.LocationHint.Value, np.LocationHint.Present = r2.BucketNewParamsLocationHintWeur, true
	b, err := svc.New(ctx, np)
	if err != nil || b.Name != "quantum-files" || b.Location != "WEUR" || b.StorageClass != "Standard" {
		t.Fatalf("New: %+v, %v", b, err)
	}
	var gp r2.BucketGetParams
	gp.AccountID.Value, gp.AccountID.Present = account, true
	if got, err := svc.Get(ctx, "quantum-files", gp); err != nil || got.Name != "quantum-files" {
		t.Errorf("Get: %+v, %v", got, err)
	}
	var lp r2.BucketListParams
	lp.AccountID.Value, lp.AccountID.Present = account, true
	if list, err := svc.List(ctx, lp); err != nil || len(list.Buckets) != 1 {
		t.Errorf("List: %+v, %v", list, err)
	}
	const buckets = "accounts/" + account + "/r2/buckets"
	h.want(h.do("POST", buckets, map[string]string{"name": "quantum-files"}), 400, 10004)
	for _, name := range []string{"A", "ab", "-ab", "a_b", strings.Repeat("a", 64)} {
		h.want(h.do("POST", buckets, map[string]string{"name": name}), 400, 10005)
	}
	h.want(h.do("POST", buckets, map[string]string{"name": "abc", "locationHint": "mars"}), 400, 10001)
	h.want(h.do("POST", buckets, map[string]string{"name": "abc", "storageClass": "Glacier"}), 400, 10001)
	h.want(h.do("POST", buckets, "{"), 400, 10001)
	for i := 0; i < 5; i++ {
		h.want(h.do("POST", buckets, map[string]string{"name": fmt.Sprintf("b-%d", i), "storageClass": "InfrequentAccess"}, "cf-r2-jurisdiction", "eu"), 200, 0)
	}
	// A bucket of the same name in the default jurisdiction is another bucket.
	h.want(h.do("POST", buckets, map[string]string{"name": "b-0"}), 200, 0)
	eu := []string{"cf-r2-jurisdiction", "eu"}
	var names []string
	cursor := ""
	for {
		a := h.do("GET", buckets+"?per_page=2&name_contains=b-&cursor="+cursor, nil, eu...)
		var res struct {
			Buckets []struct{ Name, Jurisdiction string }
		}
		a.result(t, &res)
		for _, b := range res.Buckets {
			names = append(names, b.Name+"/"+b.Jurisdiction)
		}
		var info struct{ Cursor string }
		json.Unmarshal(a.Env.ResultInfo, &info)
		if info.Cursor == "" {
			break
		}
		cursor = info.Cursor
	}
	if fmt.Sprint(names) != "[b-0/eu b-1/eu b-2/eu b-3/eu b-4/eu]" {
		t.Errorf("paged eu buckets: %v", names)
	}
	if a := h.do("GET", buckets, nil); !strings.Contains(string(a.Env.Result), `"jurisdiction":"default"`) || strings.Contains(string(a.Env.Result), `"eu"`) {
		t.Errorf("the default listing shows other jurisdictions: %s", a.Env.Result)
	}
	a := h.do("GET", buckets+"?direction=desc&start_after=b-3", nil, eu...)
	if !strings.Contains(string(a.Env.Result), "b-2") || strings.Contains(string(a.Env.Result), "b-4") {
		t.Errorf("desc after b-3: %s", a.Env.Result)
	}
	h.want(h.do("POST", buckets, map[string]string{"name": "x-1"}, "cf-r2-jurisdiction", "mars"), 400, 10001)
	h.want(h.do("GET", buckets+"?cursor=%25", nil), 400, 10001)
	h.want(h.do("GET", buckets+"?per_page=0", nil), 400, 10001)
	h.want(h.do("PATCH", buckets+"/b-0", nil, "cf-r2-storage-class", "Standard", "cf-r2-jurisdiction", "eu"), 200, 0)
	h.want(h.do("PATCH", buckets+"/b-0", nil, "cf-r2-storage-class", "Cold"), 400, 10001)
	h.want(h.do("PATCH", buckets+"/zz", nil, "cf-r2-storage-class", "Standard"), 404, 10006)
	h.want(h.do("GET", buckets+"/b-1", nil), 404, 10006)
	h.want(h.do("GET", buckets+"/b-1", nil, eu...), 200, 0)
	h.want(h.do("DELETE", buckets+"/b-0", nil, eu...), 200, 0)
	h.want(h.do("DELETE", buckets+"/b-0", nil, eu...), 404, 10006)
	h.want(h.do("GET", buckets+"/b-0", nil), 200, 0) // the default one is still there
	h.want(h.do("DELETE", buckets+"/b-0", nil), 200, 0)
	h.want(h.do("GET", buckets+"/b-0", nil), 404, 10006)
}

// TestR2Objects: the REST objects API wrangler uses: put with headers, get
// the bytes back, delete (also of a missing key), limits, and a bucket with
// objects cannot be deleted.
func TestR2Objects(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	buckets := "accounts/" + account + "/r2/buckets"
	h.want(h.do("POST", buckets, map[string]string{"name": "files"}), 200, 0)
	obj := buckets + "/files/objects/docs%2Fa.txt"
	h.want(h.do("PUT", obj, "hello", "Content-Type", "text/plain"), 200, 0)
	a := h.do("GET", obj, nil)
	if a.Status != 200 || string(a.Raw) != "hello" || a.Header.Get("Content-Type") != "text/plain" || a.Header.Get("ETag") == "" {
		t.Fatalf("get: %d %q %v", a.Status, a.Raw, a.Header)
	}
	h.want(h.do("GET", buckets+"/files/objects/missing", nil), 404, 10007)
	h.want(h.do("PUT", buckets+"/nope/objects/a", "x"), 404, 10006)
	h.want(h.do("DELETE", buckets+"/files", nil), 409, 10008)
	h.want(h.do("DELETE", obj, nil), 200, 0)
	h.want(h.do("DELETE", obj, nil), 200, 0)
	h.want(h.do("GET", obj, nil), 404, 10007)
	h.want(h.do("DELETE", buckets+"/files", nil), 200, 0)
}

func TestD1(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ctx := context.Background()
	svc := d1.NewDatabaseService(sdkOptions(t, h.emu)...)
	var np d1.DatabaseNewParams
	np.AccountID.Value, np.AccountID.Present = account, true
	np.Name.Value, np.Name.Present = "quantum-db", true
	db, err := svc.New(ctx, np)
	if err != nil || db.Name != "quantum-db" || db.UUID == "" {
		t.Fatalf("New: %+v, %v", db, err)
	}
	var qp d1.DatabaseQueryParams
	qp.AccountID.Value, qp.AccountID.Present = account, true
	var q d1.DatabaseQueryParamsBodyD1SingleQuery
	q.Sql.Value, q.Sql.Present = "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB); INSERT INTO t (name, score) VALUES ('a', 1.5); -- done", true
	qp.Body = q
	page, err := svc.Query(ctx, db.UUID, qp)
	if err != nil || len(page.Result) != 2 || page.Result[1].Meta.Changes != 1 || page.Result[1].Meta.LastRowID != 1 {
		t.Fatalf("Query: %+v, %v", page, err)
	}
	path := "accounts/" + account + "/d1/database/" + db.UUID
	a := h.do("POST", path+"/query", map[string]any{"sql": "INSERT INTO t (name, score, data) VALUES (?, ?, X'FF00') RETURNING id", "params": []any{"b", 2}})
	h.want(a, 200, 0)
	a = h.do("POST", path+"/query", map[string]any{"sql": "SELECT id, name, score, data FROM t WHERE score > ? ORDER BY id", "params": []any{1}})
	h.want(a, 200, 0)
	var res []struct {
		Results []map[string]any
		Success bool
		Meta    struct {
			RowsRead int `json:"rows_read"`
			Changes  int
		}
	}
	a.result(t, &res)
	if len(res) != 1 || len(res[0].Results) != 2 || res[0].Results[1]["name"] != "b" || res[0].Results[1]["data"] == nil || res[0].Meta.RowsRead != 2 {
		t.Errorf("select: %s", a.Env.Result)
	}
	a = h.do("POST", path+"/raw", map[string]any{"batch": []map[string]any{
		{"sql": "UPDATE t SET score = score + 1 WHERE name = ?", "params": []any{"a"}},
		{"sql": "SELECT name, score FROM t ORDER BY id", "params": []any{}},
		{"sql": "SELECT 1 WHERE 0"},
	}})
	h.want(a, 200, 0)
	if !strings.Contains(string(a.Env.Result), `"columns":["name","score"]`) || !strings.Contains(string(a.Env.Result), `["a",2.5]`) || !strings.Contains(string(a.Env.Result), `"rows":[]`) {
		t.Errorf("raw batch: %s", a.Env.Result)
	}
	// A failing statement rolls the whole batch back.
	a = h.do("POST", path+"/query", map[string]any{"batch": []map[string]any{{"sql": "DELETE FROM t"}, {"sql": "SELECT * FROM nope"}}})
	h.want(a, 400, 7500)
	if msg := a.Env.Errors[0].Message; !strings.Contains(msg, "no such table: nope") || !strings.HasSuffix(msg, "SQLITE_ERROR") {
		t.Errorf("D1 error message %q", msg)
	}
	a = h.do("POST", path+"/query", map[string]any{"sql": "SELECT count(*) AS n FROM t"})
	if !strings.Contains(string(a.Env.Result), `"n":2`) {
		t.Errorf("the failed batch was not rolled back: %s", a.Env.Result)
	}
	bad := []struct {
		body any
		code int
	}{
		{map[string]any{"sql": "SELECT 1; SELECT 2", "params": []any{1}}, 7500},
		{map[string]any{"sql": "  ;  "}, 7500},
		{map[string]any{"sql": strings.Repeat(" ", 100_001) + "SELECT 1"}, 7500},
		{map[string]any{"sql": "SELECT ?", "params": make([]any, 101)}, 7500},
		{map[string]any{"sql": "SELECT ?", "params": []any{map[string]int{"a": 1}}}, 7500},
		{map[string]any{"sql": "SELEKT 1"}, 7500},
		{"{", 10001},
	}
	for _, tc := range bad {
		h.want(h.do("POST", path+"/query", tc.body), 400, tc.code)
	}
	a = h.do("POST", path+"/query", map[string]any{"sql": "SELECT ? AS t, ? AS f, ? AS n, 'x;y' AS s /* ; */", "params": []any{true, false, nil}})
	if !strings.Contains(string(a.Env.Result), `"t":1`) || !strings.Contains(string(a.Env.Result), `"s":"x;y"`) {
		t.Errorf("params and quoted semicolons: %s", a.Raw)
	}

	dbs := "accounts/" + account + "/d1/database"
	h.want(h.do("POST", dbs, map[string]string{"name": "quantum-db"}), 400, 7502)
	h.want(h.do("POST", dbs, map[string]string{"name": "bad name"}), 400, 10001)
	h.want(h.do("POST", dbs, "{"), 400, 10001)
	h.want(h.do("POST", dbs, map[string]string{"name": "other"}), 200, 0)
	var lp d1.DatabaseListParams
	lp.AccountID.Value, lp.AccountID.Present = account, true
	it := svc.ListAutoPaging(ctx, lp)
	n := 0
	for it.Next() {
		n++
	}
	if it.Err() != nil || n != 2 {
		t.Errorf("list: %d, %v", n, it.Err())
	}
	if a := h.do("GET", dbs+"?name=other", nil); strings.Count(string(a.Env.Result), `"uuid"`) != 1 {
		t.Errorf("list by name: %s", a.Env.Result)
	}
	h.want(h.do("GET", path, nil), 200, 0)
	h.want(h.do("DELETE", path, nil), 200, 0)
	h.want(h.do("GET", path, nil), 404, 7404)
	h.want(h.do("DELETE", path, nil), 404, 7404)
	h.want(h.do("POST", path+"/query", map[string]any{"sql": "SELECT 1"}), 404, 7404)
}
