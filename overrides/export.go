package overrides

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
)

// exportMetadata is an exported override's metadata; Redacted marks a
// value whose password was replaced (see ExportOptions.IncludeSecrets).
type exportMetadata struct {
	Metadata
	Redacted bool `json:"redacted,omitempty"`
}

// ExportFormats lists the formats Export writes.
var ExportFormats = []string{"wrangler-bulk"}

// ExportOptions configures Export.
type ExportOptions struct {
	Format string // "wrangler-bulk"
	// IncludeSecrets keeps passwords in URL userinfo (config.RedactValue).
	// Without it such values are written with the password replaced by
	// "xxxxx" and "redacted": true in their metadata, so the file is safe
	// to share but restores that value only after it is set again.
	IncludeSecrets bool
}

// Export writes the environment's overrides in o.Format: "wrangler-bulk"
// is a file `wrangler kv bulk put --local` accepts, to seed the sample
// Worker.
func (m *Manager) Export(ctx context.Context, w io.Writer, o ExportOptions) error {
	if o.Format != "wrangler-bulk" {
		return fmt.Errorf("unknown export format %q (want wrangler-bulk)", o.Format)
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
		meta := exportMetadata{Metadata: r.Metadata}
		if !o.IncludeSecrets {
			if red := config.RedactJSON(v); !bytes.Equal(red, v) {
				v, meta.Redacted = red, true
			}
		}
		md, err := json.Marshal(meta)
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
