package cfemu

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite" // D1 is SQLite
)

// D1 limits the emulator enforces.
const (
	d1MaxStatementBytes = 100_000
	d1MaxParams         = 100
)

type database struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// d1Pool holds the open SQLite databases: files in StateDir/d1, or
// private in-memory databases.
type d1Pool struct {
	dir string

	mu  sync.Mutex
	dbs map[string]*d1DB
}

type d1DB struct {
	mu sync.Mutex // one query (batch) at a time, like a D1 primary
	db *sql.DB
}

func newD1Pool(stateDir string) *d1Pool {
	p := &d1Pool{dbs: map[string]*d1DB{}}
	if stateDir != "" {
		p.dir = filepath.Join(stateDir, "d1")
	}
	return p
}

func (p *d1Pool) path(id string) string { return filepath.Join(p.dir, id+".sqlite") }

func (p *d1Pool) open(id string) (*d1DB, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.dbs[id]; d != nil {
		return d, nil
	}
	dsn := ":memory:"
	if p.dir != "" {
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return nil, fmt.Errorf("d1: %w", err)
		}
		dsn = "file:" + p.path(id) + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("d1 open: %w", err)
	}
	// One connection: an in-memory database lives as long as it does.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := refuseAttach(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("d1 open: %w", err)
	}
	d := &d1DB{db: db}
	p.dbs[id] = d
	return d, nil
}

func (p *d1Pool) drop(id string) error {
	p.mu.Lock()
	d := p.dbs[id]
	delete(p.dbs, id)
	p.mu.Unlock()
	var errs []error
	if d != nil {
		errs = append(errs, d.db.Close())
	}
	if p.dir != "" {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(p.path(id) + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (p *d1Pool) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for id, d := range p.dbs {
		errs = append(errs, d.db.Close())
		delete(p.dbs, id)
	}
	return errors.Join(errs...)
}

func (e *Emulator) d1Routes(rt *router) {
	const d = "accounts/{account_id}/d1/database"
	rt.handle("POST", d, e.createDatabase)
	rt.handle("GET", d, e.listDatabases)
	rt.handle("GET", d+"/{database_id}", e.getDatabase)
	rt.handle("DELETE", d+"/{database_id}", e.deleteDatabase)
	rt.handle("POST", d+"/{database_id}/query", func(c *call) error { return e.queryDatabase(c, false) })
	rt.handle("POST", d+"/{database_id}/raw", func(c *call) error { return e.queryDatabase(c, true) })
}

var dbName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`) })

func dbMissing(id string) *apiErr {
	return fail(http.StatusNotFound, codeD1NotFound, "The database %s could not be found", id)
}

func (e *Emulator) dbJSON(d *database) map[string]any {
	out := map[string]any{
		"uuid": d.UUID, "name": d.Name, "created_at": stamp(d.CreatedAt), "version": "production",
		"num_tables": 0, "file_size": 0, "running_in_region": "ENAM",
	}
	if e.d1.dir != "" {
		if fi, err := os.Stat(e.d1.path(d.UUID)); err == nil {
			out["file_size"] = fi.Size()
		}
	}
	return out
}

func (e *Emulator) createDatabase(c *call) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if !dbName().MatchString(req.Name) {
		return badRequest("database name %q is invalid: use letters, digits, '-' and '_' (at most 64)", req.Name)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.st.account(c.param("account_id"))
	for _, d := range a.Databases {
		if d.Name == req.Name {
			return fail(http.StatusBadRequest, codeD1Exists, "A database with that name already exists")
		}
	}
	d := &database{UUID: newUUID(), Name: req.Name, CreatedAt: c.now}
	a.Databases[d.UUID] = d
	return e.commit(c, e.dbJSON(d))
}

func (e *Emulator) listDatabases(c *call) error {
	name := c.r.URL.Query().Get("name")
	e.mu.Lock()
	var all []map[string]any
	for _, d := range e.st.account(c.param("account_id")).Databases {
		if name == "" || d.Name == name {
			all = append(all, e.dbJSON(d))
		}
	}
	e.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i]["name"].(string) < all[j]["name"].(string) })
	page, info, aerr := paginate(c, all, 100, 10000)
	if aerr != nil {
		return aerr
	}
	return c.okInfo(page, info)
}

func (c *call) database() (*database, *apiErr) {
	d := c.e.st.account(c.param("account_id")).Databases[c.param("database_id")]
	if d == nil {
		return nil, dbMissing(c.param("database_id"))
	}
	return d, nil
}

func (e *Emulator) getDatabase(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, aerr := c.database()
	if aerr != nil {
		return aerr
	}
	return c.ok(e.dbJSON(d))
}

func (e *Emulator) deleteDatabase(c *call) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, aerr := c.database()
	if aerr != nil {
		return aerr
	}
	delete(e.st.account(c.param("account_id")).Databases, d.UUID)
	if err := e.d1.drop(d.UUID); err != nil {
		return err
	}
	return e.commit(c, nil)
}

type d1Statement struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params"`
}

// queryDatabase runs one statement, several joined by ';', or a batch, all
// in one transaction, and answers one result per statement: rows as
// objects (query) or as columns and arrays (raw).
func (e *Emulator) queryDatabase(c *call, raw bool) error {
	var req struct {
		d1Statement
		Batch []d1Statement `json:"batch"`
	}
	if err := c.decodeJSON(&req); err != nil {
		return err
	}
	if len(req.SQL) > d1MaxStatementBytes {
		return fail(http.StatusBadRequest, codeD1Query, "statement too long: %d bytes is more than %d: SQLITE_TOOBIG", len(req.SQL), d1MaxStatementBytes)
	}
	stmts := req.Batch
	if len(stmts) == 0 {
		parts := splitSQL(req.SQL)
		if len(parts) > 1 && len(req.Params) > 0 {
			return fail(http.StatusBadRequest, codeD1Query, "params cannot be bound to several statements; use a batch")
		}
		for _, p := range parts {
			stmts = append(stmts, d1Statement{SQL: p, Params: req.Params})
		}
	}
	if len(stmts) == 0 {
		return fail(http.StatusBadRequest, codeD1Query, "no SQL statement given")
	}
	for _, s := range stmts {
		if len(s.SQL) > d1MaxStatementBytes {
			return fail(http.StatusBadRequest, codeD1Query, "statement too long: %d bytes is more than %d: SQLITE_TOOBIG", len(s.SQL), d1MaxStatementBytes)
		}
		if len(s.Params) > d1MaxParams {
			return fail(http.StatusBadRequest, codeD1Query, "too many SQL variables: %d is more than %d: SQLITE_ERROR", len(s.Params), d1MaxParams)
		}
	}
	e.mu.Lock()
	d, aerr := c.database()
	e.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	db, err := e.d1.open(d.UUID)
	if err != nil {
		return err
	}
	results, err := db.run(c.r.Context(), stmts, raw)
	if err != nil {
		return fail(http.StatusBadRequest, codeD1Query, "%s", sqliteMessage(err))
	}
	for _, r := range results {
		if r.changes > 0 {
			c.applied = true
		}
	}
	out := make([]map[string]any, len(results))
	for i, r := range results {
		out[i] = r.json(raw)
	}
	return c.ok(out)
}

type d1Result struct {
	columns  []string
	rows     [][]any
	changes  int64
	lastID   int64
	duration time.Duration
}

func (r *d1Result) json(raw bool) map[string]any {
	var results any
	if raw {
		rows := r.rows
		if rows == nil {
			rows = [][]any{}
		}
		results = map[string]any{"columns": r.columns, "rows": rows}
	} else {
		objs := make([]map[string]any, len(r.rows))
		for i, row := range r.rows {
			objs[i] = map[string]any{}
			for j, col := range r.columns {
				objs[i][col] = row[j]
			}
		}
		results = objs
	}
	ms := float64(r.duration.Microseconds()) / 1000
	return map[string]any{
		"results": results, "success": true,
		"meta": map[string]any{
			"changed_db": r.changes > 0, "changes": r.changes, "duration": ms, "last_row_id": r.lastID,
			"rows_read": len(r.rows), "rows_written": r.changes, "size_after": 0,
			"served_by_primary": true, "served_by_region": "ENAM", "served_by_colo": "EMU",
			"timings": map[string]any{"sql_duration_ms": ms},
		},
	}
}

func (d *d1DB) run(ctx context.Context, stmts []d1Statement, raw bool) ([]*d1Result, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out []*d1Result
	for _, s := range stmts {
		r, err := runStatement(ctx, tx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, tx.Commit()
}

func runStatement(ctx context.Context, tx *sql.Tx, s d1Statement) (*d1Result, error) {
	args := make([]any, len(s.Params))
	for i, p := range s.Params {
		switch v := p.(type) {
		case float64:
			if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
				args[i] = int64(v)
			} else {
				args[i] = v
			}
		case bool:
			args[i] = map[bool]int64{true: 1, false: 0}[v]
		case string, nil:
			args[i] = v
		default:
			return nil, fmt.Errorf("parameter %d: D1 binds strings, numbers, booleans and null, not %T", i+1, p)
		}
	}
	var before int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes()").Scan(&before); err != nil {
		return nil, err
	}
	start := time.Now()
	rows, err := tx.QueryContext(ctx, s.SQL, args...)
	if err != nil {
		return nil, err
	}
	r := &d1Result{}
	size := 0
	r.columns, err = rows.Columns()
	if err != nil {
		rows.Close()
		return nil, err
	}
	for rows.Next() {
		vals := make([]any, len(r.columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			rows.Close()
			return nil, err
		}
		for i, v := range vals {
			size += valueSize(v)
			if size > MaxD1ResultBytes {
				rows.Close()
				return nil, errResultTooLarge
			}
			if b, ok := v.([]byte); ok {
				if utf8.Valid(b) {
					vals[i] = string(b)
				} else {
					ints := make([]int, len(b))
					for j, c := range b {
						ints[j] = int(c)
					}
					vals[i] = ints
				}
			}
		}
		r.rows = append(r.rows, vals)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	r.duration = time.Since(start)
	var after int64
	if err := tx.QueryRowContext(ctx, "SELECT total_changes(), last_insert_rowid()").Scan(&after, &r.lastID); err != nil {
		return nil, err
	}
	r.changes = after - before
	if r.columns == nil {
		r.columns = []string{}
	}
	return r, nil
}

var sqliteNoise = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^SQL logic error: |\s*\(\d+\)$`) })

// sqliteMessage renders a SQLite error the way D1 does: "no such table: x: SQLITE_ERROR".
func sqliteMessage(err error) string {
	msg := sqliteNoise().ReplaceAllString(err.Error(), "")
	if !strings.Contains(msg, "SQLITE_") {
		msg += ": SQLITE_ERROR"
	}
	return msg
}

// splitSQL splits a script at the semicolons that end statements,
// ignoring those inside quotes and comments, and drops empty statements.
func splitSQL(s string) []string {
	var out []string
	start, code := 0, false // code: the current statement has more than comments
	flush := func(end int) {
		if p := strings.TrimSpace(s[start:end]); p != "" && code {
			out = append(out, p)
		}
		start, code = end+1, false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'' || c == '"' || c == '`' || c == '[':
			q := c
			if q == '[' {
				q = ']'
			}
			for i++; i < len(s) && s[i] != q; i++ {
			}
			code = true
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for ; i < len(s) && s[i] != '\n'; i++ {
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				i = len(s)
			} else {
				i += end + 3
			}
		case c == ';':
			flush(i)
		case c != ' ' && c != '\t' && c != '\n' && c != '\r':
			code = true
		}
	}
	if start < len(s) {
		flush(len(s))
	}
	return out
}

// MaxD1ResultBytes bounds the size of one D1 answer: the values of all the
// rows a request reads, counted as SQLite returns them. A query reading more
// fails with code 7500 naming the limit, instead of building an answer of
// any size in memory.
const MaxD1ResultBytes = 16 << 20

// errResultTooLarge is the error of a query whose rows exceed MaxD1ResultBytes.
var errResultTooLarge = fmt.Errorf("D1 result is larger than the emulator's limit of %d bytes (MaxD1ResultBytes): select fewer rows or columns: SQLITE_TOOBIG", MaxD1ResultBytes)

// refuseAttach makes the database's connection refuse ATTACH and DETACH: a
// D1 database is one file, and ATTACH would let a query create or read any
// file the emulator can reach. The pool keeps its one connection open for
// the database's lifetime, so registering on it covers every query.
func refuseAttach(db *sql.DB) error {
	conn, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		ar, ok := dc.(sqlite.AuthorizerRegisterer)
		if !ok {
			return fmt.Errorf("sqlite connection %T cannot take an authorizer", dc)
		}
		return ar.RegisterAuthorizer(func(action sqlite.AuthorizerActionCode, _, _, _, _ string) sqlite.AuthorizerReturnCode {
			if action == sqlite.AuthAttach || action == sqlite.AuthDetach {
				return sqlite.AuthorizerDeny
			}
			return sqlite.AuthorizerOK
		})
	})
}

// valueSize is how many bytes a scanned SQLite value counts for in
// MaxD1ResultBytes.
func valueSize(v any) int {
	switch v := v.(type) {
	case []byte:
		return len(v)
	case string:
		return len(v)
	}
	return 8
}
