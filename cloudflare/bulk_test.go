package cloudflare_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// bulkRecorder wraps the emulator and remembers the keys of every bulk
// write request, in order.
type bulkRecorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs [][]string
}

func (b *bulkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/bulk") {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var items []struct{ Key string }
		if json.Unmarshal(body, &items) == nil {
			keys := make([]string, len(items))
			for i, it := range items {
				keys[i] = it.Key
			}
			b.mu.Lock()
			b.reqs = append(b.reqs, keys)
			b.mu.Unlock()
		}
	}
	b.next.ServeHTTP(w, r)
}

func (b *bulkRecorder) requests() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]string(nil), b.reqs...)
}

// bulkEnv is an emulator behind a bulkRecorder and a client.
func bulkEnv(t testing.TB, emuOpts cfemu.Options, p cloudflare.RetryPolicy) (*bulkRecorder, *cloudflare.KV, string) {
	t.Helper()
	if emuOpts.RateLimit == 0 {
		emuOpts.RateLimit = -1
	}
	emu, err := cfemu.New(emuOpts)
	if err != nil {
		t.Fatal(err)
	}
	rec := &bulkRecorder{next: emu}
	srv := httptest.NewServer(rec)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	if p.BaseDelay == 0 {
		p.BaseDelay, p.MaxDelay = time.Millisecond, 5*time.Millisecond
	}
	p.RequestsPerWindow = -1
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: testToken, AccountID: testAccount, Retry: p})
	if err != nil {
		t.Fatal(err)
	}
	ns, _, err := c.EnsureNamespace(context.Background(), "CONFIG")
	if err != nil {
		t.Fatal(err)
	}
	return rec, c.KVNamespace(ns), srv.URL + "/client/v4"
}

func bulkPairs(n int) []kvstore.Pair {
	pairs := make([]kvstore.Pair, n)
	for i := range pairs {
		pairs[i] = kvstore.Pair{Key: fmt.Sprintf("bulk/%06d", i), Value: []byte(fmt.Sprintf("value-%d", i))}
		if i%7 == 0 {
			pairs[i].Options.Metadata = json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))
		}
		if i%11 == 0 {
			pairs[i].Options.TTL = time.Hour
		}
	}
	return pairs
}

// checkAll lists the namespace and checks it holds exactly pairs.
func checkAll(t *testing.T, kv *cloudflare.KV, pairs []kvstore.Pair) {
	t.Helper()
	ctx := context.Background()
	seen := 0
	cursor := ""
	for {
		page, err := kv.List(ctx, kvstore.ListOptions{Prefix: "bulk/", Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page.Keys {
			if k.Name != pairs[seen].Key {
				t.Fatalf("key %d is %q, want %q", seen, k.Name, pairs[seen].Key)
			}
			if (k.Metadata != nil) != (pairs[seen].Options.Metadata != nil) || (!k.Expiration.IsZero()) != (pairs[seen].Options.TTL != 0) {
				t.Fatalf("%s: metadata %s, expiration %v", k.Name, k.Metadata, k.Expiration)
			}
			seen++
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	if seen != len(pairs) {
		t.Fatalf("namespace holds %d keys, want %d", seen, len(pairs))
	}
	for i := 0; i < len(pairs); i += max(1, len(pairs)/20) {
		e, err := kv.Get(ctx, pairs[i].Key)
		if err != nil || !bytes.Equal(e.Value, pairs[i].Value) {
			t.Fatalf("Get(%s) = %q, %v", pairs[i].Key, e.Value, err)
		}
	}
}

// TestBulkPut_ResendsOnlyUnsuccessful: under faults (whole requests and
// single keys reported in unsuccessful_keys), every pair lands, and a
// re-send carries only the keys that failed.
func TestBulkPut_ResendsOnlyUnsuccessful(t *testing.T) {
	rec, kv, _ := bulkEnv(t, cfemu.Options{FailRate: 0.2, Seed: 7}, cloudflare.RetryPolicy{MaxAttempts: 20})
	pairs := bulkPairs(25_000)
	var progress []int
	if err := kv.BulkPut(context.Background(), pairs, cloudflare.BulkOptions{Progress: func(done, total int) { progress = append(progress, done) }}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(progress) != "[10000 20000 25000]" {
		t.Errorf("progress %v, want three batches", progress)
	}
	reqs := rec.requests()
	full, partial := 0, 0
	for _, r := range reqs {
		switch len(r) {
		case 10_000, 5_000:
			full++
		default:
			partial++
			if len(r) > 3_000 {
				t.Errorf("a re-send of %d keys: more than the ~20%% that failed", len(r))
			}
		}
	}
	if partial == 0 {
		t.Error("no re-send of unsuccessful keys happened; the fault injection did not bite")
	}
	t.Logf("%d bulk requests: %d full batches (including retried ones), %d re-sends of unsuccessful keys", len(reqs), full, partial)
	checkAll(t, kv, pairs)
}

func TestBulkPut_BatchesAndLimits(t *testing.T) {
	rec, kv, _ := bulkEnv(t, cfemu.Options{}, cloudflare.RetryPolicy{})
	ctx := context.Background()
	pairs := bulkPairs(1_000)
	pairs[3].Value = []byte{0xff, 0x00, 0xfe} // binary: sent as base64
	if err := kv.BulkPut(ctx, pairs, cloudflare.BulkOptions{BatchBytes: 4_000}); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.requests() {
		if len(r) > 150 {
			t.Fatalf("a batch of %d pairs under a 4,000-byte cap", len(r))
		}
	}
	if n := len(rec.requests()); n < 10 {
		t.Errorf("%d requests; a 4,000-byte cap should split 1,000 pairs into more", n)
	}
	checkAll(t, kv, pairs)

	before := len(rec.requests())
	bad := append(bulkPairs(3), kvstore.Pair{Key: "..", Value: []byte("v")})
	var le *kvstore.LimitError
	if err := kv.PutMany(ctx, bad); !errors.As(err, &le) || le.Limit != "key-name" {
		t.Errorf("PutMany with a bad key = %v", err)
	}
	if err := kv.PutMany(ctx, []kvstore.Pair{{Key: "t", Value: []byte("v"), Options: kvstore.PutOptions{TTL: 30 * time.Second}}}); !errors.As(err, &le) || le.Limit != "ttl" {
		t.Errorf("PutMany with a 30 s TTL = %v", err)
	}
	if len(rec.requests()) != before {
		t.Error("a refused bulk write sent requests")
	}
	if err := kv.PutMany(ctx, nil); err != nil {
		t.Errorf("PutMany(nil) = %v", err)
	}

	keys := make([]string, len(pairs))
	for i, p := range pairs {
		keys[i] = p.Key
	}
	if err := kv.DeleteMany(ctx, keys); err != nil {
		t.Fatal(err)
	}
	page, err := kv.List(ctx, kvstore.ListOptions{Prefix: "bulk/"})
	if err != nil || len(page.Keys) != 0 {
		t.Errorf("after DeleteMany: %d keys, %v", len(page.Keys), err)
	}
	if err := kv.DeleteMany(ctx, []string{""}); !errors.As(err, &le) {
		t.Errorf("DeleteMany with an empty key = %v", err)
	}
}

// TestBulkPut_GivesUp: keys Cloudflare keeps reporting as unsuccessful
// end in a *BulkError naming them.
func TestBulkPut_GivesUp(t *testing.T) {
	_, c := newScriptedWith(t, cloudflare.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond},
		step{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":{"successful_key_count":2,"unsuccessful_keys":["bulk/000001"]}}`})
	err := c.KV(strings.Repeat("b", 32)).BulkPut(context.Background(), bulkPairs(3), cloudflare.BulkOptions{})
	var be *cloudflare.BulkError
	if !errors.As(err, &be) || be.Batch != 0 || fmt.Sprint(be.Keys) != "[bulk/000001]" || !strings.Contains(err.Error(), "bulk/000001") {
		t.Errorf("err = %v", err)
	}
	many := &cloudflare.BulkError{Keys: []string{"a", "b", "c", "d", "e", "f", "g"}}
	if !strings.Contains(many.Error(), "and 2 more") {
		t.Errorf("BulkError.Error() = %q", many.Error())
	}
}

func TestBulkPut_CheckpointMismatch(t *testing.T) {
	_, kv, _ := bulkEnv(t, cfemu.Options{}, cloudflare.RetryPolicy{})
	ctx := context.Background()
	cp := filepath.Join(t.TempDir(), "bulk.checkpoint")
	if err := os.WriteFile(cp, []byte(`{"version":1,"fingerprint":"other","batches":1,"done":[true]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kv.BulkPut(ctx, bulkPairs(10), cloudflare.BulkOptions{Checkpoint: cp}); err == nil || !strings.Contains(err.Error(), "belongs to a bulk write of other pairs") {
		t.Errorf("foreign checkpoint: %v", err)
	}
	if err := os.WriteFile(cp, []byte(`not json`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kv.BulkPut(ctx, bulkPairs(10), cloudflare.BulkOptions{Checkpoint: cp}); err == nil || !strings.Contains(err.Error(), "remove it to start over") {
		t.Errorf("corrupt checkpoint: %v", err)
	}
	os.Remove(cp)
	if err := kv.BulkPut(ctx, bulkPairs(10), cloudflare.BulkOptions{Checkpoint: cp}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cp); !os.IsNotExist(err) {
		t.Errorf("checkpoint left behind after success: %v", err)
	}
	if err := kv.BulkPut(ctx, bulkPairs(10), cloudflare.BulkOptions{Checkpoint: filepath.Join(t.TempDir(), "missing-dir", "cp")}); err == nil || !strings.Contains(err.Error(), "save checkpoint") {
		t.Errorf("unwritable checkpoint: %v", err)
	}
}

const (
	killPairs     = 6_000
	killBatchSize = 100
)

// TestBulkPut_ResumeAfterSIGKILL runs a bulk write in another process
// (this test binary), kills it with SIGKILL mid-run, and resumes it from
// the checkpoint here: the final state is exact, and no batch the
// checkpoint recorded as written is sent again.
func TestBulkPut_ResumeAfterSIGKILL(t *testing.T) {
	rec, kv, base := bulkEnv(t, cfemu.Options{Latency: 5 * time.Millisecond}, cloudflare.RetryPolicy{})
	cp := filepath.Join(t.TempDir(), "bulk.checkpoint")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperBulkWriter$")
	cmd.Env = append(os.Environ(), "EDGECONF_HELPER_BULK="+base, "EDGECONF_HELPER_NS="+kv.NamespaceID(), "EDGECONF_HELPER_CP="+cp)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "written ")); err == nil && n >= 20*killBatchSize {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // while it sends the next batch
	_ = cmd.Wait()

	b, err := os.ReadFile(cp)
	if err != nil {
		t.Fatalf("no checkpoint after the kill: %v", err)
	}
	var state struct{ Done []bool }
	if err := json.Unmarshal(b, &state); err != nil {
		t.Fatalf("checkpoint %s: %v", b, err)
	}
	doneBefore := 0
	for _, d := range state.Done {
		if d {
			doneBefore++
		}
	}
	sentBefore := len(rec.requests())
	if doneBefore < 20 || doneBefore >= killPairs/killBatchSize {
		t.Fatalf("the kill came after %d of %d batches; want mid-run", doneBefore, killPairs/killBatchSize)
	}

	if err := kv.BulkPut(context.Background(), bulkPairs(killPairs), cloudflare.BulkOptions{Checkpoint: cp, BatchPairs: killBatchSize}); err != nil {
		t.Fatal(err)
	}
	checkAll(t, kv, bulkPairs(killPairs))
	// The killed process's last request may reach the server late, so
	// count distinct batches, not requests.
	resentBatches := map[int]bool{}
	for _, r := range rec.requests()[sentBefore:] {
		first, _ := strconv.Atoi(strings.TrimPrefix(r[0], "bulk/"))
		if state.Done[first/killBatchSize] {
			t.Errorf("batch %d was recorded as written but sent again", first/killBatchSize)
		}
		resentBatches[first/killBatchSize] = true
	}
	resent := len(resentBatches)
	if want := killPairs/killBatchSize - doneBefore; resent != want {
		t.Errorf("the resumed run sent %d batches, want the %d unfinished ones", resent, want)
	}
	t.Logf("killed after %d batches (%d requests seen); resumed with %d batches", doneBefore, sentBefore, resent)
}

// TestHelperBulkWriter is the process TestBulkPut_ResumeAfterSIGKILL kills.
func TestHelperBulkWriter(t *testing.T) {
	base := os.Getenv("EDGECONF_HELPER_BULK")
	if base == "" {
		t.Skip("helper process")
	}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: base, Token: testToken, AccountID: testAccount})
	if err != nil {
		fmt.Println("new:", err)
		os.Exit(1)
	}
	err = c.KV(os.Getenv("EDGECONF_HELPER_NS")).BulkPut(context.Background(), bulkPairs(killPairs), cloudflare.BulkOptions{
		Checkpoint: os.Getenv("EDGECONF_HELPER_CP"),
		BatchPairs: killBatchSize,
		Progress:   func(done, _ int) { fmt.Printf("written %d\n", done) },
	})
	fmt.Println("finished:", err) // not reached when killed in time
	os.Exit(0)
}
