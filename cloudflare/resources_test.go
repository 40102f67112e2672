package cloudflare_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// TestEnsure_NoDuplicates (KV-2): creating a namespace, a bucket or a
// database is not idempotent on Cloudflare. Under faults that lose answers
// after the create happened, 100 create-and-retry trials leave exactly one
// resource of each name.
func TestEnsure_NoDuplicates(t *testing.T) {
	e := newEnv(t, envOptions{emu: cfemu.Options{FailRate: 0.3, Seed: 3}, client: cloudflare.Options{Retry: cloudflare.RetryPolicy{MaxAttempts: 20, BudgetCapacity: -1}}})
	ctx := context.Background()
	created := map[string]int{}
	for trial := 0; trial < 100; trial++ {
		name := fmt.Sprintf("res-%d", trial%10)
		ns, c1, err := e.client.EnsureNamespace(ctx, name)
		if err != nil || ns.Title != name {
			t.Fatalf("EnsureNamespace(%s) = %+v, %v", name, ns, err)
		}
		b, c2, err := e.client.EnsureBucket(ctx, name)
		if err != nil || b.Name != name {
			t.Fatalf("EnsureBucket(%s) = %+v, %v", name, b, err)
		}
		db, c3, err := e.client.EnsureDatabase(ctx, name)
		if err != nil || db.Name != name || db.UUID == "" {
			t.Fatalf("EnsureDatabase(%s) = %+v, %v", name, db, err)
		}
		for kind, c := range map[string]bool{"namespace": c1, "bucket": c2, "database": c3} {
			if c {
				created[kind+"/"+name]++
			}
		}
	}
	all, err := e.client.Namespaces(ctx)
	if err != nil {
		t.Fatal(err)
	}
	titles := map[string]int{}
	for _, ns := range all {
		titles[ns.Title]++
	}
	buckets, err := e.client.Buckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]int{}
	for _, b := range buckets {
		names[b.Name]++
	}
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("res-%d", i)
		if titles[name] != 1 || names[name] != 1 {
			t.Errorf("%s: %d namespaces, %d buckets; want exactly 1 each", name, titles[name], names[name])
		}
		if _, err := e.client.Database(ctx, name); err != nil {
			t.Error(err)
		}
		for _, kind := range []string{"namespace", "bucket", "database"} {
			if created[kind+"/"+name] > 1 {
				t.Errorf("%s %s reported created %d times", kind, name, created[kind+"/"+name])
			}
		}
	}
}

// TestEnsure_AdoptsOnConflict: when the lookup misses a resource that the
// create then finds taken (10014 and friends), it is adopted.
func TestEnsure_AdoptsOnConflict(t *testing.T) {
	ctx := context.Background()
	list := `{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"page":1,"per_page":100,"count":0,"total_count":0}}`
	listed := `{"success":true,"errors":[],"messages":[],"result":[{"id":"` + strings.Repeat("c", 32) + `","title":"cfg"}],"result_info":{"page":1,"per_page":100,"count":1,"total_count":1}}`
	empty := `{"success":true,"errors":[],"messages":[],"result":[],"result_info":{"page":2,"per_page":100,"count":0,"total_count":1}}`
	_, c := newScripted(t,
		step{status: 200, body: list},
		step{status: 400, body: `{"success":false,"errors":[{"code":10014,"message":"a namespace with this account ID and title already exists"}]}`},
		step{status: 200, body: listed}, step{status: 200, body: empty})
	ns, created, err := c.EnsureNamespace(ctx, "cfg")
	if err != nil || created || ns.ID != strings.Repeat("c", 32) {
		t.Errorf("EnsureNamespace = %+v, created %v, %v", ns, created, err)
	}
	_, c = newScripted(t, step{status: 200, body: list}, step{status: 400, body: `{"success":false,"errors":[{"code":10020,"message":"other"}]}`})
	if _, _, err := c.EnsureNamespace(ctx, "cfg"); err == nil || !cloudflare.HasCode(err, 10020) {
		t.Errorf("create failing otherwise: %v", err)
	}
	_, c = newScripted(t,
		step{status: 404, body: `{"success":false,"errors":[{"code":10006,"message":"The specified bucket does not exist."}]}`},
		step{status: 400, body: `{"success":false,"errors":[{"code":10004,"message":"exists"}]}`},
		step{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":{"name":"files","location":"ENAM"}}`})
	if b, created, err := c.EnsureBucket(ctx, "files"); err != nil || created || b.Name != "files" {
		t.Errorf("EnsureBucket = %+v, %v, %v", b, created, err)
	}
	_, c = newScripted(t,
		step{status: 200, body: list},
		step{status: 400, body: `{"success":false,"errors":[{"code":7502,"message":"exists"}]}`},
		step{status: 200, body: `{"success":true,"errors":[],"messages":[],"result":[{"uuid":"u-1","name":"db"}],"result_info":{"page":1,"per_page":100,"count":1,"total_count":1}}`})
	if db, created, err := c.EnsureDatabase(ctx, "db"); err != nil || created || db.UUID != "u-1" {
		t.Errorf("EnsureDatabase = %+v, %v, %v", db, created, err)
	}
}

func TestResolveNamespace(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	ns, _, err := e.client.EnsureNamespace(ctx, "quantum-config")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		ref     cloudflare.NamespaceRef
		want    string
		notFind bool
	}{
		{"by id", cloudflare.NamespaceRef{ID: ns.ID}, ns.ID, false},
		{"by id and title", cloudflare.NamespaceRef{ID: ns.ID, Title: "ignored"}, ns.ID, false},
		{"by title", cloudflare.NamespaceRef{Title: "quantum-config"}, ns.ID, false},
		{"unknown id", cloudflare.NamespaceRef{ID: strings.Repeat("0", 32)}, "", true},
		{"unknown title", cloudflare.NamespaceRef{Title: "nope"}, "", true},
	}
	for _, tc := range tests {
		got, err := e.client.ResolveNamespace(ctx, tc.ref)
		if tc.notFind {
			if !errors.Is(err, cloudflare.ErrNotFound) || !strings.Contains(err.Error(), testAccount) {
				t.Errorf("%s: err = %v, want ErrNotFound naming the account", tc.name, err)
			}
			continue
		}
		if err != nil || got.ID != tc.want || got.Title != "quantum-config" {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}
	if _, err := e.client.ResolveNamespace(ctx, cloudflare.NamespaceRef{}); err == nil {
		t.Error("an empty ref resolved")
	}
	if _, err := e.client.ResolveNamespace(ctx, cloudflare.NamespaceRef{ID: "not-hex"}); err == nil || errors.Is(err, cloudflare.ErrNotFound) {
		t.Errorf("malformed id: %v", err)
	}
	if _, err := e.client.Bucket(ctx, "absent"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Errorf("Bucket(absent) = %v", err)
	}
	if _, err := e.client.Database(ctx, "absent"); !errors.Is(err, cloudflare.ErrNotFound) {
		t.Errorf("Database(absent) = %v", err)
	}
	for _, r := range []cloudflare.NamespaceRef{{ID: "a"}, {ID: "a", Title: "t"}, {Title: "t"}} {
		if r.String() == "" {
			t.Error("empty NamespaceRef.String()")
		}
	}
}

func TestClient_NeedsAccount(t *testing.T) {
	c, err := cloudflare.New(cloudflare.Options{Token: "t", BaseURL: "http://127.0.0.1:1/client/v4"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	errs := []error{
		c.KV("x").Put(ctx, "k", nil, kvstore.PutOptions{}),
		func() error { _, err := c.Namespaces(ctx); return err }(),
		func() error { _, err := c.ResolveNamespace(ctx, cloudflare.NamespaceRef{Title: "t"}); return err }(),
		func() error { _, err := c.Bucket(ctx, "b"); return err }(),
		func() error { _, err := c.Buckets(ctx); return err }(),
		func() error { _, err := c.Database(ctx, "d"); return err }(),
	}
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), cloudflare.EnvAccountID) {
			t.Errorf("call %d without an account: %v", i, err)
		}
	}
	for _, o := range []cloudflare.Options{
		{},
		{Token: "has space"},
		{Token: "t", BaseURL: "ftp://x"},
		{Token: "t", BaseURL: "https://user:pw@api.example/client/v4"},
		{Token: "t", BaseURL: "https://api.example/client/v4?token=x"},
	} {
		if _, err := cloudflare.New(o); err == nil || strings.Contains(err.Error(), "pw@") {
			t.Errorf("New(%+v) = %v", o.BaseURL, err)
		}
	}
	c, _ = cloudflare.New(cloudflare.Options{Token: "t", AccountID: testAccount})
	if c.BaseURL() != cloudflare.DefaultBaseURL || c.AccountID() != testAccount || c.Target() != "cloudflare account "+testAccount {
		t.Errorf("defaults: %s %s %s", c.BaseURL(), c.AccountID(), c.Target())
	}
}
