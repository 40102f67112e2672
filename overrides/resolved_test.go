package overrides_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

// An override set by reference shows the reference and the value it
// resolves to, and is exported with that value, never as null.
func TestReferenceOverride_ListAndExport(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustPut(t, f.store, "premium-users", `["bob@factory-wager.com"]`)
	mustSet(t, f, "features.premium.allowedUsers", nil, overrides.SetOptions{Ref: "kv://CONFIG/premium-users"})
	mustSet(t, f, "features.premium.rolloutPercentage", 30, overrides.SetOptions{})
	recs, err := f.m.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	recs = f.m.WithResolved(ctx, recs)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	ref := recs[0]
	if ref.Ref != "kv://CONFIG/premium-users" || ref.ResolveError != "" {
		t.Fatalf("record = %+v", ref)
	}
	if users, ok := ref.Resolved.([]any); !ok || len(users) != 1 || users[0] != "bob@factory-wager.com" {
		t.Errorf("resolved = %#v", ref.Resolved)
	}
	if recs[1].Resolved != nil {
		t.Errorf("a plain override got a resolved value: %+v", recs[1])
	}
	var buf bytes.Buffer
	if err := f.m.Export(ctx, &buf, overrides.ExportOptions{Format: "wrangler-bulk"}); err != nil {
		t.Fatal(err)
	}
	items, err := kvstore.ReadBulkFile(bytes.NewReader(buf.Bytes()))
	if err != nil || len(items) != 2 {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if v := string(items[0].Value); v != `["bob@factory-wager.com"]` || !strings.Contains(string(items[0].Options.Metadata), "kv://CONFIG/premium-users") {
		t.Errorf("exported %q with metadata %s", v, items[0].Options.Metadata)
	}
	// A reference that no longer resolves says why, and is not exported as null.
	if err := f.store.Delete(ctx, "premium-users"); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(overrides.DefaultRefCacheTTL + time.Second) // past the reference cache
	recs = f.m.WithResolved(ctx, []overrides.Record{ref})
	if recs[0].ResolveError == "" {
		t.Error("a missing referenced key resolved")
	}
	if err := f.m.Export(ctx, &buf, overrides.ExportOptions{Format: "wrangler-bulk"}); err == nil || !strings.Contains(err.Error(), "does not resolve") {
		t.Errorf("export of an unresolvable reference: %v", err)
	}
	recs = f.m.WithResolved(ctx, []overrides.Record{{Path: "x", Metadata: overrides.Metadata{Ref: "s3://bad"}}})
	if recs[0].ResolveError == "" {
		t.Error("a malformed reference resolved")
	}
}

// A finding on a value an override set is located at its KV key.
func TestValidate_OverrideLocation(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	mustSet(t, f, "cloudflare.zoneId", "", overrides.SetOptions{})
	snap, err := f.m.Resolve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range f.m.Validate(ctx, snap, t0).Config {
		for _, fd := range e.Findings {
			if fd.Path == "cloudflare.zoneId" {
				found = true
				if fd.Location != "kv edgeconf/v1/overrides/_base/cloudflare.zoneId" {
					t.Errorf("location %q", fd.Location)
				}
			}
		}
	}
	if !found {
		t.Error("no finding on cloudflare.zoneId")
	}
}
