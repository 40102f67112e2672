package target

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
)

// counting records the method and path of every request.
type counting struct {
	mu   sync.Mutex
	reqs []string
	next http.RoundTripper
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.reqs = append(c.reqs, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func (c *counting) count(method, suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.reqs {
		if strings.HasPrefix(r, method+" ") && strings.HasSuffix(r, suffix) {
			n++
		}
	}
	return n
}

func remoteKV(t *testing.T) (*KV, *counting) {
	t.Helper()
	emu, err := cfemu.New(cfemu.Options{Token: "bulk-token", Clock: func() time.Time { return testNow }, KeyWriteInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	env := envOf(map[string]string{"CLOUDFLARE_API_BASE_URL": srv.URL + "/client/v4", "CLOUDFLARE_API_TOKEN": "bulk-token", "CLOUDFLARE_ACCOUNT_ID": "0123456789abcdef0123456789abcdef"})
	client, err := cloudflare.New(Credentials(env).Options())
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := client.EnsureNamespace(context.Background(), "bulk")
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{next: http.DefaultTransport}
	k, err := OpenKV(context.Background(), Options{ConfigPath: filepath.Join(t.TempDir(), "c.yaml"), LookupEnv: func(n string) (string, bool) {
		if n == "KV_NAMESPACE_ID" {
			return ns.ID, true
		}
		return env(n)
	}, Remote: true, HTTPClient: &http.Client{Transport: c}}, ConfigBinding)
	if err != nil {
		t.Fatal(err)
	}
	return k, c
}

func pairs(n int) []kvstore.Pair {
	out := make([]kvstore.Pair, n)
	for i := range out {
		out[i] = kvstore.Pair{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}
	}
	return out
}

func TestBulkDelete_RemoteUsesTheBulkAPI(t *testing.T) {
	ctx := context.Background()
	k, c := remoteKV(t)
	if err := BulkPut(ctx, k.Store, pairs(5), BulkOptions{}); err != nil {
		t.Fatal(err)
	}
	var done int
	if err := BulkDelete(ctx, k.Store, []string{"k0", "k1", "k2", "missing"}, func(d, _ int) { done = d }); err != nil {
		t.Fatal(err)
	}
	if n := c.count(http.MethodDelete, "/values/k0"); n != 0 {
		t.Errorf("%d single-key deletes", n)
	}
	if n := c.count(http.MethodPost, "/bulk/delete") + c.count(http.MethodDelete, "/bulk"); n != 1 || done != 4 {
		t.Errorf("%d bulk delete requests, progress %d; requests: %v", n, done, c.reqs)
	}
	if _, err := k.Store.Get(ctx, "k1"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("k1 still there: %v", err)
	}
	if _, err := k.Store.Get(ctx, "k3"); err != nil {
		t.Errorf("k3 gone: %v", err)
	}
}

func TestBulkPut_RemoteResumes(t *testing.T) {
	k, c := remoteKV(t)
	cp := CheckpointPath(t.TempDir(), "CONFIG", "pairs.json")
	ctx, cancel := context.WithCancel(context.Background())
	// The first run stops after its first batch of 2.
	err := BulkPut(ctx, k.Store, pairs(5), BulkOptions{Checkpoint: cp, BatchPairs: 2, Progress: func(int, int) { cancel() }})
	if err == nil {
		t.Fatal("the interrupted write succeeded")
	}
	if _, err := os.Stat(cp); err != nil {
		t.Fatalf("no checkpoint after an interrupted write: %v", err)
	}
	before := c.count(http.MethodPut, "/bulk")
	if err := BulkPut(context.Background(), k.Store, pairs(5), BulkOptions{Checkpoint: cp, BatchPairs: 2, Resume: true}); err != nil {
		t.Fatal(err)
	}
	if n := c.count(http.MethodPut, "/bulk") - before; n != 2 {
		t.Errorf("the resumed write sent %d batches, want 2 of 3", n)
	}
	if _, err := os.Stat(cp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("checkpoint left after success: %v", err)
	}
	for _, p := range pairs(5) {
		if _, err := k.Store.Get(context.Background(), p.Key); err != nil {
			t.Errorf("%s: %v", p.Key, err)
		}
	}
	// Without Resume a stale checkpoint is dropped: every batch is sent.
	if err := os.WriteFile(cp, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	before = c.count(http.MethodPut, "/bulk")
	if err := BulkPut(context.Background(), k.Store, pairs(5), BulkOptions{Checkpoint: cp, BatchPairs: 2}); err != nil {
		t.Fatal(err)
	}
	if n := c.count(http.MethodPut, "/bulk") - before; n != 3 {
		t.Errorf("starting over sent %d batches, want 3", n)
	}
}

func TestBulk_Local(t *testing.T) {
	ctx := context.Background()
	mem := kvstore.NewMemory(func() time.Time { return testNow })
	var got []int
	if err := BulkPut(ctx, mem, pairs(5), BulkOptions{BatchPairs: 2, Progress: func(d, _ int) { got = append(got, d) }}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[2 4 5]" {
		t.Errorf("progress %v", got)
	}
	if err := BulkDelete(ctx, mem, []string{"k0", "nope"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Get(ctx, "k0"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Error("k0 not deleted")
	}
	// A store without PutMany gets one Put per pair; errors name the pair.
	bad := []kvstore.Pair{{Key: "", Value: []byte("v")}}
	if err := BulkPut(ctx, plain{mem}, bad, BulkOptions{}); err == nil || !strings.Contains(err.Error(), "pair 0") {
		t.Errorf("bad pair: %v", err)
	}
	st, err := local.Open(local.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := BulkPut(ctx, st.KV("X"), bad, BulkOptions{}); err == nil || !strings.Contains(err.Error(), "pairs 0..0") {
		t.Errorf("bad batch: %v", err)
	}
	if err := BulkDelete(ctx, plain{mem}, []string{""}, nil); err == nil || !strings.Contains(err.Error(), "key 0") {
		t.Errorf("bad key: %v", err)
	}
	if CheckpointPath("s", "A", "f.json") == CheckpointPath("s", "B", "f.json") {
		t.Error("two bindings share a checkpoint")
	}
}

// plain hides the Memory store's PutMany.
type plain struct{ kvstore.Store }
