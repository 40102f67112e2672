package cfemu_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
)

const nsBase = "accounts/" + account + "/storage/kv/namespaces"

func (h *harness) namespace(title string) string {
	h.t.Helper()
	a := h.do("POST", nsBase, map[string]string{"title": title})
	h.want(a, 200, 0)
	var ns struct {
		ID                  string
		Title               string
		SupportsURLEncoding bool `json:"supports_url_encoding"`
	}
	a.result(h.t, &ns)
	if len(ns.ID) != 32 || ns.Title != title || !ns.SupportsURLEncoding {
		h.t.Fatalf("created namespace %s", a.Raw)
	}
	return ns.ID
}

func TestKV_Namespaces(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ids := map[string]string{}
	for _, title := range []string{"charlie", "alpha", "bravo"} {
		ids[title] = h.namespace(title)
	}
	h.want(h.do("POST", nsBase, map[string]string{"title": "alpha"}), 400, 10014)
	h.want(h.do("POST", nsBase, map[string]string{"title": " "}), 400, 10019)
	h.want(h.do("POST", nsBase, "not json"), 400, 10001)
	h.want(h.do("POST", nsBase, nil), 400, 10001)

	a := h.do("GET", nsBase+"?per_page=2", nil)
	h.want(a, 200, 0)
	var page []struct{ ID, Title string }
	a.result(t, &page)
	var info struct {
		Count      int
		TotalCount int `json:"total_count"`
		TotalPages int `json:"total_pages"`
	}
	json.Unmarshal(a.Env.ResultInfo, &info)
	if len(page) != 2 || page[0].Title != "alpha" || page[1].Title != "bravo" || info.TotalCount != 3 || info.TotalPages != 2 {
		t.Errorf("page 1: %s %s", a.Env.Result, a.Env.ResultInfo)
	}
	a = h.do("GET", nsBase+"?per_page=2&page=3", nil)
	a.result(t, &page)
	if len(page) != 0 {
		t.Errorf("a page past the end is not empty: %s", a.Raw)
	}
	a = h.do("GET", nsBase+"?direction=desc&order=title", nil)
	a.result(t, &page)
	if page[0].Title != "charlie" {
		t.Errorf("desc: %s", a.Env.Result)
	}
	a = h.do("GET", nsBase+"?order=id", nil)
	a.result(t, &page)
	if page[0].ID > page[1].ID {
		t.Errorf("order=id: %s", a.Env.Result)
	}
	h.want(h.do("GET", nsBase+"?page=0", nil), 400, 10001)
	h.want(h.do("GET", nsBase+"?per_page=abc", nil), 400, 10001)

	h.want(h.do("GET", nsBase+"/"+ids["alpha"], nil), 200, 0)
	h.want(h.do("GET", nsBase+"/"+strings.Repeat("0", 32), nil), 404, 10013)
	h.want(h.do("GET", nsBase+"/not-a-uuid", nil), 400, 10011)
	h.want(h.do("PUT", nsBase+"/"+ids["alpha"], map[string]string{"title": "bravo"}), 400, 10014)
	h.want(h.do("PUT", nsBase+"/"+ids["alpha"], map[string]string{"title": ""}), 400, 10019)
	h.want(h.do("PUT", nsBase+"/"+ids["alpha"], "{"), 400, 10001)
	h.want(h.do("PUT", nsBase+"/"+strings.Repeat("0", 32), map[string]string{"title": "x"}), 404, 10013)
	h.want(h.do("PUT", nsBase+"/"+ids["alpha"], map[string]string{"title": "delta"}), 200, 0)
	h.want(h.do("DELETE", nsBase+"/"+ids["alpha"], nil), 200, 0)
	h.want(h.do("DELETE", nsBase+"/"+ids["alpha"], nil), 404, 10013)
}

func TestKV_Values(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ns := nsBase + "/" + h.namespace("CONFIG")
	key := "a/b?c d%"
	val := ns + "/values/" + url.PathEscape(key)

	// Raw body.
	h.want(h.do("PUT", val, "hello"), 200, 0)
	a := h.do("GET", val, nil)
	if a.Status != 200 || string(a.Raw) != "hello" || a.Header.Get("Content-Type") != "application/octet-stream" || a.Header.Get("Expiration") != "" {
		t.Fatalf("GET value: %d %v %q", a.Status, a.Header, a.Raw)
	}
	h.want(h.do("GET", ns+"/metadata/"+url.PathEscape(key), nil), 200, 0)
	if a := h.do("GET", ns+"/metadata/"+url.PathEscape(key), nil); string(a.Env.Result) != "null" {
		t.Errorf("metadata of a key without: %s", a.Env.Result)
	}

	// Multipart with metadata and a TTL, a second later (one write per second per key).
	h.clock.Advance(time.Second)
	body, ct := multipartBody(t, [4]string{"value", "", "", "v2"}, [4]string{"metadata", "", "", `{"setBy":"alice"}`})
	h.want(h.do("PUT", val+"?expiration_ttl=120", body, "Content-Type", ct), 200, 0)
	a = h.do("GET", val, nil)
	wantExp := fmt.Sprint(h.clock.Now().Unix() + 120)
	if string(a.Raw) != "v2" || a.Header.Get("Expiration") != wantExp {
		t.Errorf("after multipart put: %q expiration %q, want %s", a.Raw, a.Header.Get("Expiration"), wantExp)
	}
	a = h.do("GET", ns+"/metadata/"+url.PathEscape(key), nil)
	if string(a.Env.Result) != `{"setBy":"alice"}` {
		t.Errorf("metadata = %s", a.Env.Result)
	}

	// Limits and validation.
	tests := []struct {
		name   string
		path   string
		body   any
		ct     string
		status int
		code   int
	}{
		{"ttl below 60", ns + "/values/t?expiration_ttl=59", "v", "", 400, 10033},
		{"ttl not a number", ns + "/values/t?expiration_ttl=abc", "v", "", 400, 10033},
		{"ttl fraction", ns + "/values/t?expiration_ttl=60.5", "v", "", 400, 10033},
		{"expiration past", ns + "/values/t?expiration=1", "v", "", 400, 10033},
		{"expiration too soon", ns + fmt.Sprintf("/values/t?expiration=%d", h.clock.Now().Unix()+30), "v", "", 400, 10033},
		{"key too long", ns + "/values/" + strings.Repeat("k", 513), "v", "", 414, 10030},
		{"dot key", ns + "/values/%2E", "v", "", 400, 10020},
		{"invalid utf-8 key", ns + "/values/%FF", "v", "", 400, 10020},
		{"value too large", ns + "/values/big", strings.Repeat("x", 25<<20+1), "", 413, 10024},
		{"metadata too large", ns + "/values/m", mpart(t, "v", `{"a":"`+strings.Repeat("x", 1020)+`"}`), "mp", 413, 10031},
		{"metadata not an object", ns + "/values/m", mpart(t, "v", `[1]`), "mp", 400, 10031},
		{"multipart without value", ns + "/values/m", mpartOnly(t, "metadata", `{}`), "mp", 400, 10001},
		{"missing namespace", nsBase + "/" + strings.Repeat("0", 32) + "/values/k", "v", "", 404, 10013},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a answer
			if tc.ct == "mp" {
				b := tc.body.([2]string)
				a = h.do("PUT", tc.path, b[0], "Content-Type", b[1])
			} else {
				a = h.do("PUT", tc.path, tc.body)
			}
			h.want(a, tc.status, tc.code)
		})
	}
	h.want(h.do("PUT", ns+"/values/ok?expiration="+fmt.Sprint(h.clock.Now().Unix()+60)+"&expiration_ttl=3600", "v"), 200, 0)
	if a := h.do("GET", ns+"/values/ok", nil); a.Header.Get("Expiration") != fmt.Sprint(h.clock.Now().Unix()+3600) {
		t.Errorf("expiration_ttl does not win over expiration: %v", a.Header)
	}

	// Expiry: gone exactly at the second it expires.
	h.clock.Advance(119 * time.Second)
	h.want(h.do("GET", val, nil), 200, 0)
	h.clock.Advance(time.Second)
	h.want(h.do("GET", val, nil), 404, 10009)
	h.want(h.do("GET", ns+"/metadata/"+url.PathEscape(key), nil), 404, 10009)
	h.want(h.do("GET", ns+"/values/"+strings.Repeat("k", 513), nil), 414, 10030)
	h.want(h.do("GET", ns+"/metadata/%2E%2E", nil), 400, 10020)

	// One write per second per key.
	h.want(h.do("PUT", ns+"/values/hot", "1"), 200, 0)
	a = h.do("PUT", ns+"/values/hot", "2")
	h.want(a, 429, 10040)
	if a.Header.Get("Retry-After") != "1" {
		t.Errorf("per-key 429 Retry-After %q", a.Header.Get("Retry-After"))
	}
	h.clock.Advance(time.Second)
	h.want(h.do("PUT", ns+"/values/hot", "2"), 200, 0)

	// Delete, and delete of a missing key.
	h.want(h.do("DELETE", ns+"/values/hot", nil), 200, 0)
	h.want(h.do("GET", ns+"/values/hot", nil), 404, 10009)
	h.want(h.do("DELETE", ns+"/values/never", nil), 200, 0)
	h.want(h.do("DELETE", ns+"/values/..", nil), 400, 10020)
	h.want(h.do("DELETE", nsBase+"/"+strings.Repeat("0", 32)+"/values/k", nil), 404, 10013)
	h.want(h.do("GET", nsBase+"/"+strings.Repeat("0", 32)+"/values/k", nil), 404, 10013)
	h.want(h.do("GET", nsBase+"/"+strings.Repeat("0", 32)+"/metadata/k", nil), 404, 10013)
}

func mpart(t *testing.T, value, md string) [2]string {
	b, ct := multipartBody(t, [4]string{"value", "", "", value}, [4]string{"metadata", "", "", md})
	return [2]string{string(b), ct}
}

func mpartOnly(t *testing.T, name, content string) [2]string {
	b, ct := multipartBody(t, [4]string{name, "", "", content})
	return [2]string{string(b), ct}
}

func TestKV_ListKeys(t *testing.T) {
	h := newHarness(t, cfemu.Options{KeyWriteInterval: -1})
	ns := nsBase + "/" + h.namespace("CONFIG")
	for i := 0; i < 25; i++ {
		h.want(h.do("PUT", ns+fmt.Sprintf("/values/p%%2F%02d", i), "v"), 200, 0)
	}
	h.want(h.do("PUT", ns+"/values/q?expiration_ttl=60", "v"), 200, 0)
	mp := mpart(t, "v", `{"x":1}`)
	h.want(h.do("PUT", ns+"/values/p%2Fmd", mp[0], "Content-Type", mp[1]), 200, 0)
	var names []string
	cursor := ""
	pages := 0
	for {
		a := h.do("GET", ns+"/keys?prefix=p%2F&limit=10&cursor="+url.QueryEscape(cursor), nil)
		h.want(a, 200, 0)
		var keys []struct {
			Name       string
			Expiration int64
			Metadata   json.RawMessage
		}
		a.result(t, &keys)
		var info struct {
			Count  int
			Cursor string
		}
		json.Unmarshal(a.Env.ResultInfo, &info)
		for _, k := range keys {
			names = append(names, k.Name)
			if k.Name == "p/md" && string(k.Metadata) != `{"x":1}` {
				t.Errorf("p/md metadata %s", k.Metadata)
			}
		}
		pages++
		if info.Count != len(keys) {
			t.Errorf("count %d for %d keys", info.Count, len(keys))
		}
		if info.Cursor == "" {
			break
		}
		cursor = info.Cursor
	}
	if len(names) != 26 || pages != 3 || names[0] != "p/00" || names[25] != "p/md" {
		t.Errorf("%d pages: %v", pages, names)
	}
	a := h.do("GET", ns+"/keys?prefix=q", nil)
	if !strings.Contains(string(a.Env.Result), `"expiration":`) {
		t.Errorf("expiring key listed without expiration: %s", a.Env.Result)
	}
	h.clock.Advance(time.Minute)
	if a := h.do("GET", ns+"/keys?prefix=q", nil); string(a.Env.Result) != "[]" {
		t.Errorf("expired key still listed: %s", a.Env.Result)
	}
	h.want(h.do("GET", ns+"/keys?limit=9", nil), 400, 10034)
	h.want(h.do("GET", ns+"/keys?limit=1001", nil), 400, 10034)
	h.want(h.do("GET", ns+"/keys?cursor=%25%25", nil), 400, 10034)
	h.want(h.do("GET", ns+"/keys?prefix="+strings.Repeat("p", 513), nil), 414, 10030)
	h.want(h.do("GET", nsBase+"/"+strings.Repeat("0", 32)+"/keys", nil), 404, 10013)
}

func TestKV_Bulk(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ns := nsBase + "/" + h.namespace("CONFIG")
	items := []map[string]any{
		{"key": "a", "value": "1"},
		{"key": "b", "value": base64.StdEncoding.EncodeToString([]byte{0xff, 0}), "base64": true},
		{"key": "c", "value": `{"n":3}`, "metadata": map[string]any{"m": 1}, "expiration_ttl": 300},
		{"key": "d", "value": "4", "expiration": h.clock.Now().Unix() + 600},
	}
	a := h.do("PUT", ns+"/bulk", items)
	h.want(a, 200, 0)
	var res struct {
		SuccessfulKeyCount int      `json:"successful_key_count"`
		UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
	}
	a.result(t, &res)
	if res.SuccessfulKeyCount != 4 || len(res.UnsuccessfulKeys) != 0 {
		t.Errorf("bulk write: %s", a.Env.Result)
	}
	if a := h.do("GET", ns+"/values/b", nil); string(a.Raw) != "\xff\x00" {
		t.Errorf("base64 value = %q", a.Raw)
	}

	get := func(body any) answer { return h.do("POST", ns+"/bulk/get", body) }
	a = get(map[string]any{"keys": []string{"a", "c", "zz"}})
	h.want(a, 200, 0)
	if string(a.Env.Result) != `{"values":{"a":"1","c":"{\"n\":3}","zz":null}}` {
		t.Errorf("bulk get text: %s", a.Env.Result)
	}
	a = get(map[string]any{"keys": []string{"c"}, "type": "json", "withMetadata": true})
	var withMD struct {
		Values map[string]struct {
			Value      map[string]int
			Metadata   map[string]int
			Expiration int64
		}
	}
	a.result(t, &withMD)
	if c := withMD.Values["c"]; c.Value["n"] != 3 || c.Metadata["m"] != 1 || c.Expiration == 0 {
		t.Errorf("bulk get json with metadata: %s", a.Env.Result)
	}
	a = get(map[string]any{"keys": []string{"a"}, "withMetadata": true})
	if !strings.Contains(string(a.Env.Result), `"metadata":null`) {
		t.Errorf("bulk get of a key without metadata: %s", a.Env.Result)
	}
	h.want(get(map[string]any{"keys": []string{"b"}, "type": "json"}), 400, 10001)
	h.want(get(map[string]any{"keys": []string{"b"}}), 400, 10001)
	h.want(get(map[string]any{"keys": []string{}}), 400, 10001)
	h.want(get(map[string]any{"keys": []string{"a"}, "type": "xml"}), 400, 10001)
	h.want(get(map[string]any{"keys": []string{""}}), 400, 10020)
	h.want(get("x"), 400, 10001)
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	h.want(get(map[string]any{"keys": many}), 400, 10001)

	bad := []struct {
		name   string
		item   map[string]any
		status int
		code   int
	}{
		{"no value", map[string]any{"key": "x"}, 400, 10001},
		{"bad base64", map[string]any{"key": "x", "value": "%%%", "base64": true}, 400, 10001},
		{"bad key", map[string]any{"key": "..", "value": "v"}, 400, 10020},
		{"bad ttl", map[string]any{"key": "x", "value": "v", "expiration_ttl": 10}, 400, 10033},
		{"bad metadata", map[string]any{"key": "x", "value": "v", "metadata": []int{1}}, 400, 10031},
	}
	for _, tc := range bad {
		h.want(h.do("PUT", ns+"/bulk", []map[string]any{{"key": "ok", "value": "v"}, tc.item}), tc.status, tc.code)
	}
	if a := h.do("GET", ns+"/values/ok", nil); a.Status != 404 {
		t.Error("a refused bulk write wrote its valid pairs")
	}
	tooMany := make([]map[string]any, 10_001)
	for i := range tooMany {
		tooMany[i] = map[string]any{"key": fmt.Sprint(i), "value": "v"}
	}
	h.want(h.do("PUT", ns+"/bulk", tooMany), 413, 10024)
	h.want(h.do("PUT", ns+"/bulk", "{}"), 400, 10001)

	// Bulk delete, both forms.
	h.want(h.do("POST", ns+"/bulk/delete", []string{"a", "b", "missing"}), 200, 0)
	h.want(h.do("DELETE", ns+"/bulk", []string{"c"}), 200, 0)
	for _, k := range []string{"a", "b", "c"} {
		h.want(h.do("GET", ns+"/values/"+k, nil), 404, 10009)
	}
	h.want(h.do("POST", ns+"/bulk/delete", []string{""}), 400, 10020)
	h.want(h.do("POST", ns+"/bulk/delete", "nope"), 400, 10001)
	keys := make([]string, 10_001)
	for i := range keys {
		keys[i] = fmt.Sprint(i)
	}
	h.want(h.do("POST", ns+"/bulk/delete", keys), 413, 10024)
	missing := nsBase + "/" + strings.Repeat("0", 32)
	h.want(h.do("PUT", missing+"/bulk", items), 404, 10013)
	h.want(h.do("POST", missing+"/bulk/delete", []string{"a"}), 404, 10013)
	h.want(h.do("POST", missing+"/bulk/get", map[string]any{"keys": []string{"a"}}), 404, 10013)
}

// TestKV_BulkPartialFailures: with faults on, some pairs of a bulk write
// come back in unsuccessful_keys and are not written.
func TestKV_BulkPartialFailures(t *testing.T) {
	faulty, err := cfemu.New(cfemu.Options{Token: token, FailRate: 0.5, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer faulty.Close()
	srv := httptest.NewServer(faulty)
	defer srv.Close()
	send := func(method, path string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+base+"/"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil // an injected reset
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	var created struct{ Result struct{ ID string } }
	for created.Result.ID == "" {
		if status, b := send("POST", nsBase, map[string]string{"title": "x"}); status == 200 {
			json.Unmarshal(b, &created)
		}
	}
	items := make([]map[string]any, 100)
	for i := range items {
		items[i] = map[string]any{"key": fmt.Sprint(i), "value": "v"}
	}
	for tries := 0; tries < 20; tries++ {
		status, b := send("PUT", nsBase+"/"+created.Result.ID+"/bulk", items)
		if status != 200 {
			continue
		}
		var res struct {
			Result struct {
				SuccessfulKeyCount int      `json:"successful_key_count"`
				UnsuccessfulKeys   []string `json:"unsuccessful_keys"`
			}
		}
		json.Unmarshal(b, &res)
		if len(res.Result.UnsuccessfulKeys) == 0 || res.Result.SuccessfulKeyCount+len(res.Result.UnsuccessfulKeys) != 100 {
			t.Fatalf("bulk under faults: %s", b)
		}
		return
	}
	t.Fatal("no bulk write got through 20 tries at a 50% fail rate")
}

// TestKV_Propagation (KV-14): reads keep seeing the previous value (or
// absence) for the propagation delay after a write or delete.
func TestKV_Propagation(t *testing.T) {
	h := newHarness(t, cfemu.Options{Propagation: time.Minute, KeyWriteInterval: -1})
	ns := nsBase + "/" + h.namespace("CONFIG")
	h.want(h.do("PUT", ns+"/values/k", "v1"), 200, 0)
	h.want(h.do("GET", ns+"/values/k", nil), 404, 10009)
	if a := h.do("GET", ns+"/keys", nil); string(a.Env.Result) != "[]" {
		t.Errorf("a propagating key is listed: %s", a.Env.Result)
	}
	h.clock.Advance(time.Minute)
	if a := h.do("GET", ns+"/values/k", nil); string(a.Raw) != "v1" {
		t.Fatalf("after propagation: %q", a.Raw)
	}
	h.want(h.do("PUT", ns+"/values/k", "v2"), 200, 0)
	h.clock.Advance(10 * time.Second)
	h.want(h.do("PUT", ns+"/values/k", "v3"), 200, 0)
	if a := h.do("GET", ns+"/values/k", nil); string(a.Raw) != "v1" {
		t.Errorf("while v2 and v3 propagate: %q, want v1", a.Raw)
	}
	h.clock.Advance(time.Minute)
	if a := h.do("GET", ns+"/values/k", nil); string(a.Raw) != "v3" {
		t.Errorf("after: %q, want v3", a.Raw)
	}
	h.want(h.do("DELETE", ns+"/values/k", nil), 200, 0)
	if a := h.do("GET", ns+"/values/k", nil); string(a.Raw) != "v3" {
		t.Errorf("a propagating delete: %q, want v3", a.Raw)
	}
	h.clock.Advance(time.Minute)
	h.want(h.do("GET", ns+"/values/k", nil), 404, 10009)
	// A deleted-then-recreated key.
	h.want(h.do("PUT", ns+"/values/k", "v4"), 200, 0)
	h.want(h.do("GET", ns+"/values/k", nil), 404, 10009)
}
