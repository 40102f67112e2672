// Package sqlite is the local backend of d1.DB: one SQLite file per
// database, <Dir>/<name>.sqlite (Dir is the state folder's d1/ folder),
// opened with modernc.org/sqlite in WAL mode.
//
// One writer at a time across processes: every Query and Batch holds an
// exclusive lock on <name>.sqlite.lock for its transaction. A process that
// cannot get it within Options.LockTimeout fails with ErrLocked naming the
// holder (pid, command, since when), as the bbolt state file does.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"

	"github.com/factory-wager/edgeconf/d1"
)

// ErrLocked is wrapped by the error of a call that waited LockTimeout for
// another process's transaction.
var ErrLocked = errors.New("the local d1 database is locked by another process")

// validName is D1's rule for database names: a letter or digit, then up
// to 63 letters, digits, '-' or '_'. (Checked by hand: a bounded regexp
// repetition costs a millisecond of start-up in every edgeconf process.)
func validName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '-' && c != '_')) {
			return false
		}
	}
	return true
}

// Options opens one local database.
type Options struct {
	Dir  string // required: the folder holding the .sqlite files
	Name string // required: the database name (letters, digits, '-', '_'; ≤ 64)
	// MustExist makes Open fail with an error wrapping d1.ErrNotFound
	// when the file does not exist yet; by default Open creates it.
	MustExist   bool
	LockTimeout time.Duration    // optional; 0 means 5 s
	Logger      *slog.Logger     // optional; nil discards
	Now         func() time.Time // optional; nil means time.Now (the owner file's "since")
}

// DB is a local D1 database.
type DB struct {
	path    string
	db      *sql.DB
	lock    *fileLock
	timeout time.Duration
	logger  *slog.Logger
	now     func() time.Time

	mu sync.Mutex // one transaction at a time in this process
}

var _ d1.DB = (*DB)(nil)

// Path returns where the database called name lives under dir.
func Path(dir, name string) string { return filepath.Join(dir, name+".sqlite") }

// Open opens (or creates) the database.
func Open(ctx context.Context, opts Options) (*DB, error) {
	if !validName(opts.Name) {
		return nil, fmt.Errorf("d1 database name %q is invalid: use letters, digits, '-' and '_' (at most 64)", opts.Name)
	}
	if opts.Dir == "" {
		return nil, errors.New("d1 local: a folder is required")
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	path := Path(opts.Dir, opts.Name)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if opts.MustExist {
			return nil, fmt.Errorf("local database %q (%s): %w", opts.Name, path, d1.ErrNotFound)
		}
		if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("d1 local: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	d := &DB{path: path, db: db, lock: &fileLock{path: path + ".lock"}, timeout: opts.LockTimeout, logger: opts.Logger, now: opts.Now}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return d, nil
}

// Target says where the database is.
func (d *DB) Target() string { return "local d1 database " + d.path }

// Path returns the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database.
func (d *DB) Close() error { return d.db.Close() }

// Query implements d1.DB.
func (d *DB) Query(ctx context.Context, query string, params ...any) (d1.Result, error) {
	res, err := d.Batch(ctx, []d1.Statement{{SQL: query, Params: params}})
	if err != nil {
		return d1.Result{}, err
	}
	return res[0], nil
}

// Batch implements d1.DB.
func (d *DB) Batch(ctx context.Context, stmts []d1.Statement) ([]d1.Result, error) {
	stmts = append([]d1.Statement(nil), stmts...)
	for i := range stmts {
		stmts[i].Params = append([]any(nil), stmts[i].Params...)
	}
	if err := d1.Check(stmts); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.lock.acquire(ctx, d.timeout, d.now); err != nil {
		return nil, err
	}
	defer d.lock.release()
	conn, err := d.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("d1 local %s: %w", d.path, err)
	}
	defer conn.Close()
	// BEGIN IMMEDIATE: the write lock is taken up front, so a statement
	// never fails half way for want of it.
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return nil, fmt.Errorf("d1 local %s: begin: %w", d.path, err)
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	out := make([]d1.Result, 0, len(stmts))
	// total_changes() before each statement is the one read after the last.
	var changes int64
	if err := conn.QueryRowContext(ctx, "SELECT total_changes()").Scan(&changes); err != nil {
		return nil, fmt.Errorf("d1 local %s: %w", d.path, err)
	}
	for i, s := range stmts {
		var r d1.Result
		r, changes, err = run(ctx, conn, s, changes)
		if err != nil {
			return nil, sqlError(err, i)
		}
		out = append(out, r)
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		return nil, sqlError(err, len(stmts)-1)
	}
	done = true
	return out, nil
}

// run runs one statement; before is total_changes() before it, and the
// value after it is returned for the next statement.
func run(ctx context.Context, conn *sql.Conn, s d1.Statement, before int64) (d1.Result, int64, error) {
	start := time.Now()
	rows, err := conn.QueryContext(ctx, s.SQL, s.Params...)
	if err != nil {
		return d1.Result{}, 0, err
	}
	r := d1.Result{Rows: [][]any{}}
	r.Columns, err = rows.Columns()
	if err != nil {
		rows.Close()
		return d1.Result{}, 0, err
	}
	for rows.Next() {
		vals := make([]any, len(r.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return d1.Result{}, 0, err
		}
		for i, v := range vals {
			switch x := v.(type) {
			case int:
				vals[i] = int64(x)
			case bool:
				vals[i] = map[bool]int64{false: 0, true: 1}[x]
			case time.Time:
				// The driver parses TEXT of DATE/DATETIME/TIMESTAMP columns;
				// give back SQLite's own form (CURRENT_TIMESTAMP's), as D1 does.
				vals[i] = sqliteTime(x)
			}
		}
		r.Rows = append(r.Rows, vals)
	}
	if err := rows.Close(); err != nil {
		return d1.Result{}, 0, err
	}
	if err := rows.Err(); err != nil {
		return d1.Result{}, 0, err
	}
	r.Meta.Duration = time.Since(start)
	var after int64
	if err := conn.QueryRowContext(ctx, "SELECT total_changes(), last_insert_rowid()").Scan(&after, &r.Meta.LastRowID); err != nil {
		return d1.Result{}, 0, err
	}
	if r.Columns == nil {
		r.Columns = []string{}
	}
	r.Meta.Changes = after - before
	r.Meta.RowsWritten = r.Meta.Changes
	r.Meta.RowsRead = int64(len(r.Rows))
	return r, after, nil
}

// sqlError renders a SQLite error as D1 does: "no such table: x: SQLITE_ERROR".
func sqlError(err error, i int) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("d1 local: statement %d: %w", i+1, err)
	}
	msg := strings.TrimPrefix(se.Error(), "SQL logic error: ")
	// Drop the driver's " (1)" result-code suffix.
	if i := strings.LastIndex(msg, " ("); i >= 0 && strings.HasSuffix(msg, ")") && strings.Trim(msg[i+2:len(msg)-1], "0123456789") == "" {
		msg = msg[:i]
	}
	if !strings.Contains(msg, "SQLITE_") {
		msg += ": SQLITE_ERROR"
	}
	return &d1.SQLError{Message: msg, Statement: i}
}

// owner is who holds the lock, written beside it for the next waiter.
type owner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func describe(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	var o owner
	if json.Unmarshal(b, &o) != nil || o.PID == 0 {
		return ""
	}
	cmd := o.Command
	if len(cmd) > 80 {
		cmd = cmd[:80] + "..."
	}
	return fmt.Sprintf(" by pid %d (%s) since %s", o.PID, cmd, o.Since.Format(time.RFC3339))
}

// sqliteTime formats t as SQLite's date functions write it:
// "2006-01-02 15:04:05", with fractional seconds and an offset only when
// t has them.
func sqliteTime(t time.Time) string {
	s := t.Format("2006-01-02 15:04:05.999999999")
	if _, off := t.Zone(); off != 0 {
		s += t.Format("-07:00")
	}
	return s
}
