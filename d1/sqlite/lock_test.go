//go:build unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/d1"
)

// TestLock_OneWriterAcrossHandles holds the lock through one handle (as
// another process would) and checks the other waits, then fails naming
// the holder, and succeeds once the lock is free.
func TestLock_OneWriterAcrossHandles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, Options{Dir: dir, Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(ctx, Options{Dir: dir, Name: "db", LockTimeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	since := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := a.lock.acquire(ctx, time.Second, func() time.Time { return since }); err != nil {
		t.Fatal(err)
	}
	_, err = b.Query(ctx, "CREATE TABLE t (a)")
	want := fmt.Sprintf("by pid %d", os.Getpid())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "2026-05-01T12:00:00Z") || !strings.Contains(err.Error(), "waited 30ms") {
		t.Fatalf("Query while locked = %v, want ErrLocked naming %s", err, want)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := b.Query(cctx, "SELECT 1"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait = %v", err)
	}
	a.lock.release()
	if _, err := b.Query(ctx, "CREATE TABLE t (a)"); err != nil {
		t.Fatalf("Query after release: %v", err)
	}
}

func TestOpen_Errors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Options{Dir: t.TempDir(), Name: "../x"}); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := Open(ctx, Options{Name: "x"}); err == nil {
		t.Error("no folder accepted")
	}
	dir := t.TempDir()
	if _, err := Open(ctx, Options{Dir: dir, Name: "x", MustExist: true}); !errors.Is(err, d1.ErrNotFound) || !strings.Contains(err.Error(), "x.sqlite") {
		t.Errorf("MustExist on a missing file = %v", err)
	}
	file := dir + "/file"
	os.WriteFile(file, nil, 0o600)
	if _, err := Open(ctx, Options{Dir: file, Name: "x"}); err == nil {
		t.Error("a file as folder accepted")
	}
	if describe(dir+"/nothing") != "" {
		t.Error("describe of a missing owner file")
	}
	os.WriteFile(dir+"/bad.owner", []byte("{"), 0o600)
	if describe(dir+"/bad.owner") != "" {
		t.Error("describe of a bad owner file")
	}
}

func TestTimesComeBackAsStored(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, Options{Dir: t.TempDir(), Name: "db"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := d1.Exec(ctx, db, "CREATE TABLE t (at TIMESTAMP, n BOOLEAN); INSERT INTO t VALUES ('2026-01-02 03:04:05', 1), ('2026-01-02 03:04:05.25', 0), ('2026-01-02 03:04:05+02:00', 1)"); err != nil {
		t.Fatal(err)
	}
	res, err := db.Query(ctx, "SELECT at, n FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"2026-01-02 03:04:05", "2026-01-02 03:04:05.25", "2026-01-02 03:04:05+02:00"} {
		if res.Rows[i][0] != want {
			t.Errorf("row %d = %#v, want %q", i, res.Rows[i][0], want)
		}
		if _, ok := res.Rows[i][1].(int64); !ok {
			t.Errorf("BOOLEAN column = %#v, want int64", res.Rows[i][1])
		}
	}
	if db.Path() == "" || !strings.Contains(db.Target(), "db.sqlite") {
		t.Errorf("Path/Target = %q %q", db.Path(), db.Target())
	}
}
