package objtest_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/objstore/localfs"
	"github.com/factory-wager/edgeconf/objstore/objtest"
)

// The suite checks itself against the local store, the reference backend.
func harness(t *testing.T) objtest.Harness {
	var mu sync.Mutex
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "bucket"), Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.Close() })
	s, err = localfs.Open(localfs.Options{Dir: s.Dir(), BaseURL: srv.URL + "/r2/bucket", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv.Config.Handler = s.Handler()
	return objtest.Harness{Store: s, HTTPClient: srv.Client(), Logs: func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestRun(t *testing.T) { objtest.Run(t, harness, objtest.Options{}) }

func TestRunModel(t *testing.T) { objtest.RunModel(t, harness, objtest.Options{}, 2000) }

func TestRunModel_FileSystemKeys(t *testing.T) {
	objtest.RunModel(t, harness, objtest.Options{FileSystemKeys: true}, 500)
}
