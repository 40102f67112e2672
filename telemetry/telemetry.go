// Package telemetry reads what the Worker's monitoring switches record in
// its CONFIG KV namespace (worker/telemetry.js writes it):
//
//	edgeconf/v1/errors/VERSION/TIME-REQUEST     one unhandled error (errorTracking)
//	edgeconf/v1/telemetry/VERSION/ISOLATE       one isolate's counters and latency
//	                                            percentiles (analytics, performance)
//
// The dashboard shows the summary per version; the deployer's canary gate
// counts the errors a new version recorded. Reads are bounded: at most
// MaxKeys keys per prefix.
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/kvstore"
)

// The key prefixes the Worker writes under.
const (
	ErrorsPrefix    = "edgeconf/v1/errors/"
	TelemetryPrefix = "edgeconf/v1/telemetry/"
)

// MaxKeys bounds the keys read under one prefix; RecentErrors bounds the
// errors a Summary lists.
const (
	MaxKeys      = 500
	RecentErrors = 50
)

// Version is what the isolates of one Worker version recorded.
type Version struct {
	Version  string         `json:"version"`
	Tag      string         `json:"tag,omitempty"`
	Isolates int            `json:"isolates"`
	Requests int            `json:"requests"`
	Routes   map[string]int `json:"routes"`
	Flags    map[string]int `json:"flags"`
	Errors   int            `json:"errors"`
	// The percentiles are the worst of the isolates'.
	P50ms float64 `json:"p50Ms"`
	P95ms float64 `json:"p95Ms"`
	P99ms float64 `json:"p99Ms"`
}

// Error is one unhandled error the Worker recorded. The stack stays in KV:
// Read leaves it out.
type Error struct {
	RequestID string `json:"requestId"`
	Version   string `json:"version"`
	Tag       string `json:"tag,omitempty"`
	Route     string `json:"route"`
	At        string `json:"at"`
	Message   string `json:"message"`
}

// Summary is the telemetry of every version, and the most recent errors
// (newest first, at most RecentErrors).
type Summary struct {
	Versions []Version `json:"versions"`
	Errors   []Error   `json:"errors"`
	// Truncated is set when a prefix held more than MaxKeys keys: the
	// figures count the first MaxKeys.
	Truncated bool `json:"truncated,omitempty"`
}

// Read summarises everything recorded in st.
func Read(ctx context.Context, st kvstore.Store) (*Summary, error) {
	return read(ctx, st, "")
}

// ReadVersion summarises what one version recorded: its figures (zero when
// it recorded nothing) and its errors, newest first.
func ReadVersion(ctx context.Context, st kvstore.Store, versionID string) (Version, []Error, bool, error) {
	if versionID == "" || strings.Contains(versionID, "/") {
		return Version{}, nil, false, errors.New("telemetry: a version id must be non-empty and have no '/'")
	}
	s, err := read(ctx, st, versionID+"/")
	if err != nil {
		return Version{}, nil, false, err
	}
	v := Version{Version: versionID, Routes: map[string]int{}, Flags: map[string]int{}}
	for _, x := range s.Versions {
		if x.Version == versionID {
			v = x
		}
	}
	return v, s.Errors, s.Truncated, nil
}

func read(ctx context.Context, st kvstore.Store, sub string) (*Summary, error) {
	out := &Summary{Versions: []Version{}, Errors: []Error{}}
	byVersion := map[string]*Version{}
	get := func(id string) *Version {
		if byVersion[id] == nil {
			byVersion[id] = &Version{Version: id, Routes: map[string]int{}, Flags: map[string]int{}}
		}
		return byVersion[id]
	}
	tels, more, err := readPrefix(ctx, st, TelemetryPrefix+sub)
	if err != nil {
		return nil, err
	}
	out.Truncated = out.Truncated || more
	for _, b := range tels {
		var t struct {
			Version, Tag string
			Routes       map[string]int
			Flags        map[string]int
			LatencyMs    struct{ P50, P95, P99 float64 }
		}
		if json.Unmarshal(b, &t) != nil {
			continue // not ours: skipped, never fatal
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
	errs, more, err := readPrefix(ctx, st, ErrorsPrefix+sub)
	if err != nil {
		return nil, err
	}
	out.Truncated = out.Truncated || more
	for _, b := range errs {
		var e Error
		if json.Unmarshal(b, &e) != nil {
			continue
		}
		get(e.Version).Errors++
		out.Errors = append(out.Errors, e)
	}
	sort.SliceStable(out.Errors, func(i, j int) bool { return out.Errors[i].At > out.Errors[j].At })
	if len(out.Errors) > RecentErrors {
		out.Errors = out.Errors[:RecentErrors]
	}
	for _, v := range byVersion {
		out.Versions = append(out.Versions, *v)
	}
	sort.Slice(out.Versions, func(i, j int) bool { return out.Versions[i].Version < out.Versions[j].Version })
	return out, nil
}

// readPrefix returns the values of at most MaxKeys keys under prefix, and
// whether there were more.
func readPrefix(ctx context.Context, st kvstore.Store, prefix string) ([][]byte, bool, error) {
	var out [][]byte
	cursor := ""
	for {
		page, err := st.List(ctx, kvstore.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			return nil, false, err
		}
		for _, k := range page.Keys {
			if len(out) == MaxKeys {
				return out, true, nil
			}
			v, err := kvstore.GetValue(ctx, st, k.Name)
			if errors.Is(err, kvstore.ErrNotFound) {
				continue // expired since the listing
			}
			if err != nil {
				return nil, false, err
			}
			out = append(out, v)
		}
		if page.Cursor == "" {
			return out, false, nil
		}
		cursor = page.Cursor
	}
}

// Source reads a version's recorded errors from a store it opens for each
// call: the deployer's canary gate opens the remote CONFIG namespace only
// once the deploy has provisioned it. Source implements the deployer's
// ErrorSource.
type Source struct {
	Open func(ctx context.Context) (kvstore.Store, func() error, error)
}

// VersionErrors returns the errors versionID recorded, the requests it
// counted, and the newest error's message.
func (s Source) VersionErrors(ctx context.Context, versionID string) (errs, requests int, last string, err error) {
	st, closeFn, err := s.Open(ctx)
	if err != nil {
		return 0, 0, "", err
	}
	defer func() { _ = closeFn() }()
	v, list, _, err := ReadVersion(ctx, st, versionID)
	if err != nil {
		return 0, 0, "", err
	}
	if len(list) > 0 {
		last = list[0].Message
	}
	return v.Errors, v.Requests, last, nil
}
