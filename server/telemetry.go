package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/kvstore"
)

// What the Worker records in CONFIG (worker/telemetry.js).
const (
	errorsPrefix    = "edgeconf/v1/errors/"
	telemetryPrefix = "edgeconf/v1/telemetry/"
	maxTelemetry    = 500 // keys read per prefix
	recentErrors    = 50
)

// versionTelemetry is what the Worker's isolates of one version recorded.
type versionTelemetry struct {
	Version  string         `json:"version"`
	Tag      string         `json:"tag,omitempty"`
	Isolates int            `json:"isolates"`
	Requests int            `json:"requests"`
	Routes   map[string]int `json:"routes"`
	Flags    map[string]int `json:"flags"`
	Errors   int            `json:"errors"`
	// P95ms and P99ms are the worst of the isolates' percentiles.
	P50ms float64 `json:"p50Ms"`
	P95ms float64 `json:"p95Ms"`
	P99ms float64 `json:"p99Ms"`
}

func readPrefix(ctx context.Context, st kvstore.Store, prefix string) ([][]byte, error) {
	var out [][]byte
	cursor := ""
	for len(out) < maxTelemetry {
		page, err := st.List(ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			return nil, err
		}
		for _, k := range page.Keys {
			if len(out) == maxTelemetry {
				break
			}
			e, err := st.Get(ctx, k.Name)
			if err != nil {
				continue // expired since the listing
			}
			out = append(out, e.Value)
		}
		if page.Cursor == "" {
			break
		}
		cursor = page.Cursor
	}
	return out, nil
}

// getTelemetry summarises the Worker's errors, counters and latencies per
// version, with the most recent errors.
func (s *Server) getTelemetry(w http.ResponseWriter, r *http.Request) error {
	ses, err := s.session(r, false)
	if err != nil {
		return err
	}
	defer ses.Close()
	out := map[string]any{"versions": []versionTelemetry{}, "errors": []any{}}
	if ses.Store == nil {
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	byVersion := map[string]*versionTelemetry{}
	get := func(v string) *versionTelemetry {
		if byVersion[v] == nil {
			byVersion[v] = &versionTelemetry{Version: v, Routes: map[string]int{}, Flags: map[string]int{}}
		}
		return byVersion[v]
	}
	tels, err := readPrefix(r.Context(), ses.Store, telemetryPrefix)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "read the Worker's telemetry: %v", err)
	}
	for _, b := range tels {
		var t struct {
			Version, Tag string
			Routes       map[string]int
			Flags        map[string]int
			LatencyMs    struct{ P50, P95, P99 float64 }
		}
		if json.Unmarshal(b, &t) != nil {
			continue
		}
		v := get(t.Version)
		v.Tag = t.Tag
		v.Isolates++
		for k, n := range t.Routes {
			v.Routes[k] += n
			v.Requests += n
		}
		for k, n := range t.Flags {
			v.Flags[k] += n
		}
		v.P50ms, v.P95ms, v.P99ms = max(v.P50ms, t.LatencyMs.P50), max(v.P95ms, t.LatencyMs.P95), max(v.P99ms, t.LatencyMs.P99)
	}
	errs, err := readPrefix(r.Context(), ses.Store, errorsPrefix)
	if err != nil {
		return errorf(http.StatusServiceUnavailable, "read the Worker's errors: %v", err)
	}
	var recent []map[string]any
	for _, b := range errs {
		var e map[string]any
		if json.Unmarshal(b, &e) != nil {
			continue
		}
		version, _ := e["version"].(string)
		get(version).Errors++
		delete(e, "stack") // the stack stays in KV; the page shows the message
		recent = append(recent, e)
	}
	sort.Slice(recent, func(i, j int) bool {
		a, _ := recent[i]["at"].(string)
		b, _ := recent[j]["at"].(string)
		return strings.Compare(a, b) > 0
	})
	if len(recent) > recentErrors {
		recent = recent[:recentErrors]
	}
	versions := make([]versionTelemetry, 0, len(byVersion))
	for _, v := range byVersion {
		versions = append(versions, *v)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
	out["versions"] = versions
	out["errors"] = nonNil(recent)
	writeJSON(w, http.StatusOK, out)
	return nil
}
