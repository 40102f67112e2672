// Package overrides changes configuration without a redeploy: values
// written to Workers KV (or the local store that behaves like it) that sit
// above the file layers — defaults < file < environment < KV override —
// each with provenance, a TTL, a revision, an audit trail and optionally a
// cross-API reference its value comes from.
//
// Layout in the namespace bound as CONFIG (docs/architecture.md):
//
//	edgeconf/v1/overrides/<env>/<dotted.path>   JSON value; metadata {setBy, setAt, rev, ref}
//	edgeconf/v1/audit/<env>/<RFC3339Nano>-<rand> one record per mutation
//	edgeconf/v1/revs/<env>/<dotted.path>        last revision handed out (no TTL)
//
// On a kvstore.Transactor (the local store) every change — the check
// against the other overrides, the revision counter, the audit record and
// the value — is one transaction. Workers KV has no transactions: the
// writes are ordered (counter, audit record, value) so that a value that
// landed always has its audit record, and Set reads back afterwards to
// report a concurrent clash (ConflictError).
//
// <env> is the environment name, or "_base" for the base configuration.
// Overrides apply to their own environment only. Workers KV is eventually
// consistent: a write can take about 60 s to be seen everywhere.
package overrides

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/refs"
	"github.com/factory-wager/edgeconf/report"
)

// Key layout.
const (
	Prefix  = "edgeconf/v1/"
	BaseEnv = "_base" // the <env> of overrides of the base configuration
)

// stampFormat is RFC 3339 with nanoseconds at a fixed width, so that audit
// keys and times sort in time order as text (time.RFC3339Nano trims
// trailing zeros and would not).
const stampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// ErrNotFound is returned (wrapped) for a path with no override.
var ErrNotFound = errors.New("no override")

// EnvName is the <env> element of keys for environment env ("" is the base).
func EnvName(env string) string {
	if env == "" {
		return BaseEnv
	}
	return env
}

// OverrideKey is the KV key of the override of path in env.
func OverrideKey(env, path string) string {
	return Prefix + "overrides/" + EnvName(env) + "/" + path
}

// AuditPrefix is the KV prefix of the audit records of env.
func AuditPrefix(env string) string { return Prefix + "audit/" + EnvName(env) + "/" }

// Metadata is stored with every override (at most 1024 bytes, a KV rule).
type Metadata struct {
	SetBy string `json:"setBy"`
	SetAt string `json:"setAt"` // RFC 3339
	Rev   int64  `json:"rev"`
	Ref   string `json:"ref,omitempty"` // the value comes from this reference at resolve time
}

// Record is one override as stored.
type Record struct {
	Path       string    `json:"path"`
	Value      any       `json:"value"`
	Key        string    `json:"key"`
	Expiration time.Time `json:"expiration,omitzero"`
	Metadata
	// For an override set by reference (Metadata.Ref): the value the
	// reference resolves to now, or why it does not resolve. Filled by
	// WithResolved; the stored Value of such an override is null.
	Resolved     any    `json:"resolved,omitempty"`
	ResolveError string `json:"resolveError,omitempty"`
}

// WithResolved fills Resolved (or ResolveError) of the records set by
// reference and returns recs.
func (m *Manager) WithResolved(ctx context.Context, recs []Record) []Record {
	for i := range recs {
		r := &recs[i]
		if r.Ref == "" {
			continue
		}
		ref, err := refs.Parse(r.Ref)
		if err == nil {
			r.Resolved, err = m.resolveRef(ctx, ref)
		}
		if err != nil {
			r.ResolveError = err.Error()
		}
	}
	return recs
}

// AuditRecord is one mutation of an override.
type AuditRecord struct {
	Action  string `json:"action"` // "set" or "delete"
	Env     string `json:"env"`
	Path    string `json:"path"`
	Who     string `json:"who"`
	When    string `json:"when"` // RFC 3339 with nanoseconds
	Rev     int64  `json:"rev"`
	OldHash string `json:"oldHash,omitempty"` // sha256 of the old JSON value, 16 hex digits; "" when there was none
	NewHash string `json:"newHash,omitempty"` // likewise for the new value; "" for a delete
	Ref     string `json:"ref,omitempty"`
	TTL     string `json:"ttl,omitempty"`
	// The values themselves, so a change can be shown and rolled back:
	// Old (and OldRef, when the old value came from a reference) before
	// the change, New after it. Values over MaxAuditValueBytes keep their
	// hash only.
	Old    json.RawMessage `json:"old,omitempty"`
	OldRef string          `json:"oldRef,omitempty"`
	New    json.RawMessage `json:"new,omitempty"`
}

// MaxAuditValueBytes bounds a value kept in an audit record; larger ones
// keep their hash only and cannot be rolled back to.
const MaxAuditValueBytes = 64 << 10

// keep is b when it fits an audit record, else nil.
func keep(b []byte) json.RawMessage {
	if len(b) == 0 || len(b) > MaxAuditValueBytes || !json.Valid(b) {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

// DefaultRefCacheTTL is how long the default resolver keeps a resolved
// reference: shorter than KV's ~60 s propagation, so caching never hides
// a change for longer than KV itself would.
const DefaultRefCacheTTL = 30 * time.Second

// Options configures a Manager. Store and Doc are required.
type Options struct {
	Store kvstore.Store    // the namespace bound as CONFIG
	Doc   *config.Document // the file layers (loaded with the same Env)
	Env   string           // "" for the base configuration
	By    string           // who is making changes; optional, "" means "unknown"
	Now   func() time.Time // optional; nil means time.Now
	// LKGPath is where the last-known-good effective configuration is
	// kept; optional, "" disables it.
	LKGPath string
	// Resolver resolves cross-API references; optional, nil resolves
	// kv:// references through Store alone (bound as CONFIG), caching
	// values for DefaultRefCacheTTL.
	Resolver *refs.Resolver
	Logger   *slog.Logger // optional; nil discards
}

// Manager reads and writes the overrides of one environment.
type Manager struct {
	o Options
}

// New returns a Manager.
func New(o Options) *Manager {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.By == "" {
		o.By = "unknown"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Resolver == nil {
		store := o.Store
		o.Resolver = &refs.Resolver{
			KV:       func(b string) (kvstore.Store, bool) { return store, b == "CONFIG" },
			CacheTTL: DefaultRefCacheTTL,
			Now:      o.Now,
		}
	}
	return &Manager{o: o}
}

// Target says which store the manager uses.
func (m *Manager) Target() string {
	if n, ok := m.o.Store.(kvstore.Namer); ok {
		return n.Target()
	}
	return "KV store"
}

// RefusedError is returned by Set when the override would break the
// configuration; Findings are the report entries that fail.
type RefusedError struct {
	Path     string
	Findings []report.Finding
}

func (e *RefusedError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  " + f.String()
	}
	return fmt.Sprintf("override %s refused:\n%s", e.Path, strings.Join(lines, "\n"))
}

// SetOptions are the optional parts of Set.
type SetOptions struct {
	TTL time.Duration // 0 means no expiry; otherwise at least 60 s (a KV rule)
	Ref string        // a cross-API reference the value comes from; Value is then ignored
	By  string        // overrides Options.By for this change
}

// Set writes an override of path. It checks the path and the value
// against the schema and the validation rules first: an unknown path, a
// wrong type, or a value that makes the configuration Invalid is refused
// with a *RefusedError and nothing is written; so is one that would make
// it Invalid once an override (this one or another) expires. On a
// kvstore.Transactor (the local store) the check and the writes are one
// transaction, so concurrent writers never lose an update and two clashing
// sets are never both acknowledged. On other stores (Workers KV) the
// overrides are read back after the write, and a configuration made
// Invalid by a concurrent change is reported with a *ConflictError.
// Revisions of a path never repeat, across deletes and expiry.
func (m *Manager) Set(ctx context.Context, path string, value any, so SetOptions) (Record, error) {
	canon, err := m.o.Doc.CheckPath(path)
	if err != nil {
		return Record{}, &RefusedError{Path: path, Findings: []report.Finding{{Severity: report.Invalid, Rule: "override-path", Path: path, Message: err.Error()}}}
	}
	if so.Ref != "" {
		ref, err := refs.Parse(so.Ref)
		if err != nil {
			return Record{}, &RefusedError{Path: canon, Findings: []report.Finding{{Severity: report.Invalid, Rule: "override-ref", Path: canon, Message: err.Error()}}}
		}
		if value, err = m.resolveRef(ctx, ref); err != nil {
			return Record{}, &RefusedError{Path: canon, Findings: []report.Finding{{Severity: report.Invalid, Rule: "override-ref", Path: canon, Message: err.Error()}}}
		}
	}
	by := so.By
	if by == "" {
		by = m.o.By
	}
	stored := value
	if so.Ref != "" {
		stored = nil // resolved again at every Resolve
	}
	body, err := json.Marshal(stored)
	if err != nil {
		return Record{}, fmt.Errorf("encode override %s: %w", canon, err)
	}
	key := OverrideKey(m.o.Env, canon)
	now := m.o.Now().UTC()
	ttl := ""
	if so.TTL > 0 {
		ttl = so.TTL.String()
	}
	var rec Record
	var known map[string]bool
	transactional := m.transactional()
	err = m.transact(ctx, func(tx kvstore.Txn) error {
		// The check reads the overrides in the same transaction as the
		// writes (on a Transactor): two concurrent sets that clash cannot
		// both pass it.
		current, err := m.listTxn(tx)
		if err != nil {
			return err
		}
		if err := m.check(ctx, canon, value, current); err != nil {
			return err
		}
		if err := m.checkExpiries(canon, value, so.TTL, current); err != nil {
			return err
		}
		if !transactional {
			before, _ := m.o.Doc.Apply(toOverrides(current, ""))
			known = invalidSet(config.Validate(before, config.ValidateOptions{Now: m.o.Now()}))
		}
		cur, err := tx.Get(key)
		if err != nil {
			return err
		}
		last, err := lastRev(tx, m.o.Env, canon, cur, transactional)
		if err != nil {
			return err
		}
		md := Metadata{SetBy: by, SetAt: now.Format(time.RFC3339Nano), Rev: last + 1, Ref: so.Ref}
		a := AuditRecord{Action: "set", Path: canon, Who: by, When: now.Format(stampFormat), Rev: md.Rev,
			NewHash: hash(body), Ref: so.Ref, TTL: ttl, New: keep(body)}
		if cur != nil {
			var old Metadata
			_ = json.Unmarshal(cur.Metadata, &old)
			a.OldHash, a.OldRef, a.Old = hash(cur.Value), old.Ref, keep(cur.Value)
		}
		raw, err := json.Marshal(md)
		if err != nil {
			return err
		}
		rec = Record{Path: canon, Value: value, Key: key, Metadata: md}
		if so.TTL > 0 {
			rec.Expiration = now.Add(so.TTL).Truncate(time.Second)
		}
		// Without transactions (Workers KV) the order is what a crash
		// leaves behind: the counter first (a revision is never handed
		// out twice), then the audit record, then the value; so every
		// value that landed has its audit record, and at worst an audit
		// record describes a change that did not land.
		if err := putRev(tx, m.o.Env, canon, md.Rev); err != nil {
			return err
		}
		if err := m.putAudit(tx, a); err != nil {
			return err
		}
		return tx.Put(key, body, kvstore.PutOptions{TTL: so.TTL, Metadata: raw})
	})
	var refused *RefusedError
	if errors.As(err, &refused) {
		return Record{}, err
	}
	if err != nil {
		return Record{}, fmt.Errorf("write override %s to %s: %w", canon, m.Target(), err)
	}
	if !transactional {
		if err := m.recheck(ctx, rec, known); err != nil {
			return rec, err
		}
	}
	m.o.Logger.Info("override set", "env", EnvName(m.o.Env), "path", canon, "rev", rec.Rev, "by", by)
	return rec, nil
}

// check refuses an override that does not fit the schema or that adds an
// Invalid finding to the report of the configuration with the current
// overrides.
func (m *Manager) check(ctx context.Context, path string, value any, current []Record) error {
	base := toOverrides(current, "")
	before, _ := m.o.Doc.Apply(base)
	after, problems := m.o.Doc.Apply(append(toOverrides(current, path), config.Override{Path: path, Value: value, Source: config.Source{Layer: config.LayerKV, Key: OverrideKey(m.o.Env, path)}}))
	var findings []report.Finding
	for _, p := range problems {
		if p.Path == path || strings.HasPrefix(p.Path, path) {
			findings = append(findings, report.Finding{Severity: report.Invalid, Rule: p.Rule, Path: p.Path, Message: p.Message})
		}
	}
	if len(findings) == 0 {
		old := invalidSet(config.Validate(before, config.ValidateOptions{Now: m.o.Now()}))
		findings = m.newInvalid(after, old)
	}
	if len(findings) > 0 {
		return &RefusedError{Path: path, Findings: findings}
	}
	return nil
}

// checkExpiries refuses an override that would leave the configuration
// with a new Invalid finding once some override expires: the effective
// configuration is checked as it will be just after each expiry (of the
// current overrides and of this one, when it has a TTL), with the
// overrides still alive then. So readers never see an invalid set appear
// by itself: ports.main 9000 for an hour, then ports.dashboard 8091, is
// refused, because after the hour both would be 8091.
func (m *Manager) checkExpiries(path string, value any, ttl time.Duration, current []Record) error {
	self := Record{Path: path, Value: value, Key: OverrideKey(m.o.Env, path)}
	if ttl > 0 {
		self.Expiration = m.o.Now().Add(ttl).Truncate(time.Second) // as the store keeps it
	}
	return m.checkFuture(path, current, append(without(current, path), self), "")
}

// without is recs less the override of path.
func without(recs []Record, path string) []Record {
	out := make([]Record, 0, len(recs)+1)
	for _, r := range recs {
		if r.Path != path {
			out = append(out, r)
		}
	}
	return out
}

// checkFuture compares the configuration with the current overrides to
// the one with the overrides after a change of path: right after it (when
// now names the change, e.g. "once path is deleted") and just after each
// expiry of an override in after. A finding Invalid then but not now
// refuses the change with a *RefusedError that says when it would appear.
func (m *Manager) checkFuture(path string, current, after []Record, now string) error {
	clock := m.o.Now()
	base, _ := m.o.Doc.Apply(toOverrides(current, ""))
	known := invalidSet(config.Validate(base, config.ValidateOptions{Now: clock}))
	type moment struct {
		at   time.Time
		what string
	}
	var moments []moment
	if now != "" {
		moments = append(moments, moment{clock, now})
	}
	var exps []time.Time
	for _, r := range after {
		if !r.Expiration.IsZero() {
			exps = append(exps, r.Expiration)
		}
	}
	sort.Slice(exps, func(i, j int) bool { return exps[i].Before(exps[j]) })
	// One validation per distinct expiry time: overrides that expire
	// together are gone together.
	exps = slices.CompactFunc(exps, time.Time.Equal)
	for _, t := range exps {
		var gone []string
		for _, r := range after {
			if !r.Expiration.IsZero() && r.Expiration.Equal(t) {
				gone = append(gone, r.Path)
			}
		}
		verb := "expires"
		if len(gone) > 1 {
			verb = "expire"
		}
		moments = append(moments, moment{t, fmt.Sprintf("once %s %s at %s", strings.Join(gone, ", "), verb, t.UTC().Format(time.RFC3339))})
	}
	for _, mo := range moments {
		var alive []Record
		for _, r := range after {
			if r.Expiration.IsZero() || r.Expiration.After(mo.at) {
				alive = append(alive, r)
			}
		}
		doc, _ := m.o.Doc.Apply(toOverrides(alive, ""))
		var findings []report.Finding
		for _, e := range config.Validate(doc, config.ValidateOptions{Now: clock}).Config {
			for _, f := range e.Findings {
				if f.Severity == report.Invalid && !known[f.Path+"\x00"+f.Message] {
					f.Message += " (" + mo.what + ")"
					findings = append(findings, f)
				}
			}
		}
		if len(findings) > 0 {
			return &RefusedError{Path: path, Findings: findings}
		}
	}
	return nil
}

func invalidSet(r *report.Report) map[string]bool {
	set := map[string]bool{}
	for _, e := range r.Config {
		for _, f := range e.Findings {
			if f.Severity == report.Invalid {
				set[f.Path+"\x00"+f.Message] = true
			}
		}
	}
	return set
}

// toOverrides converts records, leaving out path.
func toOverrides(recs []Record, skip string) []config.Override {
	var out []config.Override
	for _, r := range recs {
		if r.Path == skip || r.Value == nil {
			continue
		}
		out = append(out, r.Override())
	}
	return out
}

// Override converts a record into a config layer value.
func (r Record) Override() config.Override {
	src := config.Source{Layer: config.LayerKV, Key: r.Key, SetBy: r.SetBy, SetAt: r.SetAt, Ref: r.Ref}
	if !r.Expiration.IsZero() {
		src.ExpiresAt = r.Expiration.UTC().Format(time.RFC3339)
	}
	return config.Override{Path: r.Path, Value: r.Value, Source: src}
}

// RevKey is the KV key of the revision counter of path in env: the last
// revision handed out, kept without a TTL so that revisions never repeat
// for a path, across deletes and expiry.
func RevKey(env, path string) string { return Prefix + "revs/" + EnvName(env) + "/" + path }

// lastRev is the last revision of path: its counter, or the current
// override's revision when that is higher (written before the counter
// existed). With no counter yet and audit true, the audit records of the
// path count too, so a path whose override was deleted or expired before
// counters existed does not start again at 1; that scan reads every audit
// record of the environment once per path, so it is only made on stores
// with transactions (local), never against the Cloudflare API's rate limit.
func lastRev(tx kvstore.Txn, env, path string, cur *kvstore.Entry, audit bool) (int64, error) {
	var last int64
	key := RevKey(env, path)
	c, err := tx.Get(key)
	if err != nil {
		return 0, err
	}
	if c != nil {
		if err := json.Unmarshal(c.Value, &last); err != nil {
			return 0, fmt.Errorf("revision counter %s holds %.40q, not a number: %w", key, c.Value, err)
		}
	}
	if cur != nil {
		var md Metadata
		_ = json.Unmarshal(cur.Metadata, &md)
		last = max(last, md.Rev)
	}
	if c == nil && audit {
		recs, err := tx.List(AuditPrefix(env))
		if err != nil {
			return 0, fmt.Errorf("read the audit records of %s: %w", path, err)
		}
		for _, e := range recs {
			var a AuditRecord
			if json.Unmarshal(e.Value, &a) == nil && a.Path == path {
				last = max(last, a.Rev)
			}
		}
	}
	return last, nil
}

func putRev(tx kvstore.Txn, env, path string, rev int64) error {
	return tx.Put(RevKey(env, path), []byte(fmt.Sprint(rev)), kvstore.PutOptions{})
}

// transactional reports a store with transactions (kvstore.Transactor).
func (m *Manager) transactional() bool {
	_, ok := m.o.Store.(kvstore.Transactor)
	return ok
}

// transact runs fn in one transaction when the store has them (the local
// store: value, audit record and revision counter land together or not
// at all), else with each write going straight to the store in the order
// fn makes them.
func (m *Manager) transact(ctx context.Context, fn func(kvstore.Txn) error) error {
	if t, ok := m.o.Store.(kvstore.Transactor); ok {
		return t.Transact(ctx, fn)
	}
	return fn(directTxn{ctx: ctx, s: m.o.Store})
}

// directTxn writes straight to a store without transactions.
type directTxn struct {
	ctx context.Context
	s   kvstore.Store
}

func (d directTxn) Get(key string) (*kvstore.Entry, error) {
	e, err := d.s.Get(d.ctx, key)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (d directTxn) Put(key string, value []byte, opts kvstore.PutOptions) error {
	return d.s.Put(d.ctx, key, value, opts)
}

func (d directTxn) Delete(key string) error { return d.s.Delete(d.ctx, key) }

func (d directTxn) List(prefix string) ([]kvstore.Entry, error) {
	var out []kvstore.Entry
	cursor := ""
	for {
		page, err := d.s.List(d.ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, k := range page.Keys {
			e, err := d.Get(k.Name)
			if err != nil {
				return nil, err
			}
			if e != nil { // nil: expired or deleted since the listing
				out = append(out, *e)
			}
		}
		if page.Cursor == "" {
			return out, nil
		}
		cursor = page.Cursor
	}
}

// listTxn is List of every override of the environment, read in tx.
func (m *Manager) listTxn(tx kvstore.Txn) ([]Record, error) {
	base := OverrideKey(m.o.Env, "")
	entries, err := tx.List(base)
	if err != nil {
		return nil, fmt.Errorf("list overrides in %s: %w", m.Target(), err)
	}
	out := make([]Record, 0, len(entries))
	for _, e := range entries {
		r, err := decodeRecord(strings.TrimPrefix(e.Key, base), e.Key, e.Value, e.Metadata, e.Expiration)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ConflictError is returned by Set on a store without transactions
// (Workers KV) when the override was written but reading the overrides
// back afterwards finds the configuration Invalid: another writer made a
// clashing change at the same time. Both changes are stored and audited;
// one of them has to be changed or deleted.
type ConflictError struct {
	Record   Record // the override written
	Findings []report.Finding
}

func (e *ConflictError) Error() string {
	lines := make([]string, len(e.Findings))
	for i, f := range e.Findings {
		lines[i] = "  " + f.String()
	}
	return fmt.Sprintf("override %s written (rev %d), but a concurrent change leaves the configuration invalid; change or delete one of the clashing overrides:\n%s",
		e.Record.Path, e.Record.Rev, strings.Join(lines, "\n"))
}

// recheck reads the overrides back after a write to a store without
// transactions and returns a *ConflictError when the effective
// configuration has an Invalid finding that was not there before (known).
// Workers KV is eventually consistent, so this catches a concurrent
// clashing write only once it is visible where edgeconf reads: it narrows
// the window, it does not close it.
func (m *Manager) recheck(ctx context.Context, rec Record, known map[string]bool) error {
	current, err := m.List(ctx, "")
	if err != nil {
		return fmt.Errorf("override %s written (rev %d); reading the overrides back failed: %w", rec.Path, rec.Rev, err)
	}
	doc, _ := m.o.Doc.Apply(toOverrides(current, ""))
	if findings := m.newInvalid(doc, known); len(findings) > 0 {
		return &ConflictError{Record: rec, Findings: findings}
	}
	return nil
}

// putAudit writes audit record a in tx.
func (m *Manager) putAudit(tx kvstore.Txn, a AuditRecord) error {
	a.Env = EnvName(m.o.Env)
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	key := AuditPrefix(m.o.Env) + a.When + "-" + hex.EncodeToString(nonce[:])
	if err := tx.Put(key, body, kvstore.PutOptions{}); err != nil {
		return fmt.Errorf("write audit record for %s: %w", a.Path, err)
	}
	return nil
}

func hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Get returns the override of path. It returns an error wrapping
// ErrNotFound when there is none.
func (m *Manager) Get(ctx context.Context, path string) (Record, error) {
	canon, err := m.o.Doc.CheckPath(path)
	if err != nil {
		canon = path // an override of a path the file no longer has can still be read
	}
	e, err := m.o.Store.Get(ctx, OverrideKey(m.o.Env, canon))
	if errors.Is(err, kvstore.ErrNotFound) {
		return Record{}, fmt.Errorf("%s in %s: %w", canon, EnvName(m.o.Env), ErrNotFound)
	}
	if err != nil {
		return Record{}, fmt.Errorf("read override %s: %w", canon, err)
	}
	return decodeRecord(canon, e.Key, e.Value, e.Metadata, e.Expiration)
}

func decodeRecord(path, key string, value, md []byte, exp time.Time) (Record, error) {
	r := Record{Path: path, Key: key, Expiration: exp}
	if err := json.Unmarshal(value, &r.Value); err != nil {
		return Record{}, fmt.Errorf("override %s holds no JSON value: %w", key, err)
	}
	if len(md) > 0 {
		if err := json.Unmarshal(md, &r.Metadata); err != nil {
			return Record{}, fmt.Errorf("override %s has bad metadata: %w", key, err)
		}
	}
	return r, nil
}

// List returns the overrides whose path starts with prefix, sorted by path.
func (m *Manager) List(ctx context.Context, prefix string) ([]Record, error) {
	base := OverrideKey(m.o.Env, "")
	var out []Record
	cursor := ""
	for {
		page, err := m.o.Store.List(ctx, kvstore.ListOptions{Prefix: base + prefix, Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list overrides in %s: %w", m.Target(), err)
		}
		for _, k := range page.Keys {
			e, err := m.o.Store.Get(ctx, k.Name)
			if errors.Is(err, kvstore.ErrNotFound) {
				continue // expired or deleted since the listing
			}
			if err != nil {
				return nil, fmt.Errorf("read override %s: %w", k.Name, err)
			}
			r, err := decodeRecord(strings.TrimPrefix(k.Name, base), k.Name, e.Value, e.Metadata, e.Expiration)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Delete removes the override of path and records it in the audit trail.
// It returns an error wrapping ErrNotFound when there is none. A delete
// that would make the configuration Invalid (now, or once another
// override expires) is refused with a *RefusedError, as Set refuses such
// a value. On a kvstore.Transactor the check, the audit record, the
// revision counter and the delete are one transaction.
func (m *Manager) Delete(ctx context.Context, path string, by string) error {
	canon, err := m.o.Doc.CheckPath(path)
	if err != nil {
		canon = path // an override of a path the file no longer has can still be deleted
	}
	if by == "" {
		by = m.o.By
	}
	key := OverrideKey(m.o.Env, canon)
	err = m.transact(ctx, func(tx kvstore.Txn) error {
		cur, err := tx.Get(key)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("%s in %s: %w", canon, EnvName(m.o.Env), ErrNotFound)
		}
		rec, err := decodeRecord(canon, key, cur.Value, cur.Metadata, cur.Expiration)
		if err != nil {
			return err
		}
		current, err := m.listTxn(tx)
		if err != nil {
			return err
		}
		if err := m.checkFuture(canon, current, without(current, canon), "once "+canon+" is deleted"); err != nil {
			return err
		}
		// Keep the counter at least at the deleted revision (an override
		// written before counters existed), so the next set goes past it.
		last, err := lastRev(tx, m.o.Env, canon, cur, m.transactional())
		if err != nil {
			return err
		}
		if err := putRev(tx, m.o.Env, canon, last); err != nil {
			return err
		}
		old, _ := json.Marshal(rec.Value)
		a := AuditRecord{Action: "delete", Path: canon, Who: by, When: m.o.Now().UTC().Format(stampFormat), Rev: rec.Rev,
			OldHash: hash(old), Old: keep(old), OldRef: rec.Ref}
		if err := m.putAudit(tx, a); err != nil {
			return err
		}
		return tx.Delete(key)
	})
	var refused *RefusedError
	if errors.Is(err, ErrNotFound) || errors.As(err, &refused) {
		return err
	}
	if err != nil {
		return fmt.Errorf("delete override %s from %s: %w", canon, m.Target(), err)
	}
	return nil
}

// History returns the audit records of path ("" for every path), oldest first.
func (m *Manager) History(ctx context.Context, path string) ([]AuditRecord, error) {
	var out []AuditRecord
	cursor := ""
	for {
		page, err := m.o.Store.List(ctx, kvstore.ListOptions{Prefix: AuditPrefix(m.o.Env), Cursor: cursor})
		if err != nil {
			return nil, fmt.Errorf("list audit records in %s: %w", m.Target(), err)
		}
		for _, k := range page.Keys {
			e, err := m.o.Store.Get(ctx, k.Name)
			if errors.Is(err, kvstore.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("read audit record %s: %w", k.Name, err)
			}
			var a AuditRecord
			if err := json.Unmarshal(e.Value, &a); err != nil {
				return nil, fmt.Errorf("audit record %s: %w", k.Name, err)
			}
			if path == "" || a.Path == path {
				out = append(out, a)
			}
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	// Keys sort by time already; records of one instant by revision.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].When != out[j].When {
			return out[i].When < out[j].When
		}
		return out[i].Rev < out[j].Rev
	})
	return out, nil
}

// resolveRef reads a reference and decodes its value: JSON when it
// parses, otherwise the text itself.
func (m *Manager) resolveRef(ctx context.Context, r refs.Ref) (any, error) {
	res, err := m.o.Resolver.Resolve(ctx, r)
	if err != nil {
		return nil, err
	}
	var v any
	if json.Unmarshal(res.Value, &v) == nil {
		return v, nil
	}
	return strings.TrimSpace(string(res.Value)), nil
}

// newInvalid returns doc's Invalid findings that known (an invalidSet)
// does not hold.
func (m *Manager) newInvalid(doc *config.Document, known map[string]bool) []report.Finding {
	var findings []report.Finding
	for _, e := range config.Validate(doc, config.ValidateOptions{Now: m.o.Now()}).Config {
		for _, f := range e.Findings {
			if f.Severity == report.Invalid && !known[f.Path+"\x00"+f.Message] {
				findings = append(findings, f)
			}
		}
	}
	return findings
}
