package d1_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/refs"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string
		want   []d1.Part
	}{
		{"two", "SELECT 1; SELECT 2;", []d1.Part{{"SELECT 1", 1}, {"SELECT 2", 1}}},
		{"no final semicolon", "SELECT 1;\n\nSELECT 2", []d1.Part{{"SELECT 1", 1}, {"SELECT 2", 3}}},
		{"semicolons in quotes", "INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`, [g;h]);", []d1.Part{{"INSERT INTO t VALUES ('a;b', \"c;d\", `e;f`, [g;h])", 1}}},
		{"escaped quote", "SELECT 'it''s; here';", []d1.Part{{"SELECT 'it''s; here'", 1}}},
		{"comments only", "-- a;\n/* b; */\n;;", nil},
		{"comments dropped", "-- head\nSELECT 1 -- tail;\n/* x; */ + 2;", []d1.Part{{"SELECT 1 \n  + 2", 2}}},
		{"multi-line quote counts lines", "SELECT 'a\nb';\nSELECT 3;", []d1.Part{{"SELECT 'a\nb'", 1}, {"SELECT 3", 3}}},
		{"trigger body", "CREATE TRIGGER x AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE v SET a = CASE WHEN 1 THEN 2 END; END;\nSELECT 1;",
			[]d1.Part{{"CREATE TRIGGER x AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE v SET a = CASE WHEN 1 THEN 2 END; END", 1}, {"SELECT 1", 2}}},
		{"temp trigger", "create temp trigger y before delete on t begin select 1; end; select 2",
			[]d1.Part{{"create temp trigger y before delete on t begin select 1; end", 1}, {"select 2", 1}}},
		{"not a trigger", "CREATE TABLE begin_x (a); SELECT 1", []d1.Part{{"CREATE TABLE begin_x (a)", 1}, {"SELECT 1", 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d1.Split(tc.script); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Split(%q) = %#v, want %#v", tc.script, got, tc.want)
			}
		})
	}
}

func TestScanner_Errors(t *testing.T) {
	sc := d1.NewScanner(strings.NewReader("SELECT '"+strings.Repeat("x", 50)+"';"), 20)
	if sc.Scan() {
		t.Fatal("Scan of an over-long statement succeeded")
	}
	var le *d1.LimitError
	if !errors.As(sc.Err(), &le) || le.Limit != "MaxStatementBytes" {
		t.Errorf("Err() = %v, want MaxStatementBytes", sc.Err())
	}
	sc = d1.NewScanner(strings.NewReader("SELECT "+strings.Repeat("x", 50)), 20)
	if sc.Scan() || !errors.As(sc.Err(), &le) {
		t.Errorf("unquoted over-long: %v", sc.Err())
	}
	sc = d1.NewScanner(strings.NewReader("SELECT 1;\nSELECT 'open"), 0)
	if !sc.Scan() || sc.Scan() || sc.Err() == nil || !strings.Contains(sc.Err().Error(), "line 2: unterminated '") {
		t.Errorf("unterminated: %v", sc.Err())
	}
	sc = d1.NewScanner(errReader{}, 0)
	if sc.Scan() || sc.Err() == nil {
		t.Error("read error not reported")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestCheck(t *testing.T) {
	stmts := []d1.Statement{{SQL: "SELECT ?,?,?,?,?,?,?,?,?,?,?,?,?", Params: []any{true, false, 3, int8(1), int16(2), int32(3), uint8(4), uint16(5), uint32(6), uint(7), uint64(8), float32(1.5), []byte("x")}}}
	if err := d1.Check(stmts); err != nil {
		t.Fatal(err)
	}
	want := []any{int64(1), int64(0), int64(3), int64(1), int64(2), int64(3), int64(4), int64(5), int64(6), int64(7), int64(8), 1.5, []byte("x")}
	if !reflect.DeepEqual(stmts[0].Params, want) {
		t.Errorf("normalised = %#v", stmts[0].Params)
	}
	for _, tc := range []struct {
		name  string
		stmts []d1.Statement
		limit string
	}{
		{"none", nil, "Statements"},
		{"blank", []d1.Statement{{SQL: "  "}}, "Statements"},
		{"too many", make([]d1.Statement, d1.MaxBatch+1), "MaxBatch"},
		{"uint64 overflow", []d1.Statement{{SQL: "SELECT ?", Params: []any{uint64(1 << 63)}}}, "ParamType"},
		{"uint overflow", []d1.Statement{{SQL: "SELECT ?", Params: []any{uint(1 << 63)}}}, "ParamType"},
		{"huge value", []d1.Statement{{SQL: "SELECT ?", Params: []any{strings.Repeat("x", d1.MaxValueBytes+1)}}}, "MaxValueBytes"},
		{"huge blob", []d1.Statement{{SQL: "SELECT ?", Params: []any{make([]byte, d1.MaxValueBytes+1)}}}, "MaxValueBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var le *d1.LimitError
			if err := d1.Check(tc.stmts); !errors.As(err, &le) || le.Limit != tc.limit || !strings.Contains(err.Error(), "d1 "+tc.limit) {
				t.Errorf("Check = %v, want %s", err, tc.limit)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&d1.SQLError{Message: "no such table: x: SQLITE_ERROR", Statement: 1}, "d1: statement 2: no such table: x: SQLITE_ERROR"},
		{&d1.SQLError{Code: 7500, Message: "m", Statement: -1}, "d1: m (code 7500)"},
		{&d1.ScriptError{Line: 4, Err: errors.New("e")}, "line 4: e"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestObjects(t *testing.T) {
	r := d1.Result{Columns: []string{"a", "b"}, Rows: [][]any{{int64(1), "x"}, {nil}}}
	got := r.Objects()
	if !reflect.DeepEqual(got, []map[string]any{{"a": int64(1), "b": "x"}, {"a": nil}}) {
		t.Errorf("Objects() = %v", got)
	}
}

// fake answers every statement with rows, or fails.
type fake struct {
	rows [][]any
	err  error
}

func (f *fake) Query(ctx context.Context, sql string, params ...any) (d1.Result, error) {
	res, err := f.Batch(ctx, []d1.Statement{{SQL: sql, Params: params}})
	if err != nil {
		return d1.Result{}, err
	}
	return res[0], nil
}

func (f *fake) Batch(_ context.Context, stmts []d1.Statement) ([]d1.Result, error) {
	if f.err != nil {
		return nil, f.err
	}
	out := make([]d1.Result, len(stmts))
	for i := range out {
		out[i].Rows = f.rows
	}
	return out, nil
}

func (f *fake) Close() error { return nil }

func TestPing(t *testing.T) {
	start := time.Unix(0, 0)
	calls := 0
	now := func() time.Time { calls++; return start.Add(time.Duration(calls) * 7 * time.Millisecond) }
	d, err := d1.Ping(context.Background(), &fake{rows: [][]any{{int64(1)}}}, now)
	if err != nil || d != 7*time.Millisecond {
		t.Errorf("Ping = %v, %v; want 7ms", d, err)
	}
	if _, err := d1.Ping(context.Background(), &fake{err: errors.New("down")}, nil); err == nil || !strings.Contains(err.Error(), "d1 ping: down") {
		t.Errorf("Ping of a failing db = %v", err)
	}
	if _, err := d1.Ping(context.Background(), &fake{}, nil); err == nil {
		t.Error("Ping with no rows succeeded")
	}
}

func TestExec(t *testing.T) {
	ctx := context.Background()
	if _, err := d1.Exec(ctx, &fake{}, "-- nothing"); err == nil {
		t.Error("empty script accepted")
	}
	res, err := d1.Exec(ctx, &fake{}, "SELECT 1;SELECT 2")
	if err != nil || len(res) != 2 {
		t.Errorf("Exec = %v, %v", res, err)
	}
	_, err = d1.Exec(ctx, &fake{err: &d1.LimitError{Limit: "MaxParams", Statement: 1}}, "SELECT 1;\n\nSELECT 2")
	var se *d1.ScriptError
	if !errors.As(err, &se) || se.Line != 3 {
		t.Errorf("Exec limit error = %v, want line 3", err)
	}
	other := errors.New("network")
	if _, err := d1.Exec(ctx, &fake{err: other}, "SELECT 1"); !errors.Is(err, other) || errors.As(err, &se) {
		t.Errorf("Exec other error = %v", err)
	}
}

// FuzzSplit checks the script splitter on any input: it never panics,
// every statement is non-empty, lines only grow, and splitting a
// statement again gives it back.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "CREATE TRIGGER x BEGIN SELECT 1; END;", "'a;b'; -- c\n/* d */", "[x;", "SELECT 'a\nb';"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts := d1.Split(s)
		line := 0
		for _, p := range parts {
			if strings.TrimSpace(p.SQL) == "" {
				t.Fatalf("empty statement from %q", s)
			}
			if p.Line < line || p.Line < 1 {
				t.Fatalf("line %d after %d from %q", p.Line, line, s)
			}
			line = p.Line
		}
	})
}

func TestFetcher(t *testing.T) {
	ctx := context.Background()
	open := func(rows [][]any, err error) *d1.Fetcher {
		return &d1.Fetcher{Open: func(_ context.Context, b string) (d1.DB, error) {
			if b != "DB" {
				return nil, errors.New("no D1 database is bound as " + b)
			}
			return &fake{rows: rows, err: err}, nil
		}}
	}
	ref := func(sql string) refs.Ref { return refs.Ref{Kind: refs.D1, Binding: "DB", SQL: sql} }
	for _, tc := range []struct {
		name string
		f    *d1.Fetcher
		ref  refs.Ref
		want string
		err  string
	}{
		{"string", open([][]any{{"v"}}, nil), ref("SELECT v FROM t"), "v", ""},
		{"int", open([][]any{{int64(42)}}, nil), ref("select 42"), "42", ""},
		{"float", open([][]any{{2.5}}, nil), ref("WITH x AS (SELECT 1) SELECT 2.5"), "2.5", ""},
		{"blob", open([][]any{{[]byte("b")}}, nil), ref("VALUES (1)"), "b", ""},
		{"null", open([][]any{{nil}}, nil), ref("SELECT NULL"), "", "NULL"},
		{"no rows", open([][]any{}, nil), ref("SELECT 1 WHERE 0"), "", "no row"},
		{"write refused", open(nil, nil), ref("DELETE FROM t"), "", "only a read query"},
		{"two statements", open(nil, nil), ref("SELECT 1; DELETE FROM t"), "", "exactly one statement"},
		{"unknown binding", open(nil, nil), refs.Ref{Kind: refs.D1, Binding: "X", SQL: "SELECT 1"}, "", "bound as X"},
		{"query error", open(nil, errors.New("boom")), ref("SELECT 1"), "", "boom"},
		{"wrong kind", open(nil, nil), refs.Ref{Kind: refs.KV, Binding: "DB", Key: "k"}, "", "cannot fetch KV"},
		{"too big", open([][]any{{strings.Repeat("x", d1.MaxRefBytes+1)}}, nil), ref("SELECT 1"), "", "MaxRefBytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.f.Fetch(ctx, tc.ref)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Fetch = %q, %v; want error %q", got, err, tc.err)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
