package server

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/report"
)

// snapCache keeps the last resolved configuration for reads, so a request
// does not load the file, open the store and resolve every override again.
// An entry is dropped when the server changes an override, when Run sees
// the store change (a change from the CLI or another server), when the
// first of its overrides expires, when the read mode switches (KV critical
// or not), and at the latest after Options.Poll: the configuration file
// itself is read again that often. So a reader never sees a value older
// than one poll interval, the same bound as the live updates.
type snapCache struct {
	mu    sync.Mutex // held while resolving: one resolve at a time
	entry *snapEntry
}

type snapEntry struct {
	snap    *overrides.Snapshot
	target  string
	lkg     bool // resolved on the last-known-good copy (KV critical)
	expires time.Time
	report  *report.Report // its validation report, made while the store was open

	valuesOnce sync.Once
	leaves     []configValue
}

// values are the leaves of the configuration as the API shows them, made
// once per entry.
func (e *snapEntry) values() []configValue {
	e.valuesOnce.Do(func() {
		for _, l := range e.snap.Doc.Leaves("") {
			var v any
			raw, _ := l.Value.MarshalJSON()
			_ = json.Unmarshal(raw, &v)
			e.leaves = append(e.leaves, configValue{Path: l.Path, Value: redacted(v), Source: l.Source, Override: l.Source.Layer == "kv"})
		}
	})
	return e.leaves
}

// drop forgets the cached configuration.
func (c *snapCache) drop() {
	c.mu.Lock()
	c.entry = nil
	c.mu.Unlock()
}

// cached returns the resolved configuration for a read, resolving it when
// the cache holds none that is still good.
func (s *Server) cached(r *http.Request) (*snapEntry, error) {
	lkg := s.o.OpenLKG != nil && s.kvCritical()
	now := s.o.Now()
	c := &s.snaps
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry; e != nil && e.lkg == lkg && now.Before(e.expires) {
		return e, nil
	}
	ses, err := s.readSession(r)
	if err != nil {
		return nil, err
	}
	defer ses.Close()
	snap, err := ses.Manager.Resolve(r.Context())
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "the configuration cannot be resolved: %v", err)
	}
	expires := now.Add(s.o.Poll)
	for _, rec := range snap.Overrides {
		if !rec.Expiration.IsZero() && rec.Expiration.Before(expires) {
			expires = rec.Expiration
		}
	}
	e := &snapEntry{snap: snap, target: ses.Target, lkg: lkg, expires: expires,
		report: ses.Manager.Validate(r.Context(), snap, now)}
	c.entry = e
	return e, nil
}
