package localfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/localfs"
	"github.com/factory-wager/edgeconf/objstore/objtest"
)

// harness is a fresh bucket folder served over HTTP for presigned URLs,
// with its logs captured.
func harness(t *testing.T) objtest.Harness {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var s *localfs.Store
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	var err error
	s, err = localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "bucket"), BaseURL: srv.URL + "/r2/bucket/", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return objtest.Harness{Store: s, HTTPClient: srv.Client(), Logs: logs.String}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestStore_Conformance(t *testing.T) { objtest.Run(t, harness, objtest.Options{}) }

func TestStore_Model(t *testing.T) { objtest.RunModel(t, harness, objtest.Options{}, 2000) }

func open(t *testing.T, dir string) *localfs.Store {
	t.Helper()
	s, err := localfs.Open(localfs.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s objstore.Store, key, value string) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, strings.NewReader(value), int64(len(value)), objstore.PutOptions{}); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s objstore.Store, key string) string {
	t.Helper()
	r, _, err := s.Get(context.Background(), key, objstore.GetOptions{})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshot lists every path under dir with its size and mode.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out = append(out, p+" "+info.Mode().String()+" "+info.ModTime().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestStore_PathSafety is reliability case R2-4: keys that would escape a
// naive mapping, and keys through symbolic links planted in the bucket
// folder, touch nothing outside it.
func TestStore_PathSafety(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(base, "outside")
	if err := os.MkdirAll(filepath.Join(outside, "etc"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "passwd"), []byte("root:x:0:0"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "state", "r2", "bucket")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Symbolic links named as a key's folder and as a key's file would be.
	for _, name := range []string{"link-out", "link-out%2F", "passwd", "x", "%2E.%2F"} {
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	before := snapshot(t, outside)
	s := open(t, dir)
	ctx := context.Background()
	for _, key := range []string{"../x", "a/../../x", "../../outside/passwd", "/etc/passwd", "link-out/passwd", "link-out", "passwd", "x", "..", "a\x00b"} {
		_, err := s.Put(ctx, key, strings.NewReader("pwned"), 5, objstore.PutOptions{})
		var le *objstore.LimitError
		switch {
		case errors.As(err, &le):
			// refused before any I/O (the NUL key)
		case err != nil:
			t.Logf("Put(%q) failed safely: %v", key, err)
		default:
			if got := get(t, s, key); got != "pwned" {
				t.Errorf("Get(%q) = %q after Put", key, got)
			}
		}
		if r, _, err := s.Get(ctx, key, objstore.GetOptions{}); err == nil {
			b, _ := io.ReadAll(r)
			r.Close()
			if string(b) == "root:x:0:0" {
				t.Errorf("Get(%q) read a file outside the bucket", key)
			}
		}
		_ = s.Delete(ctx, key)
	}
	if after := snapshot(t, outside); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("files outside the bucket changed:\nbefore %q\nafter  %q", before, after)
	}
	if b, err := os.ReadFile(filepath.Join(outside, "passwd")); err != nil || string(b) != "root:x:0:0" {
		t.Errorf("outside/passwd = %q, %v", b, err)
	}
	entries, _ := os.ReadDir(base)
	if len(entries) != 2 {
		t.Errorf("the temp folder holds %d entries, want outside and state only", len(entries))
	}
	// The planted links are not objects.
	res, err := s.List(ctx, objstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range res.Objects {
		if o.Key == "link-out" || o.Key == "passwd" || o.Key == "x" {
			t.Errorf("List shows the symbolic link %q as an object", o.Key)
		}
	}
}

func TestStore_MissingFolderReadsEmpty(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "never-written")
	s := open(t, dir)
	ctx := context.Background()
	if _, _, err := s.Get(ctx, "k", objstore.GetOptions{}); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get = %v, want ErrNotFound", err)
	}
	if _, err := s.Head(ctx, "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head = %v, want ErrNotFound", err)
	}
	if res, err := s.List(ctx, objstore.ListOptions{}); err != nil || len(res.Objects) != 0 {
		t.Errorf("List = %+v, %v; want empty", res, err)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reads created the folder: %v", err)
	}
	if s.Target() != "local bucket "+dir {
		t.Errorf("Target() = %q", s.Target())
	}
	put(t, s, "k", "v")
	if got := get(t, s, "k"); got != "v" {
		t.Errorf("Get after the first write = %q", got)
	}
}

func TestStore_BadCursor(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bucket"))
	put(t, s, "k", "v")
	var le *objstore.LimitError
	for _, c := range []string{"!not a cursor!", "="} {
		if _, err := s.List(context.Background(), objstore.ListOptions{Cursor: c}); !errors.As(err, &le) || le.Limit != "cursor" {
			t.Errorf("List(cursor %q) = %v, want a cursor LimitError", c, err)
		}
	}
}

func TestOpen_RequiresDir(t *testing.T) {
	if _, err := localfs.Open(localfs.Options{}); err == nil {
		t.Error("Open without a folder succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := localfs.Open(localfs.Options{Dir: file}); err == nil {
		t.Error("Open on a file succeeded")
	}
}

// TestStore_ForeignFiles: files that no key encodes to (a README dropped
// in the folder, a name in the wrong case, a leftover temporary file)
// are not objects; an object file without a valid trailer is an error,
// not a silent "not found".
func TestStore_ForeignFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s := open(t, dir)
	put(t, s, "real", "object")
	for name, content := range map[string]string{
		"README":           "not encoded",
		".tmp-0123456789a": "interrupted write",
		"bad%zz":           "bad escape",
		"trunc%4":          "truncated escape",
		"plus+":            "a chunk mark on a file",
		"%":                "x", // the empty-leaf name at the top: the key "" is invalid
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"nodir", "A%2F", "chunk+"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, d, "f"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	res, err := s.List(ctx, objstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Objects) != 1 || res.Objects[0].Key != "real" {
		t.Errorf("List = %+v, want only the real object", res.Objects)
	}
	res, err = s.List(ctx, objstore.ListOptions{Delimiter: "/"})
	if err != nil || len(res.Prefixes) != 0 {
		t.Errorf("List(/) prefixes = %q, %v; want none (the folders hold no objects)", res.Prefixes, err)
	}
	// "corrupt" is what the key "corrupt" encodes to.
	if err := os.WriteFile(filepath.Join(dir, "corrupt"), []byte("no trailer at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Get(ctx, "corrupt", objstore.GetOptions{}); err == nil || errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Get(corrupt) = %v, want a corruption error", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "corrupt"), append([]byte("{}"), 0, 0, 0, 2, 'E', 'D', 'G', 'E', 'O', 'B', 'J', '1'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "corrupt"); err != nil {
		t.Errorf("Head of a minimal valid object file = %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "corrupt"), append([]byte("{x"), 0, 0, 0, 2, 'E', 'D', 'G', 'E', 'O', 'B', 'J', '1'), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "corrupt"); err == nil || errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Head with a broken JSON trailer = %v, want a corruption error", err)
	}
	// A folder where the object file should be is not an object.
	if err := os.MkdirAll(filepath.Join(dir, "folder"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Head(ctx, "folder"); err == nil {
		t.Error("Head of a folder succeeded")
	}
	if err := s.Delete(ctx, "folder"); err != nil {
		t.Errorf("Delete of a folder = %v, want nil (nothing to delete)", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "folder")); err != nil {
		t.Errorf("Delete removed a folder that is not an object: %v", err)
	}
}

func TestStore_DeletePrunesEmptyFolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s := open(t, dir)
	put(t, s, "a/b/c/d", "deep")
	put(t, s, "a/keep", "sibling")
	if err := s.Delete(context.Background(), "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "a%2F"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "keep" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("a%%2F holds %q after the delete, want only keep", names)
	}
}

func TestStore_Layout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s := open(t, dir)
	for _, tc := range []struct{ key, file string }{
		{"certs/tls.pem", "certs%2F/tls.pem"},
		{"a//b", "a%2F/%2F/b"},
		{"./x", "%2E%2F/x"},
		{"x", "x"},
		{"foo/", "foo%2F/%"},
		{"Case", "%43ase"},
		{"\u00e9", "%C3%A9"},
		{"e\u0301", "e%CC%81"},
		{"a b+c", "a%20b%2Bc"},
		{".hidden/.x", "%2Ehidden%2F/%2Ex"},
	} {
		put(t, s, tc.key, tc.key)
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(tc.file))); err != nil {
			t.Errorf("key %q: want the file %s: %v", tc.key, tc.file, err)
		}
	}
}

func TestStore_ProgressAndUnknownSize(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bucket"))
	data := bytes.Repeat([]byte("0123456789abcdef"), 200_000) // 3.2 MB: several progress steps
	var steps []int64
	info, err := s.Put(context.Background(), "big", bytes.NewReader(data), -1, objstore.PutOptions{Progress: func(n int64) { steps = append(steps, n) }})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(data)) || len(steps) < 3 || steps[len(steps)-1] != int64(len(data)) {
		t.Errorf("Put(size -1): size %d, progress %v", info.Size, steps)
	}
}

type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func TestStore_FailedBodyLeavesNoTemporaryFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s := open(t, dir)
	put(t, s, "k/v", "old")
	_, err := s.Put(context.Background(), "k/v", &failingReader{n: 100}, -1, objstore.PutOptions{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("Put with a failing body = %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "k%2F"))
	if len(entries) != 1 {
		t.Errorf("the folder holds %d entries after a failed write, want the old object only", len(entries))
	}
	if got := get(t, s, "k/v"); got != "old" {
		t.Errorf("Get = %q, want old", got)
	}
}

// TestPresign_Expiry checks the local presigned URLs against the store's
// clock: valid until the second they expire, refused after.
func TestPresign_Expiry(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	var s *localfs.Store
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) }))
	defer srv.Close()
	var err error
	s, err = localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "bucket"), BaseURL: srv.URL, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put(t, s, "k", "v")
	u, err := s.Presign(context.Background(), "k", objstore.PresignOptions{Expires: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	status := func(u string) int {
		res, err := srv.Client().Get(u)
		if err != nil {
			t.Fatal(objstore.RedactError(err))
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := status(u); got != http.StatusOK {
		t.Errorf("fresh URL: %d", got)
	}
	mu.Lock()
	now = now.Add(59 * time.Second)
	mu.Unlock()
	if got := status(u); got != http.StatusOK {
		t.Errorf("URL a second before expiry: %d", got)
	}
	mu.Lock()
	now = now.Add(time.Second)
	mu.Unlock()
	if got := status(u); got != http.StatusForbidden {
		t.Errorf("expired URL: %d, want 403", got)
	}
	for _, bad := range []string{srv.URL + "?key=k", srv.URL + "?key=k&expires=x&signature=y", srv.URL + "?expires=1&signature=y"} {
		if got := status(bad); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", bad, got)
		}
	}
	// A presigned GET of a key that is gone.
	u, err = s.Presign(context.Background(), "gone", objstore.PresignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := status(u); got != http.StatusNotFound {
		t.Errorf("GET of a missing object: %d, want 404", got)
	}
}

func TestPresign_NeedsBaseURLAndKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	s := open(t, dir)
	if _, err := s.Presign(context.Background(), "k", objstore.PresignOptions{}); !errors.Is(err, objstore.ErrNotSupported) {
		t.Errorf("Presign without a base URL = %v, want ErrNotSupported", err)
	}
	// A server on a folder that never presigned anything refuses all URLs.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?key=k&expires=99999999999&signature=00", nil))
	if rec.Code != http.StatusForbidden {
		t.Errorf("request to a store without a presign key: %d, want 403", rec.Code)
	}
	// A damaged key file is reported, not replaced.
	withURL, err := localfs.Open(localfs.Options{Dir: dir, BaseURL: "http://127.0.0.1:1/r2"})
	if err != nil {
		t.Fatal(err)
	}
	defer withURL.Close()
	put(t, withURL, "k", "v")
	if err := os.WriteFile(filepath.Join(dir, ".presign-key"), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := withURL.Presign(context.Background(), "k", objstore.PresignOptions{}); err == nil || !strings.Contains(err.Error(), "malformed presign key") {
		t.Errorf("Presign with a damaged key file = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := withURL.Presign(ctx, "k", objstore.PresignOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Presign with a cancelled context = %v", err)
	}
}

func TestPresign_SharedKeyAcrossStores(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bucket")
	a, err := localfs.Open(localfs.Options{Dir: dir, BaseURL: "http://example.test/r2"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	put(t, a, "k", "v")
	u, err := a.Presign(context.Background(), "k", objstore.PresignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Another process (here: another store) on the same folder serves it.
	b := open(t, dir)
	rec := httptest.NewRecorder()
	b.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+strings.TrimPrefix(u, "http://example.test/r2"), nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "v" {
		t.Errorf("GET through another store = %d %q", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("ETag") == "" || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Errorf("headers %v", rec.Header())
	}
}

func TestStore_ContextCancelled(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "bucket"))
	put(t, s, "k", "value")
	ctx, cancel := context.WithCancel(context.Background())
	r, _, err := s.Get(ctx, "k", objstore.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Errorf("reading after cancel = %v", err)
	}
	r.Close()
	for name, err := range map[string]error{
		"get":    func() error { _, _, err := s.Get(ctx, "k", objstore.GetOptions{}); return err }(),
		"head":   func() error { _, err := s.Head(ctx, "k"); return err }(),
		"delete": s.Delete(ctx, "k"),
		"list":   func() error { _, err := s.List(ctx, objstore.ListOptions{}); return err }(),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v", name, err)
		}
	}
}
