package cloudflare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	sqld1 "github.com/factory-wager/edgeconf/d1"
)

// maxD1Response bounds the body of a D1 answer: D1 caps a result at
// about 100 MB of rows per query.
const maxD1Response = 128 << 20

// D1 is one D1 database on Cloudflare; it implements d1.DB through the
// raw endpoint (rows as arrays, with their columns), so column order and
// duplicate names survive. Calls go through the client's retry policy:
// a write that timed out after reaching D1 may be retried and so run
// twice, as with every client of the API (see docs/d1.md).
type D1 struct {
	c    *Client
	db   Database
	path string
}

var _ sqld1.DB = (*D1)(nil)

// D1 returns the database db (from Database or EnsureDatabase).
func (c *Client) D1(db Database) *D1 {
	return &D1{c: c, db: db, path: "accounts/" + url.PathEscape(c.accountID) + "/d1/database/" + url.PathEscape(db.UUID) + "/raw"}
}

// OpenD1 looks the database called name up and returns it; a missing
// database is an error wrapping d1.ErrNotFound and ErrNotFound.
func (c *Client) OpenD1(ctx context.Context, name string) (*D1, error) {
	db, err := c.Database(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", sqld1.ErrNotFound, err)
	}
	if err != nil {
		return nil, err
	}
	return c.D1(db), nil
}

// Target says which database and account the client uses.
func (d *D1) Target() string {
	return fmt.Sprintf("d1 database %s (%s) in %s", d.db.Name, d.db.UUID, d.c.Target())
}

// Close implements d1.DB; there is nothing to release.
func (d *D1) Close() error { return nil }

type d1Statement struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params,omitempty"`
}

// Query implements d1.DB.
func (d *D1) Query(ctx context.Context, sql string, params ...any) (sqld1.Result, error) {
	res, err := d.Batch(ctx, []sqld1.Statement{{SQL: sql, Params: params}})
	if err != nil {
		return sqld1.Result{}, err
	}
	return res[0], nil
}

// Batch implements d1.DB: one request whose statements D1 runs in one
// transaction.
func (d *D1) Batch(ctx context.Context, stmts []sqld1.Statement) ([]sqld1.Result, error) {
	if err := d.c.needAccount(); err != nil {
		return nil, err
	}
	stmts = append([]sqld1.Statement(nil), stmts...)
	for i := range stmts {
		stmts[i].Params = append([]any(nil), stmts[i].Params...)
	}
	if err := sqld1.Check(stmts); err != nil {
		return nil, err
	}
	var body any
	wire := make([]d1Statement, len(stmts))
	for i, s := range stmts {
		wire[i] = d1Statement{SQL: s.SQL, Params: wireParams(s.Params)}
	}
	if len(wire) == 1 {
		body = wire[0]
	} else {
		body = map[string]any{"batch": wire}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("d1 %s: %w", d.db.Name, err)
	}
	res, err := d.c.send(ctx, http.MethodPost, d.path, "application/json", b, "application/json")
	if err != nil {
		return nil, d.apiError(err)
	}
	defer res.Body.Close()
	out, err := decodeD1(io.LimitReader(res.Body, maxD1Response+1), len(stmts))
	if err != nil {
		return nil, fmt.Errorf("d1 %s: %w", d.db.Name, err)
	}
	return out, nil
}

// wireParams sends BLOBs as arrays of byte values, as D1 returns them.
func wireParams(ps []any) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		if b, ok := p.([]byte); ok {
			ints := make([]int, len(b))
			for j, c := range b {
				ints[j] = int(c)
			}
			out[i] = ints
			continue
		}
		out[i] = p
	}
	return out
}

func (d *D1) apiError(err error) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("d1 %s: %w", d.db.Name, err)
	}
	switch {
	case ae.HasCode(sqld1.CodeSQL):
		return &sqld1.SQLError{Code: sqld1.CodeSQL, Message: ae.Message, Statement: -1}
	case ae.Status == http.StatusNotFound:
		return fmt.Errorf("d1 database %s (%s): %w: %w", d.db.Name, d.db.UUID, sqld1.ErrNotFound, err)
	}
	return fmt.Errorf("d1 %s: %w", d.db.Name, err)
}

func decodeD1(r io.Reader, n int) ([]sqld1.Result, error) {
	var env struct {
		Success bool `json:"success"`
		Result  []struct {
			Results struct {
				Columns []string            `json:"columns"`
				Rows    [][]json.RawMessage `json:"rows"`
			} `json:"results"`
			Meta struct {
				RowsRead    int64   `json:"rows_read"`
				RowsWritten int64   `json:"rows_written"`
				Duration    float64 `json:"duration"`
				LastRowID   int64   `json:"last_row_id"`
				Changes     int64   `json:"changes"`
			} `json:"meta"`
		} `json:"result"`
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(body) > maxD1Response {
		return nil, fmt.Errorf("answer is larger than %d bytes", maxD1Response)
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode answer: %w", err)
	}
	if len(env.Result) != n {
		return nil, fmt.Errorf("answer has %d results for %d statements", len(env.Result), n)
	}
	out := make([]sqld1.Result, n)
	for i, r := range env.Result {
		res := sqld1.Result{Columns: r.Results.Columns, Rows: make([][]any, len(r.Results.Rows))}
		if res.Columns == nil {
			res.Columns = []string{}
		}
		for j, row := range r.Results.Rows {
			vals := make([]any, len(row))
			for k, raw := range row {
				v, err := d1Value(raw)
				if err != nil {
					return nil, fmt.Errorf("result %d row %d column %d: %w", i+1, j+1, k+1, err)
				}
				vals[k] = v
			}
			res.Rows[j] = vals
		}
		m := r.Meta
		res.Meta = sqld1.Meta{RowsRead: m.RowsRead, RowsWritten: m.RowsWritten, LastRowID: m.LastRowID, Changes: m.Changes,
			Duration: msToDuration(m.Duration)}
		out[i] = res
	}
	return out, nil
}

func msToDuration(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// d1Value turns a JSON value of a row into int64, float64, string, []byte
// (D1 sends BLOBs as arrays of byte values) or nil.
func d1Value(raw json.RawMessage) (any, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, nil
	}
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '[':
		var ints []int
		if err := json.Unmarshal(raw, &ints); err != nil {
			return nil, err
		}
		b := make([]byte, len(ints))
		for i, v := range ints {
			if v < 0 || v > 255 {
				return nil, fmt.Errorf("BLOB byte %d is out of range", v)
			}
			b[i] = byte(v)
		}
		return b, nil
	case 't', 'f':
		var v bool
		err := json.Unmarshal(raw, &v)
		if v {
			return int64(1), err
		}
		return int64(0), err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, err
	}
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	return n.Float64()
}
