package d1

import (
	"errors"
	"strings"
	"testing"
)

func TestPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want int
	}{
		{"SELECT 1", 0},
		{"SELECT ?", 1},
		{"SELECT ?, ?", 2},
		{"SELECT ?2, ?", 3},
		{"SELECT ?3, ?1", 3},
		{"SELECT '?', \"?\", `?`, [?], ? -- ?\n", 1},
		{"SELECT /* ? ? */ ?", 1},
		{"SELECT 'it''s ?', ?", 1},
		{"SELECT '12:00', x->>'$.a' FROM t WHERE id = ?", 1},
		{"SELECT :name", -1},
		{"SELECT @name, ?", -1},
		{"SELECT $1", -1},
		{"SELECT 'open", -1},
		{"SELECT /* open", -1},
		{"SELECT 1 -- trailing comment without a newline", 0},
	} {
		if got := Placeholders(tc.sql); got != tc.want {
			t.Errorf("Placeholders(%q) = %d, want %d", tc.sql, got, tc.want)
		}
	}
}

// TestCheck_ParamCount: D1 refuses a parameter count that does not match
// the statement; Check says so before anything is sent.
func TestCheck_ParamCount(t *testing.T) {
	for _, tc := range []struct {
		sql    string
		params []any
		want   string
	}{
		{"SELECT ?", []any{1, 2}, "takes 1 parameter(s), 2 given"},
		{"SELECT ?, ?", []any{1}, "takes 2 parameter(s), 1 given"},
		{"SELECT ?", nil, "takes 1 parameter(s), 0 given"},
	} {
		err := Check([]Statement{{SQL: tc.sql, Params: tc.params}})
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != "ParamCount" || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%q, %v) = %v, want %q", tc.sql, tc.params, err, tc.want)
		}
	}
	if err := Check([]Statement{{SQL: "SELECT ?2, ?1", Params: []any{1, 2}}}); err != nil {
		t.Errorf("a matching count: %v", err)
	}
}

func FuzzPlaceholders(f *testing.F) {
	for _, s := range []string{"SELECT ?", "SELECT '?' -- ?", "SELECT ?99, ?", "/* ? */ :x", "[?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		n := Placeholders(sql)
		if n < -1 || n > max(len(sql), maxVariableNumber) {
			t.Fatalf("Placeholders(%q) = %d", sql, n)
		}
		// Text without a ? has no parameters, or cannot be told.
		if !strings.Contains(sql, "?") && n > 0 {
			t.Fatalf("Placeholders(%q) = %d without a ?", sql, n)
		}
	})
}
