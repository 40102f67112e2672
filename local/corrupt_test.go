package local_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
)

// A truncated state.db is reported as corrupt, naming the file, instead of
// panicking in bbolt.
func TestOpen_TruncatedStateIsCorrupt(t *testing.T) {
	src := t.TempDir()
	s, err := local.Open(local.Options{Dir: src})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		if err := s.KV("CONFIG").Put(context.Background(), "key-"+strconv.Itoa(i), []byte(strings.Repeat("v", 1000)), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	full, err := os.ReadFile(filepath.Join(src, local.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{0, 100, 4096, 3 * 4096, len(full) / 4, len(full) / 2} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, local.DBFile)
			if err := os.WriteFile(path, full[:size], 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := local.Open(local.Options{Dir: dir})
			if size == 0 {
				// An empty file is a new, empty state (bbolt initialises it).
				if err != nil {
					t.Fatalf("Open(empty file) = %v", err)
				}
				s.Close()
				return
			}
			if !errors.Is(err, local.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				if err == nil {
					s.Close()
				}
				t.Fatalf("Open(truncated to %d of %d bytes) = %v, want ErrCorrupt naming %s", size, len(full), err, path)
			}
			// The failed open left nothing held in this process: once the
			// file is whole again, the folder opens at once (a leaked lock
			// would make this wait and fail with "in use").
			if err := os.WriteFile(path, full, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = local.Open(local.Options{Dir: dir, LockTimeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatalf("Open after restoring the file: %v", err)
			}
			s.Close()
		})
	}
}
