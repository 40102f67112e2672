package telemetry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
)

func store(t *testing.T, kv map[string]string) *kvstore.Memory {
	t.Helper()
	m := kvstore.NewMemory(func() time.Time { return time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC) })
	for k, v := range kv {
		if err := m.Put(context.Background(), k, []byte(v), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestRead(t *testing.T) {
	st := store(t, map[string]string{
		TelemetryPrefix + "v1/i1":                  `{"version":"v1","tag":"abc","routes":{"/healthz":3,"/api/config":2},"flags":{"premium:on":1},"latencyMs":{"p50":1,"p95":4,"p99":9}}`,
		TelemetryPrefix + "v1/i2":                  `{"version":"v1","tag":"abc","routes":{"/healthz":5},"latencyMs":{"p50":2,"p95":3,"p99":12}}`,
		TelemetryPrefix + "v2/i1":                  `not json`,
		ErrorsPrefix + "v1/2026-12-05T10:00:00Z-a": `{"requestId":"a","version":"v1","route":"/x","at":"2026-12-05T10:00:00Z","message":"older","stack":"s"}`,
		ErrorsPrefix + "v2/2026-12-05T11:00:00Z-b": `{"requestId":"b","version":"v2","route":"/y","at":"2026-12-05T11:00:00Z","message":"newer"}`,
		ErrorsPrefix + "v2/garbage":                `{`,
	})
	s, err := Read(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Versions) != 2 || s.Truncated {
		t.Fatalf("versions %+v truncated %v", s.Versions, s.Truncated)
	}
	v1, v2 := s.Versions[0], s.Versions[1]
	if v1.Version != "v1" || v1.Isolates != 2 || v1.Requests != 10 || v1.Routes["/healthz"] != 8 || v1.Flags["premium:on"] != 1 || v1.Errors != 1 {
		t.Errorf("v1 = %+v", v1)
	}
	if v1.P50ms != 2 || v1.P95ms != 4 || v1.P99ms != 12 {
		t.Errorf("v1 percentiles are not the worst of its isolates: %+v", v1)
	}
	if v2.Version != "v2" || v2.Isolates != 0 || v2.Errors != 1 {
		t.Errorf("v2 = %+v", v2)
	}
	if len(s.Errors) != 2 || s.Errors[0].Message != "newer" || s.Errors[1].RequestID != "a" {
		t.Errorf("errors, newest first: %+v", s.Errors)
	}

	v, errs, _, err := ReadVersion(context.Background(), st, "v1")
	if err != nil || v.Requests != 10 || v.Errors != 1 || len(errs) != 1 || errs[0].Message != "older" {
		t.Errorf("ReadVersion(v1) = %+v %+v %v", v, errs, err)
	}
	v, errs, _, err = ReadVersion(context.Background(), st, "v9")
	if err != nil || v.Version != "v9" || v.Requests != 0 || len(errs) != 0 {
		t.Errorf("ReadVersion of a silent version = %+v %+v %v", v, errs, err)
	}
	for _, bad := range []string{"", "v1/i1"} {
		if _, _, _, err := ReadVersion(context.Background(), st, bad); err == nil {
			t.Errorf("ReadVersion(%q) accepted", bad)
		}
	}
}

// TestRead_Bounded: past MaxKeys keys under a prefix, reading stops and the
// summary says it is truncated; the errors listed stay within RecentErrors.
func TestRead_Bounded(t *testing.T) {
	kv := map[string]string{}
	for i := range MaxKeys + 7 {
		at := fmt.Sprintf("2026-12-05T10:%02d:%02dZ", i/60, i%60)
		kv[fmt.Sprintf("%sv1/%s-%04d", ErrorsPrefix, at, i)] = fmt.Sprintf(`{"version":"v1","at":%q,"message":"m%d"}`, at, i)
	}
	s, err := Read(context.Background(), store(t, kv))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Truncated || s.Versions[0].Errors != MaxKeys || len(s.Errors) != RecentErrors {
		t.Errorf("truncated %v, errors counted %d, listed %d", s.Truncated, s.Versions[0].Errors, len(s.Errors))
	}
}

type brokenStore struct{ kvstore.Store }

func (brokenStore) List(context.Context, kvstore.ListOptions) (kvstore.ListResult, error) {
	return kvstore.ListResult{}, errors.New("unreachable")
}

func TestSource(t *testing.T) {
	st := store(t, map[string]string{
		TelemetryPrefix + "v1/i1":                  `{"version":"v1","routes":{"/":7}}`,
		ErrorsPrefix + "v1/2026-12-05T10:00:00Z-a": `{"version":"v1","at":"2026-12-05T10:00:00Z","message":"first"}`,
		ErrorsPrefix + "v1/2026-12-05T10:00:01Z-b": `{"version":"v1","at":"2026-12-05T10:00:01Z","message":"last"}`,
	})
	closed := 0
	src := Source{Open: func(context.Context) (kvstore.Store, func() error, error) {
		return st, func() error { closed++; return nil }, nil
	}}
	n, req, last, err := src.VersionErrors(context.Background(), "v1")
	if err != nil || n != 2 || req != 7 || last != "last" || closed != 1 {
		t.Errorf("VersionErrors = %d %d %q %v (closed %d)", n, req, last, err, closed)
	}
	bad := Source{Open: func(context.Context) (kvstore.Store, func() error, error) {
		return nil, nil, errors.New("no namespace")
	}}
	if _, _, _, err := bad.VersionErrors(context.Background(), "v1"); err == nil {
		t.Error("an unopenable store is not an error")
	}
	broken := Source{Open: func(context.Context) (kvstore.Store, func() error, error) {
		return brokenStore{}, func() error { return nil }, nil
	}}
	if _, _, _, err := broken.VersionErrors(context.Background(), "v1"); err == nil {
		t.Error("a failing listing is not an error")
	}
}
