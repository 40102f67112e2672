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
// than one poll interval (plus the time one resolve takes), the same bound
// as the live updates.
//
// When an entry is only past its poll interval, the first reader to see it
// resolves afresh for everyone while the readers that arrive meanwhile are
// answered from the entry they already had (stale-while-revalidate): under
// load, one request per interval pays for the resolve, not every request
// that arrives during it.
type snapCache struct {
	mu         sync.Mutex // held while resolving an entry nobody may use
	entry      *snapEntry
	gen        uint64 // counts drops: a refresh begun before one is discarded
	refreshing bool   // a reader is resolving a poll-expired entry
}

type snapEntry struct {
	snap    *overrides.Snapshot
	target  string
	lkg     bool           // resolved on the last-known-good copy (KV critical)
	expires time.Time      // the poll interval ends, or sooner an override expires
	expired time.Time      // an override expires: the entry is wrong from then (zero: none)
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
	c.gen++
	c.mu.Unlock()
}

// cached returns the resolved configuration for a read, resolving it when
// the cache holds none that is still good.
func (s *Server) cached(r *http.Request) (*snapEntry, error) {
	lkg := s.o.OpenLKG != nil && s.kvCritical()
	now := s.o.Now()
	c := &s.snaps
	c.mu.Lock()
	e := c.entry
	if e != nil && e.lkg == lkg && now.Before(e.expires) {
		c.mu.Unlock()
		return e, nil
	}
	if e != nil && e.lkg == lkg && (e.expired.IsZero() || now.Before(e.expired)) {
		// Only the poll interval has passed: one reader refreshes, the
		// others keep the entry until it is done.
		if c.refreshing {
			c.mu.Unlock()
			return e, nil
		}
		c.refreshing = true
		gen := c.gen
		c.mu.Unlock()
		fresh, err := s.resolveEntry(r, lkg, now)
		c.mu.Lock()
		c.refreshing = false
		if err == nil && c.gen == gen {
			c.entry = fresh
			c.mu.Unlock()
			return fresh, nil
		}
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		// Dropped while resolving (a change): resolve again, below.
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if e := c.entry; e != nil && e.lkg == lkg && now.Before(e.expires) {
		return e, nil // resolved by the reader this one waited for
	}
	fresh, err := s.resolveEntry(r, lkg, now)
	if err != nil {
		return nil, err
	}
	c.entry = fresh
	return fresh, nil
}

// resolveEntry opens the store, resolves the configuration and makes its
// report.
func (s *Server) resolveEntry(r *http.Request, lkg bool, now time.Time) (*snapEntry, error) {
	ses, err := s.readSession(r)
	if err != nil {
		return nil, err
	}
	defer ses.Close()
	snap, err := ses.Manager.Resolve(r.Context())
	if err != nil {
		return nil, errorf(http.StatusServiceUnavailable, "the configuration cannot be resolved: %v", err)
	}
	expires, expired := now.Add(s.o.Poll), time.Time{}
	for _, rec := range snap.Overrides {
		if !rec.Expiration.IsZero() && (expired.IsZero() || rec.Expiration.Before(expired)) {
			expired = rec.Expiration
		}
	}
	if !expired.IsZero() && expired.Before(expires) {
		expires = expired
	}
	return &snapEntry{snap: snap, target: ses.Target, lkg: lkg, expires: expires, expired: expired,
		report: ses.Manager.Validate(r.Context(), snap, now)}, nil
}
