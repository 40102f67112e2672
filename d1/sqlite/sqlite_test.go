package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/d1test"
	"github.com/factory-wager/edgeconf/d1/sqlite"
)

func TestConformance(t *testing.T) {
	d1test.Run(t, d1test.Options{}, func(t *testing.T) d1.DB {
		db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: t.TempDir(), Name: "db"})
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestDescribe(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Options{Dir: t.TempDir(), Name: "describe"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := d1.Exec(ctx, db, `CREATE TABLE a (x); INSERT INTO a VALUES (1), (2); CREATE TABLE "we""ird" (y); CREATE TABLE d1_migrations (id)`); err != nil {
		t.Fatal(err)
	}
	tables, err := d1.Describe(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(tables); got != `[{a 2} {d1_migrations 0} {we"ird 0}]` {
		t.Errorf("tables = %s", got)
	}
}
