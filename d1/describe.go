package d1

import (
	"context"
	"fmt"
	"strings"
)

// MaxDescribedTables bounds Describe.
const MaxDescribedTables = 200

// Table is a table of a database and how many rows it holds.
type Table struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Describe lists the database's tables (not SQLite's or D1's own) with
// their row counts, at most MaxDescribedTables of them.
func Describe(ctx context.Context, db DB) ([]Table, error) {
	res, err := db.Query(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name LIMIT ?", MaxDescribedTables)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := make([]Table, 0, len(res.Rows))
	for _, r := range res.Rows {
		name := fmt.Sprint(r[0])
		n, err := db.Query(ctx, `SELECT count(*) FROM "`+strings.ReplaceAll(name, `"`, `""`)+`"`)
		if err != nil {
			return nil, fmt.Errorf("count the rows of %s: %w", name, err)
		}
		t := Table{Name: name}
		if len(n.Rows) == 1 {
			switch v := n.Rows[0][0].(type) {
			case int64:
				t.Rows = v
			case float64:
				t.Rows = int64(v)
			}
		}
		out = append(out, t)
	}
	return out, nil
}
