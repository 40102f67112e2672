package cloudflare_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

const (
	testToken   = "cftoken-test-0123456789abcdef"
	testAccount = "0123456789abcdef0123456789abcdef"
)

// fakeClock is a storetest.Clock the client can sleep on: sleeping moves
// it forward, so retries that wait (Retry-After, backoff) take no real time
// and the emulator, on the same clock, sees the time pass.
type fakeClock struct{ *storetest.Clock }

func (f fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		f.Advance(d)
	}
	return nil
}

// env is an emulator behind an httptest server and a client of it.
type env struct {
	emu    *cfemu.Emulator
	srv    *httptest.Server
	client *cloudflare.Client
	clock  fakeClock
}

type envOptions struct {
	emu       cfemu.Options
	client    cloudflare.Options
	realClock bool // emulator and client on time.Now
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	clk := fakeClock{storetest.NewClock()}
	if o.emu.Clock == nil && !o.realClock {
		o.emu.Clock = clk.Now
	}
	if o.emu.RateLimit == 0 {
		o.emu.RateLimit = -1
	}
	if o.emu.Token == "" {
		o.emu.Token = testToken
	}
	emu, err := cfemu.New(o.emu)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() {
		srv.Close()
		emu.Close()
	})
	co := o.client
	co.BaseURL = srv.URL + "/client/v4"
	if co.Token == "" {
		co.Token = testToken
	}
	if co.AccountID == "" {
		co.AccountID = testAccount
	}
	if co.Clock == nil && !o.realClock {
		co.Clock = clk
	}
	if co.Retry.RequestsPerWindow == 0 {
		co.Retry.RequestsPerWindow = -1
	}
	c, err := cloudflare.New(co)
	if err != nil {
		t.Fatal(err)
	}
	return &env{emu: emu, srv: srv, client: c, clock: clk}
}

func (e *env) namespace(t testing.TB, title string) *cloudflare.KV {
	t.Helper()
	ns, _, err := e.client.EnsureNamespace(context.Background(), title)
	if err != nil {
		t.Fatal(err)
	}
	return e.client.KVNamespace(ns)
}

func TestKV_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Harness {
		e := newEnv(t, envOptions{})
		return storetest.Harness{Store: e.namespace(t, "CONFIG"), Advance: e.clock.Advance, Now: e.clock.Now}
	}, storetest.Options{})
}

func TestKV_Model(t *testing.T) {
	// One emulator and namespace, emptied for each rapid run.
	e := newEnv(t, envOptions{})
	kv := e.namespace(t, "model")
	ctx := context.Background()
	storetest.RunModel(t, func(t *testing.T) storetest.Harness {
		page, err := kv.List(ctx, kvstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		keys := make([]string, len(page.Keys))
		for i, k := range page.Keys {
			keys[i] = k.Name
		}
		if err := kv.DeleteMany(ctx, keys); err != nil {
			t.Fatal(err)
		}
		return storetest.Harness{Store: kv, Advance: e.clock.Advance, Now: e.clock.Now}
	})
}

// TestKV_OneWritePerSecondPerKey: the emulator answers 429 (with
// Retry-After: 1) to a second write of a key within a second; the client
// waits and the last value wins.
func TestKV_OneWritePerSecondPerKey(t *testing.T) {
	var attempts atomic.Int64
	e := newEnv(t, envOptions{emu: cfemu.Options{OnRequest: func(ev cfemu.Event) {
		if ev.Method == http.MethodPut && strings.Contains(ev.Path, "/values/") {
			attempts.Add(1)
		}
	}}})
	kv := e.namespace(t, "CONFIG")
	ctx := context.Background()
	start := e.clock.Now()
	for i := 0; i < 3; i++ {
		if err := kv.Put(ctx, "k", []byte(fmt.Sprint(i)), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.clock.Now().Sub(start); got != 2*time.Second {
		t.Errorf("three writes of one key took %v of (fake) time, want 2s", got)
	}
	if attempts.Load() != 5 {
		t.Errorf("%d PUT attempts, want 5 (3 writes, 2 refused with 429)", attempts.Load())
	}
	if e, err := kv.Get(ctx, "k"); err != nil || string(e.Value) != "2" {
		t.Errorf("Get = %q, %v; want the last value", e.Value, err)
	}
}

func TestKV_TargetAndMissingNamespace(t *testing.T) {
	e := newEnv(t, envOptions{})
	kv := e.namespace(t, "quantum-config")
	if got := kv.Target(); !strings.Contains(got, testAccount) || !strings.Contains(got, kv.NamespaceID()) || !strings.Contains(got, "quantum-config") {
		t.Errorf("Target() = %q", got)
	}
	ctx := context.Background()
	gone := e.client.KV(strings.Repeat("a", 32))
	_, err := gone.Get(ctx, "k")
	if err == nil || errors.Is(err, kvstore.ErrNotFound) || !cloudflare.HasCode(err, cloudflare.CodeNamespaceNotFound) {
		t.Errorf("Get in a missing namespace = %v; want a namespace error, not ErrNotFound", err)
	}
	if err := e.client.KV("").Put(ctx, "k", nil, kvstore.PutOptions{}); err == nil || !strings.Contains(err.Error(), cloudflare.EnvNamespaceID) {
		t.Errorf("Put without a namespace id = %v", err)
	}
}

// countingTransport counts the requests that reach the server.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestKV_GetValueIsOneRequest: a value-only read (references, the D1
// cache) costs one request where Get, which also reads the metadata,
// costs two.
func TestKV_GetValueIsOneRequest(t *testing.T) {
	ct := &countingTransport{}
	e := newEnv(t, envOptions{client: cloudflare.Options{HTTPClient: &http.Client{Transport: ct}}})
	kv := e.namespace(t, "CONFIG")
	ctx := context.Background()
	if err := kv.Put(ctx, "k", []byte("v"), kvstore.PutOptions{Metadata: json.RawMessage(`{"rev":1}`)}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		read func() ([]byte, error)
		want int64
	}{
		{"Get", func() ([]byte, error) { en, err := kv.Get(ctx, "k"); return en.Value, err }, 2},
		{"GetValue", func() ([]byte, error) { return kvstore.GetValue(ctx, kv, "k") }, 1},
	} {
		before := ct.n.Load()
		v, err := tc.read()
		if err != nil || string(v) != "v" {
			t.Fatalf("%s = %q, %v", tc.name, v, err)
		}
		if got := ct.n.Load() - before; got != tc.want {
			t.Errorf("%s sent %d requests, want %d", tc.name, got, tc.want)
		}
	}
}

// TestKV_RefusedTokenIsAccessDenied: a wrong token matches
// kvstore.ErrAccessDenied (readers do not ride it out on a saved copy);
// a server error does not.
func TestKV_RefusedTokenIsAccessDenied(t *testing.T) {
	e := newEnv(t, envOptions{})
	ns := e.namespace(t, "CONFIG")
	bad, err := cloudflare.New(cloudflare.Options{BaseURL: e.srv.URL + "/client/v4", Token: "wrong-token-0123456789", AccountID: testAccount,
		Retry: cloudflare.RetryPolicy{RequestsPerWindow: -1}})
	if err != nil {
		t.Fatal(err)
	}
	kv := bad.KVNamespace(cloudflare.Namespace{ID: ns.NamespaceID(), Title: "CONFIG"})
	if _, err := kv.List(context.Background(), kvstore.ListOptions{}); !errors.Is(err, kvstore.ErrAccessDenied) {
		t.Errorf("List with a wrong token = %v, want ErrAccessDenied", err)
	}
	for status, want := range map[int]bool{401: true, 403: true, 404: false, 500: false, 429: false} {
		if got := errors.Is(&cloudflare.APIError{Status: status}, kvstore.ErrAccessDenied); got != want {
			t.Errorf("status %d: access denied = %v", status, got)
		}
	}
}
