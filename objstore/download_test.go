package objstore_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/objstore"
)

// flakyStore serves one object from memory; the first read of each range
// in breaks lists breaks off halfway, and err, if set, fails every Get.
type flakyStore struct {
	objstore.Store
	data   []byte
	etag   string
	err    error
	breaks map[int64]bool

	mu    sync.Mutex
	reads map[int64]int
}

func (f *flakyStore) Head(context.Context, string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{Key: "k", Size: int64(len(f.data)), ETag: f.etag}, nil
}

func (f *flakyStore) Get(_ context.Context, key string, o objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if f.err != nil {
		return nil, objstore.ObjectInfo{}, f.err
	}
	if o.IfMatch != f.etag {
		return nil, objstore.ObjectInfo{}, fmt.Errorf("IfMatch %q: %w", o.IfMatch, objstore.ErrPreconditionFailed)
	}
	end := int64(len(f.data))
	if o.Length > 0 {
		end = min(end, o.Offset+o.Length)
	}
	part := f.data[o.Offset:end]
	f.mu.Lock()
	if f.reads == nil {
		f.reads = map[int64]int{}
	}
	f.reads[o.Offset]++
	first := f.reads[o.Offset] == 1
	f.mu.Unlock()
	var r io.Reader = bytes.NewReader(part)
	if first && f.breaks[o.Offset] {
		r = io.MultiReader(bytes.NewReader(part[:len(part)/2]), errReader{})
	}
	return io.NopCloser(r), objstore.ObjectInfo{Key: key, Size: int64(len(f.data)), ETag: f.etag}, nil
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset (injected)") }

type memWriter struct {
	mu sync.Mutex
	b  []byte
}

func (m *memWriter) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func TestDownload_RetriesABrokenRange(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 10_000) // 100,000 bytes: 10 ranges of 10,000
	s := &flakyStore{data: data, etag: "abc-10", breaks: map[int64]bool{0: true, 30_000: true, 90_000: true}}
	var w memWriter
	var last, total int64
	info, err := objstore.Download(context.Background(), s, "k", &w, objstore.DownloadOptions{PartSize: 10_000, Concurrency: 3, Progress: func(n, t int64) { last, total = n, t }})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.b, data) || info.Size != int64(len(data)) {
		t.Errorf("Download wrote %d bytes that differ", len(w.b))
	}
	if last != int64(len(data)) || total != int64(len(data)) {
		t.Errorf("progress ended at %d of %d, want %d (bytes written twice counted once)", last, total, len(data))
	}
	if s.reads[0] != 2 || s.reads[10_000] != 1 {
		t.Errorf("reads per range %v; want the broken ones twice", s.reads)
	}
}

func TestDownload_Failures(t *testing.T) {
	data := bytes.Repeat([]byte("x"), 50)
	for _, tc := range []struct {
		name  string
		store *flakyStore
		part  int64
		want  error
		msg   string
	}{
		{"replaced", &flakyStore{data: data, etag: "e", err: objstore.ErrPreconditionFailed}, 10, objstore.ErrPreconditionFailed, ""},
		// Parts are fetched in parallel, so any part may be the first to
		// fail: the error is the store's, whichever range it names.
		{"always-broken", &flakyStore{data: data, etag: "e", err: errBoom}, 10, errBoom, "bytes "},
		{"single-md5-mismatch", &flakyStore{data: data, etag: strings.Repeat("0", 32)}, 100, nil, "do not match the ETag"},
		{"single-broken", &flakyStore{data: data, etag: "e", breaks: map[int64]bool{0: true}}, 100, nil, "connection reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := objstore.Download(context.Background(), tc.store, "k", &memWriter{}, objstore.DownloadOptions{PartSize: tc.part})
			if tc.want != nil && !errors.Is(err, tc.want) || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
				t.Errorf("Download = %v, want %v / %q", err, tc.want, tc.msg)
			}
		})
	}
	// A single request of an object uploaded in one piece is checked.
	good := &flakyStore{data: data, etag: fmt.Sprintf("%x", md5.Sum(data))}
	var w memWriter
	if _, err := objstore.Download(context.Background(), good, "k", &w, objstore.DownloadOptions{}); err != nil || !bytes.Equal(w.b, data) {
		t.Errorf("Download of a small object = %v", err)
	}
}

// headless fails Head.
type headless struct{ objstore.Store }

func (headless) Head(context.Context, string) (objstore.ObjectInfo, error) {
	return objstore.ObjectInfo{}, objstore.ErrNotFound
}

var errBoom = errors.New("boom")

func TestDownload_Missing(t *testing.T) {
	if _, err := objstore.Download(context.Background(), headless{}, "k", &memWriter{}, objstore.DownloadOptions{}); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Download = %v, want ErrNotFound", err)
	}
}
