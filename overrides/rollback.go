package overrides

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoRevision is returned (wrapped) when a rollback finds nothing to go
// back to: no history for the path, no such revision, or a value the
// audit trail did not keep.
var ErrNoRevision = errors.New("nothing to roll back to")

// RollbackResult says what a rollback did.
type RollbackResult struct {
	Path    string
	Removed bool   // the override was removed: there was none before the change
	Record  Record // the override written, when not Removed
	From    AuditRecord
}

// Rollback undoes changes of path. With toRev 0 it restores the value
// before the latest change (removing the override when the latest change
// created it); with toRev > 0 it restores the value the latest "set" of
// that revision wrote. The value is written with Set, so it is checked
// like any change and audited.
func (m *Manager) Rollback(ctx context.Context, path string, toRev int64, by string) (RollbackResult, error) {
	canon, err := m.o.Doc.CheckPath(path)
	if err != nil {
		canon = path
	}
	hist, err := m.History(ctx, canon)
	if err != nil {
		return RollbackResult{}, err
	}
	res := RollbackResult{Path: canon}
	var value json.RawMessage
	var ref string
	switch {
	case len(hist) == 0:
		return res, fmt.Errorf("%s in %s: no history: %w", canon, EnvName(m.o.Env), ErrNoRevision)
	case toRev == 0:
		last := hist[len(hist)-1]
		res.From = last
		if last.Action == "set" && last.OldHash == "" {
			res.Removed = true
			if err := m.Delete(ctx, canon, by); err != nil && !errors.Is(err, ErrNotFound) {
				return res, err
			}
			return res, nil
		}
		value, ref = last.Old, last.OldRef
	default:
		found := false
		for i := len(hist) - 1; i >= 0 && !found; i-- {
			if h := hist[i]; h.Action == "set" && h.Rev == toRev {
				res.From, value, ref, found = h, h.New, h.Ref, true
			}
		}
		if !found {
			return res, fmt.Errorf("%s in %s: no revision %d in the history: %w", canon, EnvName(m.o.Env), toRev, ErrNoRevision)
		}
	}
	if value == nil && ref == "" {
		return res, fmt.Errorf("%s: the audit record of %s did not keep the value (written by an older edgeconf, or over %d bytes): %w",
			canon, res.From.When, MaxAuditValueBytes, ErrNoRevision)
	}
	var v any
	if ref == "" {
		if err := json.Unmarshal(value, &v); err != nil {
			return res, fmt.Errorf("%s: decode the value of %s: %w", canon, res.From.When, err)
		}
	}
	res.Record, err = m.Set(ctx, canon, v, SetOptions{Ref: ref, By: by})
	return res, err
}
