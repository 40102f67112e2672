package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/d1/migrate"
	"github.com/factory-wager/edgeconf/flags"
	"github.com/factory-wager/edgeconf/overrides"
	"github.com/factory-wager/edgeconf/report"
)

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"role": c.role, "mutations": s.MutationsEnabled() && c.role == Admin,
		"mutationsEnabled": s.MutationsEnabled(), "env": s.o.Env, "monitor": s.o.Monitor != nil,
	})
	return nil
}

// snapshot is the effective configuration for a read (the last-known-good
// copy when the store cannot be read, or while KV is critical), from the
// server's cache (snapcache.go).
func (s *Server) snapshot(r *http.Request) (*overrides.Snapshot, string, error) {
	e, err := s.cached(r)
	if err != nil {
		return nil, "", err
	}
	return e.snap, e.target, nil
}

// configValue is one leaf of the effective configuration.
type configValue struct {
	Path     string        `json:"path"`
	Value    any           `json:"value"`
	Source   config.Source `json:"source"`
	Override bool          `json:"override"`
}

func (s *Server) getConfig(w http.ResponseWriter, r *http.Request) error {
	e, err := s.cached(r)
	if err != nil {
		return err
	}
	snap := e.snap
	out := map[string]any{"env": s.o.Env, "target": e.target, "source": snap.Source, "values": e.values(), "problems": len(snap.Problems)}
	if snap.Source == overrides.SourceLKG {
		out["lkgSavedAt"] = snap.SavedAt
		out["lkgAgeSeconds"] = int(snap.Age(s.o.Now()).Seconds())
		out["storeError"] = fmt.Sprint(snap.StoreErr)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// kvCritical reports whether the monitor says KV is critical.
func (s *Server) kvCritical() bool {
	if s.o.Monitor == nil {
		return false
	}
	for _, name := range s.o.Monitor.Critical() {
		if name == "kv" {
			return true
		}
	}
	return false
}

// readSession is the store for a read: the last-known-good copy while KV
// is critical.
func (s *Server) readSession(r *http.Request) (*Session, error) {
	if s.o.OpenLKG != nil && s.kvCritical() {
		ses, err := s.o.OpenLKG(r.Context())
		if err != nil {
			return nil, errorf(http.StatusServiceUnavailable, "KV is critical and the last-known-good copy cannot be read: %v", err)
		}
		return ses, nil
	}
	return s.session(r, false)
}

func (s *Server) getReport(w http.ResponseWriter, r *http.Request) error {
	e, err := s.cached(r)
	if err != nil {
		return err
	}
	rep := e.report
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return report.Write(w, rep, report.JSON, report.WriteOptions{})
}

func (s *Server) getFlags(w http.ResponseWriter, r *http.Request) error {
	snap, _, err := s.snapshot(r)
	if err != nil {
		return err
	}
	rows := flags.List(snap.Doc.Config.Features, func(name string) string {
		src := snap.Doc.Source("features." + name)
		if src.Layer == "kv" {
			return "kv override"
		}
		return src.Pos.String()
	})
	writeJSON(w, http.StatusOK, rows)
	return nil
}

func (s *Server) evalFlag(w http.ResponseWriter, r *http.Request) error {
	user := r.URL.Query().Get("user")
	if user == "" || len(user) > 256 {
		return errorf(http.StatusBadRequest, "give ?user=ID (1 to 256 characters)")
	}
	snap, _, err := s.snapshot(r)
	if err != nil {
		return err
	}
	ev, err := flags.Eval(snap.Doc.Config.Features, r.PathValue("name"), user)
	if err != nil {
		return errorf(http.StatusNotFound, "%v", err)
	}
	writeJSON(w, http.StatusOK, ev)
	return nil
}

func (s *Server) simulateFlag(w http.ResponseWriter, r *http.Request) error {
	users := 10_000
	if q := r.URL.Query().Get("users"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 1 || n > maxSimulateUsers {
			return errorf(http.StatusBadRequest, "users is 1 to %d", maxSimulateUsers)
		}
		users = n
	}
	snap, _, err := s.snapshot(r)
	if err != nil {
		return err
	}
	f, err := flags.Lookup(snap.Doc.Config.Features, r.PathValue("name"))
	if err != nil {
		return errorf(http.StatusNotFound, "%v", err)
	}
	writeJSON(w, http.StatusOK, flags.Simulate(r.PathValue("name"), f, users, nil))
	return nil
}

// overrideView is an override as the API shows it.
type overrideView struct {
	overrides.Record
	ExpiresIn int `json:"expiresInSeconds,omitempty"`
}

func (s *Server) view(rec overrides.Record) overrideView {
	rec.Value, rec.Resolved = redacted(rec.Value), redacted(rec.Resolved)
	v := overrideView{Record: rec}
	if !rec.Expiration.IsZero() {
		v.ExpiresIn = max(int(rec.Expiration.Sub(s.o.Now()).Seconds()), 0)
	}
	return v
}

func (s *Server) listOverrides(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, false)
	if err != nil {
		return err
	}
	defer ses.Close()
	recs, err := ses.Manager.List(r.Context(), "")
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "list overrides: %v", err)
	}
	recs = ses.Manager.WithResolved(r.Context(), recs)
	out := make([]overrideView, len(recs))
	for i, rec := range recs {
		out[i] = s.view(rec)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// setRequest is the body of PUT /api/v1/overrides/{path}.
type setRequest struct {
	Value json.RawMessage `json:"value"`
	TTL   string          `json:"ttl"` // a Go duration ("2h"), or seconds
	Ref   string          `json:"ref"`
}

func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func (s *Server) setOverride(w http.ResponseWriter, r *http.Request) error {
	var req setRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "the body is not {\"value\": …, \"ttl\": \"…\", \"ref\": \"…\"}: %v", err)
	}
	ttl, err := parseTTL(req.TTL)
	if err != nil || ttl < 0 {
		return errorf(http.StatusBadRequest, "ttl %q is not a duration (60s, 2h) or a number of seconds", req.TTL)
	}
	var value any
	if req.Ref == "" {
		if len(req.Value) == 0 || string(req.Value) == "null" {
			return errorf(http.StatusBadRequest, "give a value (or a ref); to remove an override, DELETE it")
		}
		if err := json.Unmarshal(req.Value, &value); err != nil {
			return errorf(http.StatusBadRequest, "value is not JSON: %v", err)
		}
	}
	ses, err := s.session(r, true)
	if err != nil {
		return err
	}
	defer ses.Close()
	rec, err := ses.Manager.Set(r.Context(), r.PathValue("path"), value, overrides.SetOptions{TTL: ttl, Ref: req.Ref, By: callerOf(r).name})
	var refused *overrides.RefusedError
	if errors.As(err, &refused) {
		return refusedError(refused)
	}
	var conflict *overrides.ConflictError
	if errors.As(err, &conflict) {
		// Written, but a concurrent change on a store without
		// transactions clashes with it.
		s.broadcast("overrides")
		return &httpError{http.StatusConflict, map[string]any{"error": err.Error(), "path": conflict.Record.Path, "rev": conflict.Record.Rev, "problems": problemsOf(conflict.Findings)}}
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	s.broadcast("overrides")
	writeJSON(w, http.StatusOK, s.view(rec))
	return nil
}

// refusedError is the 422 answer to a change that would make the
// configuration invalid, now or once an override expires.
func refusedError(refused *overrides.RefusedError) error {
	return &httpError{http.StatusUnprocessableEntity, map[string]any{"error": "the override was refused: it would make the configuration invalid", "path": refused.Path, "problems": problemsOf(refused.Findings)}}
}

func problemsOf(findings []report.Finding) []map[string]string {
	problems := make([]map[string]string, len(findings))
	for i, f := range findings {
		problems[i] = map[string]string{"path": f.Path, "message": f.Message, "rule": f.Rule}
	}
	return problems
}

func (s *Server) deleteOverride(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, true)
	if err != nil {
		return err
	}
	defer ses.Close()
	err = ses.Manager.Delete(r.Context(), r.PathValue("path"), callerOf(r).name)
	if errors.Is(err, overrides.ErrNotFound) {
		return errorf(http.StatusNotFound, "%v", err)
	}
	var refused *overrides.RefusedError
	if errors.As(err, &refused) {
		return refusedError(refused)
	}
	if err != nil {
		return err
	}
	s.broadcast("overrides")
	writeJSON(w, http.StatusOK, map[string]any{"path": r.PathValue("path"), "deleted": true})
	return nil
}

func redactAudit(a overrides.AuditRecord) overrides.AuditRecord {
	a.Old, a.New = config.RedactJSON(a.Old), config.RedactJSON(a.New)
	return a
}

func (s *Server) history(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, false)
	if err != nil {
		return err
	}
	defer ses.Close()
	h, err := ses.Manager.History(r.Context(), r.PathValue("path"))
	if err != nil {
		return errorf(http.StatusBadRequest, "%v", err)
	}
	for i := range h {
		h[i] = redactAudit(h[i])
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

// audit is the recent history of every overridden path, newest first.
func (s *Server) audit(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, false)
	if err != nil {
		return err
	}
	defer ses.Close()
	recs, err := ses.Manager.List(r.Context(), "")
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "list overrides: %v", err)
	}
	all := []overrides.AuditRecord{} // [] rather than null when there is none, like /overrides
	for i, rec := range recs {
		if i == maxHistoryPaths {
			break
		}
		h, err := ses.Manager.History(r.Context(), rec.Path)
		if err != nil {
			return err
		}
		for _, a := range h {
			all = append(all, redactAudit(a))
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].When > all[j].When })
	if len(all) > 200 {
		all = all[:200]
	}
	writeJSON(w, http.StatusOK, all)
	return nil
}

func (s *Server) getMonitor(w http.ResponseWriter, r *http.Request) error {
	if s.o.Monitor == nil {
		writeJSON(w, http.StatusOK, map[string]any{"enabled": false, "dependencies": []any{}})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"enabled": true, "dependencies": s.o.Monitor.Statuses(), "critical": s.o.Monitor.Critical()})
	return nil
}

func (s *Server) getAlerts(w http.ResponseWriter, r *http.Request) error {
	if s.o.Monitor == nil {
		writeJSON(w, http.StatusOK, []any{})
		return nil
	}
	as, err := s.o.Monitor.Alerts(r.Context(), 100)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "%v", err)
	}
	if as == nil {
		as = nil
	}
	writeJSON(w, http.StatusOK, nonNil(as))
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) getDeployments(w http.ResponseWriter, r *http.Request) error {
	if s.o.Deployments == nil {
		writeJSON(w, http.StatusOK, map[string]any{"available": false, "reason": "edgeconf serve runs without --remote: deployments are on Cloudflare"})
		return nil
	}
	v, err := s.o.Deployments(r.Context())
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"available": false, "reason": err.Error()})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"available": true, "status": v})
	return nil
}

// databaseView is a database page: its tables and migrations.
type databaseView struct {
	Binding    string          `json:"binding"`
	Name       string          `json:"name"`
	Tables     []d1.Table      `json:"tables"`
	Migrations []migrationView `json:"migrations"`
	Error      string          `json:"error,omitempty"`
}

type migrationView struct {
	Name      string `json:"name"`
	Applied   bool   `json:"applied"`
	AppliedAt string `json:"appliedAt,omitempty"`
}

func (s *Server) getDatabases(w http.ResponseWriter, r *http.Request) error {
	out := []databaseView{}
	for _, ref := range s.o.Databases {
		v := databaseView{Binding: ref.Binding, Name: ref.Name, Tables: []d1.Table{}, Migrations: []migrationView{}}
		if s.o.OpenD1 == nil {
			v.Error = "not available"
			out = append(out, v)
			continue
		}
		db, err := s.o.OpenD1(r.Context(), ref.Name)
		if err != nil {
			v.Error = err.Error()
			out = append(out, v)
			continue
		}
		if v.Tables, err = d1.Describe(r.Context(), db); err != nil {
			v.Error = err.Error()
		}
		if sts, err := migrate.Statuses(r.Context(), db, ref.MigrationsDir); err != nil {
			v.Error = err.Error()
		} else {
			for _, st := range sts {
				m := migrationView{Name: st.Name, Applied: st.Applied != nil}
				if st.Applied != nil {
					m.AppliedAt = st.Applied.AppliedAt
				}
				v.Migrations = append(v.Migrations, m)
			}
		}
		db.Close()
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
