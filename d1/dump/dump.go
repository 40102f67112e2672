// Package dump exports a D1 database as a SQL script and imports such a
// script into an empty database, streaming both ways (through an object
// store for `edgeconf d1 export|import`).
//
// A dump starts with the line Header and ends with the line Trailer;
// Import refuses a stream without the header ("not an edgeconf dump") and
// one whose trailer is missing (truncated). It writes only into a
// database with no tables and, when a statement fails, drops everything
// it created, so a failed import leaves the database as empty as it was.
package dump

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/objstore"
)

// Header is the first line of every dump; Trailer its last.
const (
	Header  = "-- edgeconf d1 dump v1"
	Trailer = "-- end of edgeconf d1 dump"
)

// Page is how many rows Export reads per query, and BatchSize how many
// statements Import sends per transaction.
const (
	Page      = 500
	BatchSize = 200
)

// ErrNotDump is wrapped by Import's error for a stream that is not an
// edgeconf dump, or is truncated.
var ErrNotDump = errors.New("not an edgeconf d1 dump")

// ErrNotEmpty is wrapped by Import's error for a database that already
// has tables.
var ErrNotEmpty = errors.New("the database is not empty")

type object struct {
	typ, name, table, sql string
}

// internal tables: SQLite's own, and those of Cloudflare's runtime.
const userObjects = "sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\'"

func schema(ctx context.Context, db d1.DB) ([]object, error) {
	res, err := db.Query(ctx, "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE "+userObjects+
		" ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, rowid")
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	out := make([]object, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = object{typ: fmt.Sprint(r[0]), name: fmt.Sprint(r[1]), table: fmt.Sprint(r[2]), sql: fmt.Sprint(r[3])}
	}
	return out, nil
}

// Export writes db as a SQL script to w: tables, their rows, then
// indexes, views and triggers.
func Export(ctx context.Context, db d1.DB, w io.Writer) error {
	objs, err := schema(ctx, db)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	fmt.Fprintln(bw, Header)
	for _, o := range objs {
		if o.typ == "table" {
			fmt.Fprintf(bw, "%s;\n", o.sql)
		}
	}
	for _, o := range objs {
		if o.typ != "table" {
			continue
		}
		if err := exportRows(ctx, db, bw, o.name); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if o.typ != "table" {
			fmt.Fprintf(bw, "%s;\n", o.sql)
		}
	}
	fmt.Fprintln(bw, Trailer)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dump: %w", err)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func exportRows(ctx context.Context, db d1.DB, w *bufio.Writer, table string) error {
	head, err := db.Query(ctx, "SELECT * FROM "+quoteIdent(table)+" LIMIT 0")
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	cols := make([]string, len(head.Columns))
	exprs := make([]string, len(head.Columns))
	for i, c := range head.Columns {
		cols[i] = quoteIdent(c)
		// Unary + changes no value but drops the column's declared type,
		// so drivers hand back DATETIME text as stored, not re-formatted.
		exprs[i] = "+" + quoteIdent(c)
	}
	if len(cols) == 0 {
		return nil
	}
	for offset := 0; ; offset += Page {
		res, err := db.Query(ctx, "SELECT "+strings.Join(exprs, ",")+" FROM "+quoteIdent(table)+" LIMIT ? OFFSET ?", Page, offset)
		if err != nil {
			return fmt.Errorf("export %s: %w", table, err)
		}
		for _, row := range res.Rows {
			fmt.Fprintf(w, "INSERT INTO %s (%s) VALUES (", quoteIdent(table), strings.Join(cols, ","))
			for i, v := range row {
				if i > 0 {
					w.WriteByte(',')
				}
				w.WriteString(Literal(v))
			}
			w.WriteString(");\n")
		}
		if len(res.Rows) < Page {
			return nil
		}
	}
}

// Literal renders a value as an SQL literal that reads back as the same
// value and type.
func Literal(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsInf(x, 1):
			return "9e999"
		case math.IsInf(x, -1):
			return "-9e999"
		case math.IsNaN(x):
			return "NULL"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case []byte:
		return "X'" + hex.EncodeToString(x) + "'"
	case string:
		return "'" + strings.ReplaceAll(x, "'", "''") + "'"
	}
	return "'" + strings.ReplaceAll(fmt.Sprint(v), "'", "''") + "'"
}

// tail keeps the last bytes a reader yielded, to find the trailer.
type tail struct {
	r   io.Reader
	buf []byte
}

func (t *tail) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	if len(t.buf) > 256 {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-256:]...)
	}
	return n, err
}

// Stats says what Import did.
type Stats struct {
	Statements int
}

// Import runs the dump read from r against db, which must have no tables.
func Import(ctx context.Context, db d1.DB, r io.Reader) (Stats, error) {
	br := bufio.NewReader(r)
	first, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return Stats{}, fmt.Errorf("read dump: %w", err)
	}
	if strings.TrimRight(first, "\r\n") != Header {
		shown := first
		if len(shown) > 60 {
			shown = shown[:60] + "..."
		}
		return Stats{}, fmt.Errorf("%w: its first line is %q, not %q (make dumps with edgeconf d1 export)", ErrNotDump, strings.TrimSpace(strings.Map(printable, shown)), Header)
	}
	objs, err := schema(ctx, db)
	if err != nil {
		return Stats{}, err
	}
	if len(objs) > 0 {
		return Stats{}, fmt.Errorf("%w: it has %s %q (import only into a new database)", ErrNotEmpty, objs[0].typ, objs[0].name)
	}
	t := &tail{r: br}
	sc := d1.NewScanner(t, d1.MaxStatementBytes)
	var st Stats
	var batch []d1.Statement
	var lines []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := db.Batch(ctx, batch)
		if err != nil {
			var se *d1.SQLError
			line := lines[0]
			if errors.As(err, &se) && se.Statement >= 0 && se.Statement < len(lines) {
				line = lines[se.Statement]
			}
			return fmt.Errorf("dump line %d: %w", line+1, err)
		}
		st.Statements += len(batch)
		batch, lines = batch[:0], lines[:0]
		return nil
	}
	fail := func(err error) (Stats, error) {
		if cerr := clear(context.WithoutCancel(ctx), db); cerr != nil {
			return st, fmt.Errorf("%w (and removing what was imported failed: %v)", err, cerr)
		}
		return Stats{}, fmt.Errorf("%w (nothing imported)", err)
	}
	for sc.Scan() {
		p := sc.Part()
		batch = append(batch, d1.Statement{SQL: p.SQL})
		lines = append(lines, p.Line)
		if len(batch) == BatchSize {
			if err := flush(); err != nil {
				return fail(err)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fail(fmt.Errorf("read dump: %w", err))
	}
	if !bytes.HasSuffix(bytes.TrimRight(t.buf, "\r\n"), []byte(Trailer)) {
		return fail(fmt.Errorf("%w: it does not end with %q (truncated?)", ErrNotDump, Trailer))
	}
	if err := flush(); err != nil {
		return fail(err)
	}
	return st, nil
}

func printable(r rune) rune {
	if r < 0x20 || r == 0x7f {
		return -1
	}
	return r
}

// clear drops every user object, returning db to empty.
func clear(ctx context.Context, db d1.DB) error {
	objs, err := schema(ctx, db)
	if err != nil {
		return err
	}
	var stmts []d1.Statement
	for i := len(objs) - 1; i >= 0; i-- {
		o := objs[i]
		if o.typ == "index" && strings.HasPrefix(o.name, "sqlite_autoindex") {
			continue
		}
		stmts = append(stmts, d1.Statement{SQL: "DROP " + strings.ToUpper(o.typ) + " IF EXISTS " + quoteIdent(o.name)})
	}
	if len(stmts) == 0 {
		return nil
	}
	stmts = append([]d1.Statement{{SQL: "PRAGMA defer_foreign_keys = on"}}, stmts...)
	_, err = db.Batch(ctx, stmts)
	return err
}

// ExportTo streams the dump of db into store at key.
func ExportTo(ctx context.Context, db d1.DB, store objstore.Store, key string) (objstore.ObjectInfo, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(Export(ctx, db, pw)) }()
	info, err := store.Put(ctx, key, pr, -1, objstore.PutOptions{ContentType: "application/sql"})
	pr.CloseWithError(err)
	if err != nil {
		return info, fmt.Errorf("export to %s: %w", key, err)
	}
	return info, nil
}

// ImportFrom streams the dump at key of store into db.
func ImportFrom(ctx context.Context, db d1.DB, store objstore.Store, key string) (Stats, error) {
	body, _, err := store.Get(ctx, key, objstore.GetOptions{})
	if err != nil {
		return Stats{}, fmt.Errorf("import from %s: %w", key, err)
	}
	defer body.Close()
	return Import(ctx, db, body)
}
