package sqlite_test

import (
	"context"
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
