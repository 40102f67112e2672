package cfemu_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
)

// countingBody counts how many bytes the server read of a request body.
type countingBody struct {
	n    atomic.Int64
	size int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	left := b.size - b.n.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), left)]
	for i := range p {
		p[i] = 'x'
	}
	b.n.Add(int64(len(p)))
	return len(p), nil
}

func TestHostile_BodyRefusedBeforeRead(t *testing.T) {
	h := newHarness(t, cfemu.Options{MaxBodyBytes: 1 << 20})
	ns := h.namespace("hostile")
	path := base + "/" + nsBase + "/" + ns + "/values/k"
	for _, tc := range []struct {
		name   string
		auth   string
		size   int64
		status int
		code   int
	}{
		{"no auth header", "", 8 << 20, 400, 9106},
		{"wrong token", "Bearer nope", 8 << 20, 403, 10000},
		{"announced over the limit", "Bearer " + token, 8 << 20, 413, 10027},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := &countingBody{size: tc.size}
			req := httptest.NewRequest("PUT", path, body)
			req.ContentLength = tc.size
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.emu.ServeHTTP(w, req)
			if w.Code != tc.status || !strings.Contains(w.Body.String(), fmt.Sprintf(`"code":%d`, tc.code)) {
				t.Fatalf("answer %d %s, want %d code %d", w.Code, w.Body, tc.status, tc.code)
			}
			if n := body.n.Load(); n != 0 {
				t.Errorf("the emulator read %d bytes of a body it refuses", n)
			}
		})
	}
	// A body without a length that grows past the limit is cut at the limit.
	srv := httptest.NewServer(h.emu)
	t.Cleanup(srv.Close)
	body := &countingBody{size: 8 << 20}
	req, _ := http.NewRequest("PUT", srv.URL+path, io.NopCloser(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Errorf("chunked body over the limit: %d", resp.StatusCode)
		}
	}
	if n := body.n.Load(); n >= 8<<20 {
		t.Errorf("the emulator read the whole %d-byte body", n)
	}
}

func TestHostile_RawConnectionAnnouncingHugeBody(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	srv := httptest.NewServer(h.emu)
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Without the fix the server waits for the body; fail fast instead of hanging.
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	// Headers only: 115 MB announced, none sent. The answer must come at once.
	fmt.Fprintf(conn, "PUT %s/%s/x/values/k HTTP/1.1\r\nHost: x\r\nContent-Length: 115000000\r\n\r\n", base, nsBase)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unauthenticated huge body: %d, want 400 before the body is read", resp.StatusCode)
	}
}

func TestHostile_KVExpirationOutOfRange(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	ns := h.namespace("ttl")
	path := nsBase + "/" + ns + "/values/"
	for _, q := range []string{
		"expiration_ttl=99999999999999999999",
		"expiration_ttl=9223372036854775807",
		"expiration_ttl=1e300",
		"expiration=99999999999999999999",
		"expiration=253402300800",
	} {
		t.Run(q, func(t *testing.T) {
			a := h.do("PUT", path+"k?"+q, "v")
			h.want(a, 400, 10033)
			h.want(h.do("GET", path+"k", nil), 404, 10009)
		})
	}
	bulk := h.do("PUT", nsBase+"/"+ns+"/bulk", []map[string]any{{"key": "b", "value": "v", "expiration_ttl": 18446744134}})
	if bulk.Status == 200 {
		if got := h.do("GET", path+"b", nil); got.Status == 200 {
			var keys []struct{ Expiration int64 }
			h.do("GET", nsBase+"/"+ns+"/keys", nil).result(t, &keys)
			if len(keys) != 1 || keys[0].Expiration < h.clock.Now().Unix()+18446744134/2 && keys[0].Expiration != 0 {
				t.Errorf("bulk TTL 18446744134 stored as %+v", keys)
			}
		}
	} else {
		h.want(bulk, 400, 10033)
	}
	// The largest allowed expiry is stored as given.
	a := h.do("PUT", path+"max?expiration=253402300799", "v")
	h.want(a, 200, 0)
}

func TestHostile_D1AttachRefused(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	dir := t.TempDir()
	id := h.database("hostile")
	path := "accounts/" + account + "/d1/database/" + id + "/query"
	for _, sql := range []string{
		"ATTACH DATABASE '" + dir + "/evil.db' AS evil",
		"SELECT 1; ATTACH '" + dir + "/evil2.db' AS e2",
		"DETACH DATABASE main",
	} {
		a := h.do("POST", path, map[string]any{"sql": sql})
		h.want(a, 400, 7500)
		if !strings.Contains(string(a.Raw), "not authorized") {
			t.Errorf("%s: %s", sql, a.Raw)
		}
	}
	if ents, _ := filepathGlob(dir); len(ents) != 0 {
		t.Errorf("ATTACH created %v", ents)
	}
	h.want(h.do("POST", path, map[string]any{"sql": "CREATE TABLE t (x); SELECT * FROM t"}), 200, 0)
}

func TestHostile_D1ResultCapped(t *testing.T) {
	h := newHarness(t, cfemu.Options{})
	id := h.database("big")
	path := "accounts/" + account + "/d1/database/" + id + "/query"
	a := h.do("POST", path, map[string]any{"sql": fmt.Sprintf("SELECT randomblob(%d)", cfemu.MaxD1ResultBytes+1)})
	h.want(a, 400, 7500)
	if !strings.Contains(string(a.Raw), "MaxD1ResultBytes") {
		t.Errorf("the error does not name the limit: %s", a.Raw)
	}
	a = h.do("POST", path, map[string]any{"sql": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n LIMIT 300000) SELECT i, hex(randomblob(32)) FROM n"})
	h.want(a, 400, 7500)
	h.want(h.do("POST", path, map[string]any{"sql": "SELECT randomblob(1000)"}), 200, 0)
}

func TestStartupWarnings(t *testing.T) {
	for _, tc := range []struct {
		addr, token string
		want        []string
	}{
		{"127.0.0.1:8787", "t", nil},
		{"localhost:8787", "t", nil},
		{"[::1]:8787", "t", nil},
		{"0.0.0.0:8787", "t", []string{"beyond loopback"}},
		{":8787", "t", []string{"every interface"}},
		{"192.168.1.5:80", "t", []string{"192.168.1.5"}},
		{"127.0.0.1:8787", "", []string{"accepts ANY Bearer token"}},
		{"[::]:1", "", []string{"beyond loopback", "ANY"}},
	} {
		got := cfemu.StartupWarnings(tc.addr, tc.token)
		if len(got) != len(tc.want) {
			t.Errorf("%q %q: %q", tc.addr, tc.token, got)
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%q %q: warning %q lacks %q", tc.addr, tc.token, got[i], w)
			}
		}
	}
	for _, w := range cfemu.StartupWarnings("0.0.0.0:1", "s3cr3t-token") {
		if strings.Contains(w, "s3cr3t") {
			t.Errorf("warning shows the token: %q", w)
		}
	}
}

func filepathGlob(dir string) ([]string, error) { return filepath.Glob(filepath.Join(dir, "*")) }

// database creates a D1 database and returns its uuid.
func (h *harness) database(name string) string {
	h.t.Helper()
	a := h.do("POST", "accounts/"+account+"/d1/database", map[string]string{"name": name})
	h.want(a, 200, 0)
	var db struct{ UUID string }
	a.result(h.t, &db)
	return db.UUID
}
