package d1

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/factory-wager/edgeconf/refs"
)

// ErrNoRows is wrapped by the error of a d1:// reference whose query
// returned no row.
var ErrNoRows = errors.New("the query returned no row")

// MaxRefBytes bounds the value a d1:// reference resolves to.
const MaxRefBytes = 1 << 20

// Fetcher resolves d1://BINDING?sql=SELECT… references (refs.Resolver.D1)
// to the first column of the first row. Only one read statement runs: a
// reference cannot change the database.
type Fetcher struct {
	// Open returns the database bound as binding; the Fetcher closes it
	// after the query. An unknown binding is an error naming the bound ones.
	Open func(ctx context.Context, binding string) (DB, error)
}

// Fetch implements refs.Fetcher. NULL is an error, as is a value above
// MaxRefBytes; integers and floats come back as their decimal text.
func (f *Fetcher) Fetch(ctx context.Context, r refs.Ref) ([]byte, error) {
	if r.Kind != refs.D1 {
		return nil, fmt.Errorf("d1 fetcher: cannot fetch %s references", strings.ToUpper(r.Kind))
	}
	parts := Split(r.SQL)
	if len(parts) != 1 {
		return nil, fmt.Errorf("a d1:// reference runs exactly one statement, not %d", len(parts))
	}
	if w := strings.ToUpper(firstWord(parts[0].SQL)); w != "SELECT" && w != "WITH" && w != "VALUES" {
		return nil, fmt.Errorf("a d1:// reference runs only a read query (SELECT, WITH or VALUES), not %s", w)
	}
	db, err := f.Open(ctx, r.Binding)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	res, err := db.Query(ctx, parts[0].SQL)
	if err != nil {
		return nil, err
	}
	if len(res.Rows) == 0 || len(res.Rows[0]) == 0 {
		return nil, ErrNoRows
	}
	var out []byte
	switch v := res.Rows[0][0].(type) {
	case nil:
		return nil, fmt.Errorf("the first column of the first row is NULL")
	case string:
		out = []byte(v)
	case []byte:
		out = v
	case int64:
		out = strconv.AppendInt(nil, v, 10)
	case float64:
		out = strconv.AppendFloat(nil, v, 'g', -1, 64)
	default:
		out = fmt.Append(nil, v)
	}
	if len(out) > MaxRefBytes {
		return nil, &LimitError{Limit: "MaxRefBytes", Statement: 0, Msg: fmt.Sprintf("the value is %d bytes, more than %d", len(out), MaxRefBytes)}
	}
	return out, nil
}

func firstWord(s string) string {
	s = strings.TrimLeft(s, " \t\r\n(")
	end := strings.IndexFunc(s, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
	if end < 0 {
		return s
	}
	return s[:end]
}
