package overrides

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/factory-wager/edgeconf/kvstore"
)

// ExportFormats lists the formats Export writes.
var ExportFormats = []string{"wrangler-bulk"}

// Export writes the environment's overrides in format: "wrangler-bulk" is
// a file `wrangler kv bulk put --local` accepts, to seed the sample Worker.
func (m *Manager) Export(ctx context.Context, w io.Writer, format string) error {
	if format != "wrangler-bulk" {
		return fmt.Errorf("unknown export format %q (want wrangler-bulk)", format)
	}
	recs, err := m.List(ctx, "")
	if err != nil {
		return err
	}
	// An override set by reference is exported with the value it resolves
	// to now and the reference in its metadata, never as null.
	recs = m.WithResolved(ctx, recs)
	items := make([]kvstore.BulkItem, 0, len(recs))
	for _, r := range recs {
		if r.ResolveError != "" {
			return fmt.Errorf("export %s: %s does not resolve: %s", r.Path, r.Ref, r.ResolveError)
		}
		value := r.Value
		if r.Ref != "" {
			value = r.Resolved
		}
		v, err := json.Marshal(value)
		if err != nil {
			return err
		}
		md, err := json.Marshal(r.Metadata)
		if err != nil {
			return err
		}
		it := kvstore.BulkItem{Key: r.Key, Value: string(v), Metadata: md}
		if !r.Expiration.IsZero() {
			it.Expiration = r.Expiration.Unix()
		}
		items = append(items, it)
	}
	return kvstore.WriteBulkFile(w, items)
}
