package overrides_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/overrides"
)

func TestRollback(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	const p = "features.premium.rolloutPercentage"
	step := func() { *f.now = f.now.Add(time.Second) } // distinct audit timestamps
	if _, err := f.m.Rollback(ctx, p, 0, "bob"); !errors.Is(err, overrides.ErrNoRevision) {
		t.Fatalf("rollback without history: %v", err)
	}
	mustSet(t, f, p, 30, overrides.SetOptions{})
	step()
	mustSet(t, f, p, 40, overrides.SetOptions{})
	step()
	mustSet(t, f, p, 50, overrides.SetOptions{})
	step()
	get := func() any {
		t.Helper()
		r, err := f.m.Get(ctx, p)
		if errors.Is(err, overrides.ErrNotFound) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return r.Value
	}
	// Back one change: 50 -> 40.
	res, err := f.m.Rollback(ctx, p, 0, "bob")
	if err != nil || res.Removed || get() != 40.0 || res.Record.SetBy != "bob" {
		t.Fatalf("rollback: %+v, %v, value %v", res, err, get())
	}
	step()
	// To revision 1: 30.
	if _, err := f.m.Rollback(ctx, p, 1, "bob"); err != nil || get() != 30.0 {
		t.Fatalf("rollback --to 1: %v, value %v", err, get())
	}
	step()
	if _, err := f.m.Rollback(ctx, p, 99, "bob"); !errors.Is(err, overrides.ErrNoRevision) || !strings.Contains(err.Error(), "no revision 99") {
		t.Errorf("rollback --to 99: %v", err)
	}
	// A delete is undone too.
	if err := f.m.Delete(ctx, p, "bob"); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := f.m.Rollback(ctx, p, 0, "bob"); err != nil || get() != 30.0 {
		t.Fatalf("rollback of a delete: %v, value %v", err, get())
	}
	step()
	// The first change of a path is undone by removing the override.
	mustSet(t, f, "features.webgl.rolloutPercentage", 5, overrides.SetOptions{})
	step()
	res, err = f.m.Rollback(ctx, "features.webgl.rolloutPercentage", 0, "bob")
	if err != nil || !res.Removed {
		t.Fatalf("rollback of a creation: %+v, %v", res, err)
	}
	if _, err := f.m.Get(ctx, "features.webgl.rolloutPercentage"); !errors.Is(err, overrides.ErrNotFound) {
		t.Errorf("the created override is still there: %v", err)
	}
	// The history shows the values.
	hist, err := f.m.History(ctx, p)
	if err != nil || len(hist) < 4 || string(hist[1].Old) != "30" || string(hist[1].New) != "40" {
		t.Errorf("history: %+v, %v", hist, err)
	}
}

func TestRollback_References(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	const p = "features.premium.allowedUsers"
	mustPut(t, f.store, "premium-users", `["bob@factory-wager.com"]`)
	mustSet(t, f, p, nil, overrides.SetOptions{Ref: "kv://CONFIG/premium-users"})
	*f.now = f.now.Add(time.Second)
	mustSet(t, f, p, []any{"carol@factory-wager.com"}, overrides.SetOptions{})
	*f.now = f.now.Add(time.Second)
	if _, err := f.m.Rollback(ctx, p, 0, "x"); err != nil {
		t.Fatal(err)
	}
	r, err := f.m.Get(ctx, p)
	if err != nil || r.Ref != "kv://CONFIG/premium-users" {
		t.Errorf("rolled back to %+v, %v", r, err)
	}
	// A value the trail did not keep cannot be restored.
	big := `["` + strings.Repeat("a", overrides.MaxAuditValueBytes) + `"]`
	if err := f.store.Put(ctx, overrides.OverrideKey("", "owner"), []byte(big), kvstore.PutOptions{Metadata: []byte(`{"rev":1}`)}); err != nil {
		t.Fatal(err)
	}
	*f.now = f.now.Add(time.Second)
	mustSet(t, f, "owner", "team-b", overrides.SetOptions{})
	*f.now = f.now.Add(time.Second)
	if _, err := f.m.Rollback(ctx, "owner", 0, "x"); !errors.Is(err, overrides.ErrNoRevision) || !strings.Contains(err.Error(), "did not keep") {
		t.Errorf("rollback to an unkept value: %v", err)
	}
}
