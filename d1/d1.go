// Package d1 is edgeconf's SQL interface to Cloudflare D1 databases: one
// statement with positional parameters (Query), several in one
// transaction (Batch), rows as arrays with their column names, and D1's
// meta (rows read and written, duration, last row id, changes).
//
// Two backends implement DB and pass the same conformance suite
// (d1/d1test): d1/sqlite, a local SQLite file per database under the
// state folder, and the Cloudflare REST client (cloudflare.D1), which the
// emulator (cfemu) serves too. Limits D1 enforces are checked here,
// before a statement leaves the process, with the limit named.
package d1

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits of D1 that every backend enforces before running anything.
const (
	// MaxStatementBytes is the longest SQL statement D1 accepts (100 KB).
	MaxStatementBytes = 100_000
	// MaxParams is the number of bound parameters D1 accepts per statement.
	MaxParams = 100
	// MaxBatch is the number of statements this package sends in one batch.
	// D1 documents no count, but a batch must finish in 30 s; 1000 keeps
	// requests small.
	MaxBatch = 1000
	// MaxValueBytes is the largest string or BLOB D1 stores (2 MB).
	MaxValueBytes = 2_000_000
)

// CodeSQL is the Cloudflare error code of a failed SQL statement.
const CodeSQL = 7500

// ErrNotFound is wrapped by errors about a database that does not exist.
var ErrNotFound = errors.New("d1 database not found")

// Statement is one SQL statement and its positional (?, ?NNN) parameters.
// Parameters are nil, string, []byte, bool, or any Go integer or float.
type Statement struct {
	SQL    string
	Params []any
}

// Meta is what D1 reports about one statement.
type Meta struct {
	RowsRead    int64         `json:"rows_read"`
	RowsWritten int64         `json:"rows_written"`
	Duration    time.Duration `json:"-"`
	LastRowID   int64         `json:"last_row_id"`
	Changes     int64         `json:"changes"`
}

// Result is the outcome of one statement: its columns and its rows as
// arrays (raw rows). Values are nil, int64, float64, string or []byte.
type Result struct {
	Columns []string
	Rows    [][]any
	Meta    Meta
}

// Objects returns the rows as column-name → value maps, as D1's query
// endpoint does. A column name used twice keeps the last value.
func (r Result) Objects() []map[string]any {
	out := make([]map[string]any, len(r.Rows))
	for i, row := range r.Rows {
		m := make(map[string]any, len(r.Columns))
		for j, c := range r.Columns {
			if j < len(row) {
				m[c] = row[j]
			}
		}
		out[i] = m
	}
	return out
}

// DB is a D1 database. Implementations are safe for concurrent use.
type DB interface {
	// Query runs one statement. A broken limit is a *LimitError and
	// nothing runs; SQLite refusing the statement is a *SQLError.
	Query(ctx context.Context, sql string, params ...any) (Result, error)
	// Batch runs the statements in one transaction: all of them take
	// effect or none does. It returns one Result per statement. A failure
	// is a *LimitError or *SQLError naming the statement (0-based).
	Batch(ctx context.Context, stmts []Statement) ([]Result, error)
	// Close releases the database.
	Close() error
}

// Namer is implemented by databases that can say where they are, for the
// line commands print.
type Namer interface {
	Target() string
}

// SQLError is SQLite refusing a statement. Code is CodeSQL when
// Cloudflare answered, 0 locally. Statement is the index of the failing
// statement in a batch, or -1 when the server did not say.
type SQLError struct {
	Code      int
	Message   string // SQLite's message, e.g. "no such table: x: SQLITE_ERROR"
	Statement int
}

func (e *SQLError) Error() string {
	msg := e.Message
	if e.Statement >= 0 {
		msg = fmt.Sprintf("statement %d: %s", e.Statement+1, msg)
	}
	if e.Code != 0 {
		msg = fmt.Sprintf("%s (code %d)", msg, e.Code)
	}
	return "d1: " + msg
}

// LimitError is a statement that breaks a D1 limit; nothing was run.
type LimitError struct {
	Limit     string // the limit's name, e.g. "MaxParams"
	Statement int    // index in the batch
	Msg       string
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("d1 %s: statement %d: %s", e.Limit, e.Statement+1, e.Msg)
}

// Check returns a *LimitError for the first statement that breaks a limit
// or has a parameter D1 cannot bind, and normalises parameters in place to
// nil, int64, float64, string or []byte.
func Check(stmts []Statement) error {
	if len(stmts) == 0 {
		return &LimitError{Limit: "Statements", Statement: -1, Msg: "no SQL statement given"}
	}
	if len(stmts) > MaxBatch {
		return &LimitError{Limit: "MaxBatch", Statement: MaxBatch, Msg: fmt.Sprintf("%d statements in one batch is more than %d", len(stmts), MaxBatch)}
	}
	for i := range stmts {
		s := &stmts[i]
		if strings.TrimSpace(s.SQL) == "" {
			return &LimitError{Limit: "Statements", Statement: i, Msg: "empty SQL statement"}
		}
		if len(s.SQL) > MaxStatementBytes {
			return &LimitError{Limit: "MaxStatementBytes", Statement: i, Msg: fmt.Sprintf("%d bytes of SQL is more than %d", len(s.SQL), MaxStatementBytes)}
		}
		if len(s.Params) > MaxParams {
			return &LimitError{Limit: "MaxParams", Statement: i, Msg: fmt.Sprintf("%d bound parameters is more than %d", len(s.Params), MaxParams)}
		}
		// D1 refuses a count that does not match ("Wrong number of
		// parameter bindings"); SQLite alone would ignore extra ones.
		if n := Placeholders(s.SQL); n >= 0 && n != len(s.Params) {
			return &LimitError{Limit: "ParamCount", Statement: i, Msg: fmt.Sprintf("the statement takes %d parameter(s), %d given", n, len(s.Params))}
		}
		for j, p := range s.Params {
			v, err := normalize(p)
			if err != nil {
				return &LimitError{Limit: "ParamType", Statement: i, Msg: fmt.Sprintf("parameter %d: %v", j+1, err)}
			}
			if n := valueLen(v); n > MaxValueBytes {
				return &LimitError{Limit: "MaxValueBytes", Statement: i, Msg: fmt.Sprintf("parameter %d: %d bytes is more than %d", j+1, n, MaxValueBytes)}
			}
			s.Params[j] = v
		}
	}
	return nil
}

func valueLen(v any) int {
	switch v := v.(type) {
	case string:
		return len(v)
	case []byte:
		return len(v)
	}
	return 0
}

func normalize(p any) (any, error) {
	switch v := p.(type) {
	case nil, string, []byte, int64, float64:
		return v, nil
	case bool:
		if v {
			return int64(1), nil
		}
		return int64(0), nil
	case int:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint:
		if uint64(v) > 1<<63-1 {
			return nil, fmt.Errorf("%d does not fit a 64-bit integer", v)
		}
		return int64(v), nil
	case uint64:
		if v > 1<<63-1 {
			return nil, fmt.Errorf("%d does not fit a 64-bit integer", v)
		}
		return int64(v), nil
	case float32:
		return float64(v), nil
	}
	return nil, fmt.Errorf("D1 binds strings, numbers, booleans, bytes and null, not %T", p)
}

// Exec runs a script of statements separated by semicolons in one
// transaction, as `d1 query --file` and migrations do. A failing
// statement's *SQLError is wrapped with its line in the script.
func Exec(ctx context.Context, db DB, script string) ([]Result, error) {
	parts := Split(script)
	if len(parts) == 0 {
		return nil, &LimitError{Limit: "Statements", Statement: -1, Msg: "no SQL statement given"}
	}
	stmts := make([]Statement, len(parts))
	for i, p := range parts {
		stmts[i] = Statement{SQL: p.SQL}
	}
	res, err := db.Batch(ctx, stmts)
	if err != nil {
		return nil, locate(err, parts)
	}
	return res, nil
}

// ScriptError places a failed statement of a script at its line.
type ScriptError struct {
	Line int // 1-based line where the statement starts
	Err  error
}

func (e *ScriptError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *ScriptError) Unwrap() error { return e.Err }

func locate(err error, parts []Part) error {
	var se *SQLError
	var le *LimitError
	i := -1
	switch {
	case errors.As(err, &se):
		i = se.Statement
	case errors.As(err, &le):
		i = le.Statement
	}
	if i >= 0 && i < len(parts) {
		return &ScriptError{Line: parts[i].Line, Err: err}
	}
	return err
}

// Ping runs SELECT 1 and returns how long it took by now (nil means
// time.Now): the monitor's D1 probe (d1.latency_ms).
func Ping(ctx context.Context, db DB, now func() time.Time) (time.Duration, error) {
	if now == nil {
		now = time.Now
	}
	start := now()
	res, err := db.Query(ctx, "SELECT 1")
	if err != nil {
		return 0, fmt.Errorf("d1 ping: %w", err)
	}
	if len(res.Rows) != 1 {
		return 0, fmt.Errorf("d1 ping: SELECT 1 returned %d rows", len(res.Rows))
	}
	return now().Sub(start), nil
}
