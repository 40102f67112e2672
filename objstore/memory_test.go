package objstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/objtest"
)

// memoryHarness is a fresh in-memory bucket with its presigned URLs
// served over HTTP.
func memoryHarness(t *testing.T) objtest.Harness {
	var m *objstore.Memory
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	m = objstore.NewMemory(objstore.MemoryOptions{BaseURL: srv.URL + "/r2/bucket/"})
	srv.Config.Handler = m.Handler()
	return objtest.Harness{Store: m, HTTPClient: srv.Client()}
}

func TestMemory_Conformance(t *testing.T) { objtest.Run(t, memoryHarness, objtest.Options{}) }

func TestMemory_Model(t *testing.T) { objtest.RunModel(t, memoryHarness, objtest.Options{}, 2000) }

func TestMemory_Edges(t *testing.T) {
	ctx := context.Background()
	m := objstore.NewMemory(objstore.MemoryOptions{})
	if got := m.Target(); got != "in-memory bucket" {
		t.Errorf("Target() = %q", got)
	}
	if _, err := m.Presign(ctx, "k", objstore.PresignOptions{}); !errors.Is(err, objstore.ErrNotSupported) {
		t.Errorf("Presign without a base URL = %v, want ErrNotSupported", err)
	}
	var le *objstore.LimitError
	if _, err := m.List(ctx, objstore.ListOptions{Cursor: "not a cursor"}); !errors.As(err, &le) || le.Limit != "cursor" {
		t.Errorf("List(bad cursor) = %v, want a cursor LimitError", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for name, err := range map[string]error{
		"Head":   func() error { _, err := m.Head(cancelled, "k"); return err }(),
		"Delete": m.Delete(cancelled, "k"),
		"List":   func() error { _, err := m.List(cancelled, objstore.ListOptions{}); return err }(),
		"Put": func() error {
			_, err := m.Put(cancelled, "k", strings.NewReader("v"), 1, objstore.PutOptions{})
			return err
		}(),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", name, err)
		}
	}
	for name, err := range map[string]error{
		"Head":   func() error { _, err := m.Head(ctx, ""); return err }(),
		"Delete": m.Delete(ctx, ""),
	} {
		if !errors.As(err, &le) {
			t.Errorf("%s(\"\") = %v, want a LimitError", name, err)
		}
	}
}

// TestMemory_Handler_Refuses: malformed and expired URLs get 403.
func TestMemory_Handler_Refuses(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m := objstore.NewMemory(objstore.MemoryOptions{BaseURL: "http://bucket.test", Now: func() time.Time { return now }})
	u, err := m.Presign(context.Background(), "k", objstore.PresignOptions{Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, url string }{
		{"malformed", "http://bucket.test?key=k&expires=soon"},
		{"expired", u},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = now.Add(time.Hour)
			w := httptest.NewRecorder()
			m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.url, nil))
			if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "signature=") {
				t.Errorf("GET %s = %d %q, want 403", tc.name, w.Code, w.Body)
			}
		})
	}
}
