// Package cloudflare_test measures edgeconf's Cloudflare KV client (the
// cloudflare package, with its retry policy in the path of every call)
// against hand-written net/http code doing the same requests,
// both against the cfemu emulator on loopback in the same process. Run it
// with ../cloudflare.sh, which alternates the two and compares medians.
package cloudflare_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

const (
	token   = "bench-token"
	account = "0123456789abcdef0123456789abcdef"
)

var value = bytes.Repeat([]byte("v"), 256)
var metadata = json.RawMessage(`{"setBy":"bench","rev":1}`)

// fixture is an emulator on loopback with one namespace holding key "k".
type fixture struct {
	base string // .../client/v4
	ns   string
	kv   *cloudflare.KV
	hc   *http.Client
}

func newFixture(b testing.TB) *fixture {
	b.Helper()
	emu, err := cfemu.New(cfemu.Options{Token: token, RateLimit: -1, KeyWriteInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	b.Cleanup(func() { srv.Close(); emu.Close() })
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + "/client/v4", Token: token, AccountID: account, HTTPClient: hc,
		Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		b.Fatal(err)
	}
	ns, _, err := c.EnsureNamespace(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	kv := c.KVNamespace(ns)
	if err := kv.Put(context.Background(), "k", value, kvstore.PutOptions{Metadata: metadata}); err != nil {
		b.Fatal(err)
	}
	return &fixture{base: srv.URL + "/client/v4", ns: ns.ID, kv: kv, hc: hc}
}

func (f *fixture) url(kind, key string) string {
	return f.base + "/accounts/" + account + "/storage/kv/namespaces/" + f.ns + "/" + kind + "/" + url.PathEscape(key)
}

// rawGet is what a hand-written client does for a KV read with metadata:
// the value and the metadata, requested together.
func (f *fixture) rawGet(ctx context.Context, key string) (kvstore.Entry, error) {
	var (
		wg    sync.WaitGroup
		md    json.RawMessage
		mdErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url("metadata", key), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := f.hc.Do(req)
		if err != nil {
			mdErr = err
			return
		}
		defer res.Body.Close()
		var env struct {
			Success bool
			Result  json.RawMessage
		}
		if err := json.NewDecoder(res.Body).Decode(&env); err != nil || !env.Success {
			mdErr = fmt.Errorf("metadata: %d %v", res.StatusCode, err)
			return
		}
		md = env.Result
	}()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url("values", key), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := f.hc.Do(req)
	if err != nil {
		wg.Wait()
		return kvstore.Entry{}, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	wg.Wait()
	if err != nil || res.StatusCode != 200 || mdErr != nil {
		return kvstore.Entry{}, fmt.Errorf("get: %d %v %v", res.StatusCode, err, mdErr)
	}
	e := kvstore.Entry{Key: key, Value: b, Metadata: md}
	if h := res.Header.Get("Expiration"); h != "" {
		n, _ := strconv.ParseInt(h, 10, 64)
		e.Expiration = time.Unix(n, 0)
	}
	return e, nil
}

// rawPut writes a value with metadata as multipart, as Put does.
func (f *fixture) rawPut(ctx context.Context, key string, v []byte, md json.RawMessage) error {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormField("value")
	fw.Write(v)
	fw, _ = w.CreateFormField("metadata")
	fw.Write(md)
	w.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, f.url("values", key), &buf)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	res, err := f.hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	var env struct{ Success bool }
	if err := json.NewDecoder(res.Body).Decode(&env); err != nil || !env.Success {
		return fmt.Errorf("put: %d %v", res.StatusCode, err)
	}
	return nil
}

func BenchmarkKVGet(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.kv.Get(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKVGetRawHTTP(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.rawGet(ctx, "k"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKVPut(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := f.kv.Put(ctx, "k", value, kvstore.PutOptions{Metadata: metadata}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKVPutRawHTTP(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := f.rawPut(ctx, "k", value, metadata); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBulkPut50k writes 50,000 keys (5 requests of 10,000) per op
// and reports keys/s.
func BenchmarkBulkPut50k(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	pairs := make([]kvstore.Pair, 50_000)
	for i := range pairs {
		pairs[i] = kvstore.Pair{Key: fmt.Sprintf("bulk/%06d", i), Value: value}
	}
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		if err := f.kv.BulkPut(ctx, pairs, cloudflare.BulkOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pairs)*b.N)/time.Since(start).Seconds(), "keys/s")
}

// TestSameWork checks that both sides read and write the same thing, so
// the comparison is fair.
func TestSameWork(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.rawPut(ctx, "raw", value, metadata); err != nil {
		t.Fatal(err)
	}
	ours, err := f.kv.Get(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := f.rawGet(ctx, "raw")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours.Value, raw.Value) || !bytes.Equal(ours.Metadata, raw.Metadata) || !bytes.Equal(ours.Value, value) {
		t.Errorf("ours %q %s, raw %q %s", ours.Value, ours.Metadata, raw.Value, raw.Metadata)
	}
}
