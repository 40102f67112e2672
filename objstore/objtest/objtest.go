// Package objtest is the conformance suite every objstore.Store passes:
// the in-memory store, the local folder backend and the S3 backend
// (against versitygw, a real S3 server). It checks R2 semantics — byte-exact keys, ranges, listings
// with prefixes, delimiters and cursors, atomic replacement, limits,
// presigned URLs that work and do not leak — and includes a
// state-machine property test against a model (model.go).
package objtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
)

// Harness is one fresh, empty bucket under test.
type Harness struct {
	Store objstore.Store
	// HTTPClient fetches the store's presigned URLs; optional, nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// Logs returns everything the store has logged so far, for the
	// checks that no presigned signature leaks; optional.
	Logs func() string
}

// Options describe what a backend can hold.
type Options struct {
	// FileSystemKeys says the store maps each key onto a file path
	// segment by segment, as versitygw's posix backend does: it cannot
	// hold "foo" and "foo/bar" together, it merges "a//b" into "a/b" and
	// "./x" into "x", and a segment must fit a file name. The cases
	// that need more are skipped; R2 and the local store run them all.
	FileSystemKeys bool
	// LargeObjectBytes is the size of the large-object round trip;
	// optional, 0 means 12 MiB (three parts of 5 MiB on a store
	// configured with that part size).
	LargeObjectBytes int
}

// Run runs the conformance suite; newHarness is called once per subtest.
func Run(t *testing.T, newHarness func(t *testing.T) Harness, opts Options) {
	if opts.LargeObjectBytes == 0 {
		opts.LargeObjectBytes = 12 << 20
	}
	ctx := context.Background()
	sub := func(name string, fn func(t *testing.T, h Harness)) {
		t.Run(name, func(t *testing.T) { fn(t, newHarness(t)) })
	}

	sub("PutGet", func(t *testing.T, h Harness) {
		long := strings.Repeat("k", objstore.MaxKeyBytes)
		if opts.FileSystemKeys {
			long = strings.Repeat(strings.Repeat("k", 199)+"/", 5) + strings.Repeat("k", 24)
		}
		for _, tc := range []struct {
			name, key string
			value     []byte
		}{
			{"plain", "plain.txt", []byte("hello")},
			{"empty", "empty", []byte{}},
			{"binary", "bin/data", []byte{0, 1, 2, 0xff, '\n', '\r'}},
			{"escaping", "a b?c#d%e&f=g+h;i:j@k", []byte("needs escaping")},
			{"percent", "%2F literal percent", []byte("not decoded")},
			{"unicode", "ключ/日本語/🔑", []byte("unicode")},
			{"upper", "Certs/TLS.pem", []byte("case kept")},
			{"longest", long, []byte("longest key")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				info := mustPut(t, h.Store, tc.key, tc.value, objstore.PutOptions{})
				want := md5Hex(tc.value)
				errorIf(t, info.Key != tc.key || info.Size != int64(len(tc.value)) || info.ETag != want, "Put(%.40q) = %+v, want size %d, ETag %s", tc.key, info, len(tc.value), want)
				got, gi := mustGet(t, h.Store, tc.key, objstore.GetOptions{})
				errorIf(t, !bytes.Equal(got, tc.value), "Get(%.40q) = %q, want %q", tc.key, got, tc.value)
				errorIf(t, gi.Key != tc.key || gi.Size != int64(len(tc.value)) || gi.ETag != want || gi.ContentType != "application/octet-stream", "Get(%.40q) info = %+v, want size %d, ETag %s, application/octet-stream", tc.key, gi, len(tc.value), want)
				errorIf(t, gi.LastModified.IsZero() || time.Since(gi.LastModified) > time.Hour || time.Until(gi.LastModified) > time.Hour, "Get(%.40q) LastModified = %v, want about now", tc.key, gi.LastModified)
			})
		}
	})

	sub("ContentTypeAndMetadata", func(t *testing.T, h Harness) {
		md := map[string]string{"Owner": "alice", "rev": "7", "note": "printable ascii; = ok"}
		mustPut(t, h.Store, "certs/tls.pem", []byte("-----BEGIN-----"), objstore.PutOptions{ContentType: "application/x-pem-file", Metadata: md})
		want := map[string]string{"owner": "alice", "rev": "7", "note": "printable ascii; = ok"}
		_, gi := mustGet(t, h.Store, "certs/tls.pem", objstore.GetOptions{})
		hi, err := h.Store.Head(ctx, "certs/tls.pem")
		fatalIf(t, err != nil, "Head: %v", err)
		for _, info := range []objstore.ObjectInfo{gi, hi} {
			errorIf(t, info.ContentType != "application/x-pem-file" || !mapsEqual(info.Metadata, want), "content type %q, metadata %v; want application/x-pem-file, %v", info.ContentType, info.Metadata, want)
		}
		errorIf(t, hi.Size != gi.Size || hi.ETag != gi.ETag || !hi.LastModified.Truncate(time.Second).Equal(gi.LastModified.Truncate(time.Second)), "Head = %+v, Get = %+v; want the same", hi, gi)
	})

	sub("Missing", func(t *testing.T, h Harness) {
		if _, _, err := h.Store.Get(ctx, "missing", objstore.GetOptions{}); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Get(missing) = %v, want ErrNotFound", err)
		}
		if _, err := h.Store.Head(ctx, "missing/deeper"); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Head(missing/deeper) = %v, want ErrNotFound", err)
		}
		if err := h.Store.Delete(ctx, "missing"); err != nil {
			t.Errorf("Delete(missing) = %v, want nil", err)
		}
		mustPut(t, h.Store, "dir/file", []byte("x"), objstore.PutOptions{})
		if _, err := h.Store.Head(ctx, "dir/file/below"); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Head(dir/file/below) = %v, want ErrNotFound", err)
		}
	})

	sub("Overwrite", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "k", []byte("version one"), objstore.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"rev": "1"}})
		mustPut(t, h.Store, "k", []byte("v2"), objstore.PutOptions{})
		got, info := mustGet(t, h.Store, "k", objstore.GetOptions{})
		errorIf(t, string(got) != "v2" || info.Metadata != nil || info.ContentType != "application/octet-stream" || info.Size != 2, "after overwrite: %q %+v; want v2 without metadata", got, info)
	})

	sub("Ranges", func(t *testing.T, h Harness) {
		data := make([]byte, 100)
		for i := range data {
			data[i] = byte(i)
		}
		mustPut(t, h.Store, "r", data, objstore.PutOptions{})
		for _, tc := range []struct {
			name           string
			offset, length int64
			want           []byte
		}{
			{"head", 0, 10, data[:10]},
			{"middle", 40, 20, data[40:60]},
			{"to-end", 90, 0, data[90:]},
			{"past-end", 95, 50, data[95:]},
			{"last-byte", 99, 1, data[99:]},
			{"whole", 0, 100, data},
		} {
			t.Run(tc.name, func(t *testing.T) {
				got, info := mustGet(t, h.Store, "r", objstore.GetOptions{Offset: tc.offset, Length: tc.length})
				errorIf(t, !bytes.Equal(got, tc.want), "Get(r, %d, %d) = %v, want %v", tc.offset, tc.length, got, tc.want)
				errorIf(t, info.Size != 100 || info.ETag != md5Hex(data), "Get(r, %d, %d) info = %+v, want the whole object's size 100 and ETag", tc.offset, tc.length, info)
			})
		}
		for _, off := range []int64{100, 1000} {
			if _, _, err := h.Store.Get(ctx, "r", objstore.GetOptions{Offset: off}); !errors.Is(err, objstore.ErrInvalidRange) {
				t.Errorf("Get(r, offset %d) = %v, want ErrInvalidRange", off, err)
			}
		}
		var le *objstore.LimitError
		if _, _, err := h.Store.Get(ctx, "r", objstore.GetOptions{Offset: -1}); !errors.As(err, &le) || le.Limit != "range" {
			t.Errorf("Get(r, offset -1) = %v, want a range LimitError", err)
		}
	})

	sub("Delete", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "d/one", []byte("1"), objstore.PutOptions{})
		mustPut(t, h.Store, "d/two", []byte("2"), objstore.PutOptions{})
		if err := h.Store.Delete(ctx, "d/one"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := h.Store.Head(ctx, "d/one"); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("Head after Delete = %v, want ErrNotFound", err)
		}
		if got, _ := mustGet(t, h.Store, "d/two", objstore.GetOptions{}); string(got) != "2" {
			t.Errorf("Delete removed a sibling: d/two = %q", got)
		}
		if err := h.Store.Delete(ctx, "d/two"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if keys := listKeys(t, h.Store, objstore.ListOptions{}); len(keys) != 0 {
			t.Errorf("after deleting everything, List = %q", keys)
		}
		// A key is free again after its folder-like prefix was emptied.
		mustPut(t, h.Store, "d", []byte("file where a folder was"), objstore.PutOptions{})
		if got, _ := mustGet(t, h.Store, "d", objstore.GetOptions{}); string(got) != "file where a folder was" {
			t.Errorf("Get(d) = %q", got)
		}
	})

	sub("KeyFidelity", func(t *testing.T, h Harness) {
		if opts.FileSystemKeys {
			t.Skip("the store maps keys onto file paths (FileSystemKeys)")
		}
		keys := []string{
			"foo", "foo/bar", "a//b", "a/b", "./x", "x", "../x", "a/../../x", "/etc/passwd", "a/", "a/./b",
			"\u00e9", "e\u0301", "Case", "case", ".", "..", "...", "%", "+", "a+", "%2F",
			strings.Repeat("l", objstore.MaxKeyBytes), strings.Repeat("/", objstore.MaxKeyBytes),
			strings.Repeat("é", objstore.MaxKeyBytes/2), strings.Repeat("L", 80) + "/" + strings.Repeat("z", 79),
		}
		for i, k := range keys {
			mustPut(t, h.Store, k, []byte(fmt.Sprintf("value %d", i)), objstore.PutOptions{})
		}
		for i, k := range keys {
			got, info := mustGet(t, h.Store, k, objstore.GetOptions{})
			if want := fmt.Sprintf("value %d", i); string(got) != want || info.Key != k {
				t.Errorf("Get(%.40q) = %q (key %.40q), want %q", k, got, info.Key, want)
			}
		}
		want := slices.Clone(keys)
		slices.Sort(want)
		if got := listKeys(t, h.Store, objstore.ListOptions{}); !slices.Equal(got, want) {
			t.Errorf("List = %q,\nwant %q", got, want)
		}
		if got := listKeys(t, h.Store, objstore.ListOptions{Limit: 3}); !slices.Equal(got, want) {
			t.Errorf("List in pages of 3 = %q,\nwant %q", got, want)
		}
		res, err := objstore.ListAll(ctx, h.Store, objstore.ListOptions{Prefix: "a/", Delimiter: "/"})
		fatalIf(t, err != nil, "%v", err)
		gotObjs, wantObjs := objectKeys(res.Objects), []string{"a/", "a/b"}
		wantPrefixes := []string{"a/../", "a/./", "a//"}
		errorIf(t, !slices.Equal(gotObjs, wantObjs) || !slices.Equal(res.Prefixes, wantPrefixes), "List(a/, /) = %q + %q, want %q + %q", gotObjs, res.Prefixes, wantObjs, wantPrefixes)
		for _, k := range keys {
			if err := h.Store.Delete(ctx, k); err != nil {
				t.Fatalf("Delete(%.40q): %v", k, err)
			}
		}
		if got := listKeys(t, h.Store, objstore.ListOptions{}); len(got) != 0 {
			t.Errorf("after deleting every key, List = %q", got)
		}
	})

	sub("List", func(t *testing.T, h Harness) {
		keys := []string{"alpha/1", "alpha/2", "alpha/sub/3", "alpha/sub/4", "beta", "gamma-z", "gamma/x/y", "zeta/z", "zeta/é"}
		for _, k := range keys {
			mustPut(t, h.Store, k, []byte("value of "+k), objstore.PutOptions{})
		}
		for _, tc := range []struct {
			name                   string
			opts                   objstore.ListOptions
			wantObjects, wantPrefs []string
		}{
			{"all", objstore.ListOptions{}, keys, nil},
			{"prefix", objstore.ListOptions{Prefix: "alpha/"}, keys[:4], nil},
			{"prefix-partial", objstore.ListOptions{Prefix: "gam"}, []string{"gamma-z", "gamma/x/y"}, nil},
			{"prefix-none", objstore.ListOptions{Prefix: "nope"}, nil, nil},
			{"prefix-is-key", objstore.ListOptions{Prefix: "beta"}, []string{"beta"}, nil},
			{"root-level", objstore.ListOptions{Delimiter: "/"}, []string{"beta", "gamma-z"}, []string{"alpha/", "gamma/", "zeta/"}},
			{"folder-level", objstore.ListOptions{Prefix: "alpha/", Delimiter: "/"}, []string{"alpha/1", "alpha/2"}, []string{"alpha/sub/"}},
			{"deep-level", objstore.ListOptions{Prefix: "gamma/", Delimiter: "/"}, nil, []string{"gamma/x/"}},
			{"other-delimiter", objstore.ListOptions{Delimiter: "a"}, nil, []string{"a", "beta", "ga", "zeta"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				for _, limit := range []int{0, 1, 2, 3} {
					o := tc.opts
					o.Limit = limit
					var objs, prefs []string
					for page, cursor := 0, ""; ; page++ {
						o.Cursor = cursor
						res, err := h.Store.List(ctx, o)
						fatalIf(t, err != nil, "List(%+v): %v", o, err)
						if n := len(res.Objects) + len(res.Prefixes); limit > 0 && n > limit {
							t.Errorf("List(%+v) returned %d entries, above the limit", o, n)
						}
						objs = append(objs, objectKeys(res.Objects)...)
						prefs = append(prefs, res.Prefixes...)
						for _, info := range res.Objects {
							if want := md5Hex([]byte("value of " + info.Key)); info.ETag != want || info.Size != int64(len("value of "+info.Key)) {
								t.Errorf("List entry %+v, want ETag %s, size %d", info, want, len("value of "+info.Key))
							}
						}
						if res.Cursor == "" {
							break
						}
						fatalIf(t, page > len(keys)+1, "List(%+v) does not end", o)
						cursor = res.Cursor
					}
					errorIf(t, !slices.Equal(objs, tc.wantObjects) || !slices.Equal(prefs, tc.wantPrefs), "List(%+v) = %q + %q, want %q + %q", o, objs, prefs, tc.wantObjects, tc.wantPrefs)
				}
			})
		}
		var le *objstore.LimitError
		if _, err := h.Store.List(ctx, objstore.ListOptions{Limit: objstore.MaxListLimit + 1}); !errors.As(err, &le) || le.Limit != "list-limit" {
			t.Errorf("List(limit 1001) = %v, want a list-limit LimitError", err)
		}
	})

	sub("Limits", func(t *testing.T, h Harness) {
		big := map[string]string{"big": strings.Repeat("v", objstore.MaxMetadataBytes)}
		for _, tc := range []struct {
			name, key, limit string
			opts             objstore.PutOptions
		}{
			{"empty-key", "", "key-name", objstore.PutOptions{}},
			{"long-key", strings.Repeat("k", objstore.MaxKeyBytes+1), "key-size", objstore.PutOptions{}},
			{"invalid-utf8", "bad\xffkey", "key-name", objstore.PutOptions{}},
			{"nul", "a\x00b", "key-name", objstore.PutOptions{}},
			{"newline", "a\nb", "key-name", objstore.PutOptions{}},
			{"metadata-size", "k", "metadata-size", objstore.PutOptions{Metadata: big}},
			{"metadata-key", "k", "metadata", objstore.PutOptions{Metadata: map[string]string{"bad key": "v"}}},
			{"metadata-value", "k", "metadata", objstore.PutOptions{Metadata: map[string]string{"k": "caf\u00e9"}}},
			{"metadata-case", "k", "metadata", objstore.PutOptions{Metadata: map[string]string{"Rev": "1", "rev": "2"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := h.Store.Put(ctx, tc.key, strings.NewReader("v"), 1, tc.opts)
				var le *objstore.LimitError
				errorIf(t, !errors.As(err, &le) || le.Limit != tc.limit, "Put(%.40q) = %v, want a %s LimitError", tc.key, err, tc.limit)
			})
		}
		if got := listKeys(t, h.Store, objstore.ListOptions{}); len(got) != 0 {
			t.Errorf("refused writes stored %q", got)
		}
	})

	sub("SizeMismatchKeepsOldObject", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "k", []byte("old"), objstore.PutOptions{})
		for _, tc := range []struct {
			name string
			body string
			size int64
		}{
			{"short", "abc", 10},
			{"long", "abcdefghijkl", 10},
		} {
			if _, err := h.Store.Put(ctx, "k", strings.NewReader(tc.body), tc.size, objstore.PutOptions{}); err == nil {
				t.Errorf("Put(%s body of %d bytes, size %d) = nil error, want one", tc.name, len(tc.body), tc.size)
			}
			if _, err := h.Store.Put(ctx, "new-"+tc.name, strings.NewReader(tc.body), tc.size, objstore.PutOptions{}); err == nil {
				t.Errorf("Put(new, %s body) = nil error, want one", tc.name)
			}
		}
		if got, _ := mustGet(t, h.Store, "k", objstore.GetOptions{}); string(got) != "old" {
			t.Errorf("a failed Put replaced the object: %q", got)
		}
		if got := listKeys(t, h.Store, objstore.ListOptions{}); !slices.Equal(got, []string{"k"}) {
			t.Errorf("failed Puts left objects: %q", got)
		}
	})

	sub("UnknownSize", func(t *testing.T, h Harness) {
		data := []byte("streamed without a size")
		info, err := h.Store.Put(ctx, "stream", io.MultiReader(bytes.NewReader(data[:5]), bytes.NewReader(data[5:])), -1, objstore.PutOptions{})
		fatalIf(t, err != nil, "Put(size -1): %v", err)
		errorIf(t, info.Size != int64(len(data)) || info.ETag != md5Hex(data), "Put(size -1) = %+v, want size %d", info, len(data))
		if got, _ := mustGet(t, h.Store, "stream", objstore.GetOptions{}); !bytes.Equal(got, data) {
			t.Errorf("Get = %q, want %q", got, data)
		}
	})

	sub("LargeObject", func(t *testing.T, h Harness) {
		data := randomBytes(opts.LargeObjectBytes, 1)
		for _, size := range []int64{int64(len(data)), -1} {
			key := fmt.Sprintf("large/%d", size)
			var last int64
			info, err := h.Store.Put(ctx, key, bytes.NewReader(data), size, objstore.PutOptions{Progress: func(n int64) {
				errorIf(t, n < last, "progress went back from %d to %d", last, n)
				last = n
			}})
			fatalIf(t, err != nil, "Put(%s): %v", key, err)
			errorIf(t, last != int64(len(data)), "Put(%s): progress ended at %d, want %d", key, last, len(data))
			got, gi := mustGet(t, h.Store, key, objstore.GetOptions{})
			fatalIf(t, !bytes.Equal(got, data), "Get(%s): %d bytes differ from the %d put", key, len(got), len(data))
			errorIf(t, gi.ETag != info.ETag || gi.Size != int64(len(data)), "Get(%s) = %+v, Put gave ETag %s", key, gi, info.ETag)
			mid, _ := mustGet(t, h.Store, key, objstore.GetOptions{Offset: 5<<20 - 3, Length: 7})
			errorIf(t, !bytes.Equal(mid, data[5<<20-3:5<<20+4]), "a range across the first part boundary differs")
		}
	})

	sub("CancelledPutLeavesNothing", func(t *testing.T, h Harness) {
		mustPut(t, h.Store, "c", []byte("before"), objstore.PutOptions{})
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		body := &cancellingReader{r: bytes.NewReader(randomBytes(opts.LargeObjectBytes, 2)), after: 1 << 20, cancel: cancel}
		if _, err := h.Store.Put(ctx, "c", body, int64(opts.LargeObjectBytes), objstore.PutOptions{}); !errors.Is(err, context.Canceled) {
			t.Errorf("Put with a cancelled context = %v, want context.Canceled", err)
		}
		if got, _ := mustGet(t, h.Store, "c", objstore.GetOptions{}); string(got) != "before" {
			t.Errorf("a cancelled Put replaced the object: %d bytes", len(got))
		}
	})

	sub("Concurrent", func(t *testing.T, h Harness) {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 4 {
					key := fmt.Sprintf("c/%d/%d", w, i)
					if _, err := h.Store.Put(ctx, key, strings.NewReader(key), int64(len(key)), objstore.PutOptions{}); err != nil {
						errs <- err
						return
					}
					// Everyone also rewrites one shared key.
					if _, err := h.Store.Put(ctx, "shared", strings.NewReader(key), int64(len(key)), objstore.PutOptions{}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if got := listKeys(t, h.Store, objstore.ListOptions{Prefix: "c/"}); len(got) != 32 {
			t.Errorf("List(c/) has %d keys, want 32", len(got))
		}
		got, _ := mustGet(t, h.Store, "shared", objstore.GetOptions{})
		errorIf(t, !strings.HasPrefix(string(got), "c/"), "shared = %q, want one writer's whole value", got)
	})

	sub("IfMatch", func(t *testing.T, h Harness) {
		info := mustPut(t, h.Store, "v", []byte("version one"), objstore.PutOptions{})
		got, _ := mustGet(t, h.Store, "v", objstore.GetOptions{IfMatch: info.ETag, Offset: 8})
		errorIf(t, string(got) != "one", "Get(v, IfMatch its ETag, offset 8) = %q, want one", got)
		mustPut(t, h.Store, "v", []byte("version two"), objstore.PutOptions{})
		_, _, err := h.Store.Get(ctx, "v", objstore.GetOptions{IfMatch: info.ETag})
		errorIf(t, !errors.Is(err, objstore.ErrPreconditionFailed), "Get(v, IfMatch the old ETag) = %v, want ErrPreconditionFailed", err)
	})

	sub("Download", func(t *testing.T, h Harness) {
		for _, size := range []int{0, 100, opts.LargeObjectBytes} {
			data := randomBytes(size, uint64(size)+3)
			key := fmt.Sprintf("dl/%d", size)
			mustPut(t, h.Store, key, data, objstore.PutOptions{})
			var w memFile
			var last int64
			info, err := objstore.Download(ctx, h.Store, key, &w, objstore.DownloadOptions{
				PartSize: objstore.MinPartBytes, Concurrency: 3, Progress: func(n, total int64) { last = n },
			})
			fatalIf(t, err != nil, "Download(%s): %v", key, err)
			errorIf(t, !bytes.Equal(w.bytes(), data) || info.Size != int64(size), "Download(%s) wrote %d bytes that differ from the %d put", key, len(w.bytes()), size)
			errorIf(t, last != int64(size) && size > 0, "Download(%s): progress ended at %d", key, last)
		}
		_, err := objstore.Download(ctx, h.Store, "dl/missing", &memFile{}, objstore.DownloadOptions{})
		errorIf(t, !errors.Is(err, objstore.ErrNotFound), "Download(missing) = %v, want ErrNotFound", err)
	})

	sub("Presign", func(t *testing.T, h Harness) {
		runPresign(t, h)
	})
}

// runPresign checks that presigned URLs do what they were signed for,
// nothing else, and never leak their signature.
func runPresign(t *testing.T, h Harness) {
	ctx := context.Background()
	client := h.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	var le *objstore.LimitError
	for _, tc := range []struct {
		name  string
		opts  objstore.PresignOptions
		limit string
	}{
		{"too-long", objstore.PresignOptions{Expires: objstore.MaxPresignExpiry + time.Second}, "presign-expiry"},
		{"too-short", objstore.PresignOptions{Expires: time.Millisecond}, "presign-expiry"},
		{"post", objstore.PresignOptions{Method: "POST"}, "presign-method"},
	} {
		if _, err := h.Store.Presign(ctx, "k", tc.opts); !errors.As(err, &le) || le.Limit != tc.limit {
			t.Errorf("Presign(%s) = %v, want a %s LimitError", tc.name, err, tc.limit)
		}
	}

	mustPut(t, h.Store, "shared/report.csv", []byte("a,b\n1,2\n"), objstore.PutOptions{ContentType: "text/csv"})
	var signatures []string
	presign := func(method, key string) string {
		t.Helper()
		u, err := h.Store.Presign(ctx, key, objstore.PresignOptions{Method: method, Expires: 10 * time.Minute})
		fatalIf(t, err != nil, "Presign(%s %s): %v", method, key, err)
		sig := signature(u)
		fatalIf(t, len(sig) < 16, "Presign(%s %s) = a URL without a recognisable signature", method, key)
		signatures = append(signatures, sig)
		return u
	}
	do := func(method, u string, body []byte) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		fatalIf(t, err != nil, "%v", objstore.RedactError(err))
		if body == nil {
			req.Body, req.ContentLength = nil, 0
		}
		res, err := client.Do(req)
		fatalIf(t, err != nil, "%s presigned URL: %v", method, objstore.RedactError(err))
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}

	get := presign(http.MethodGet, "shared/report.csv")
	if code, b := do(http.MethodGet, get, nil); code != http.StatusOK || string(b) != "a,b\n1,2\n" {
		t.Errorf("GET presigned = %d %q", code, b)
	}
	if code, _ := do(http.MethodPut, get, []byte("overwrite")); code != http.StatusForbidden {
		t.Errorf("PUT on a GET URL = %d, want 403", code)
	}
	if code, _ := do(http.MethodGet, strings.Replace(get, "report.csv", "other.csv", 1), nil); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("GET with another key = %d, want 403", code)
	}
	tampered := tamper(get)
	code, b := do(http.MethodGet, tampered, nil)
	errorIf(t, code != http.StatusForbidden, "GET with a tampered signature = %d, want 403", code)
	_ = b // S3 servers echo the provided signature in the error body; the point is that edgeconf never does.

	head := presign(http.MethodHead, "shared/report.csv")
	if code, _ := do(http.MethodHead, head, nil); code != http.StatusOK {
		t.Errorf("HEAD presigned = %d", code)
	}
	put := presign(http.MethodPut, "uploads/new.bin")
	if code, _ := do(http.MethodPut, put, []byte("uploaded by URL")); code != http.StatusOK {
		t.Errorf("PUT presigned = %d", code)
	}
	if got, _ := mustGet(t, h.Store, "uploads/new.bin", objstore.GetOptions{}); string(got) != "uploaded by URL" {
		t.Errorf("after a presigned PUT, Get = %q", got)
	}
	del := presign(http.MethodDelete, "uploads/new.bin")
	if code, _ := do(http.MethodDelete, del, nil); code != http.StatusNoContent && code != http.StatusOK {
		t.Errorf("DELETE presigned = %d", code)
	}
	if _, err := h.Store.Head(ctx, "uploads/new.bin"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("after a presigned DELETE, Head = %v", err)
	}

	// R2-6: a failed request to a presigned URL, reported through
	// RedactError, and the store's logs carry no signature.
	dead := &http.Client{Transport: failingTransport{}}
	_, err := dead.Get(get)
	fatalIf(t, err == nil, "the failing transport did not fail")
	reported := fmt.Sprintf("%v | %+v", objstore.RedactError(err), err)
	var logs string
	if h.Logs != nil {
		logs = h.Logs()
	}
	for _, sig := range signatures {
		errorIf(t, strings.Contains(reported, sig), "the error of a failed presigned request contains the signature: %s", reported)
		errorIf(t, strings.Contains(logs, sig), "the store logged a presigned signature")
	}
}

// signature returns the signature query parameter of a presigned URL.
func signature(u string) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return ""
	}
	q := parsed.Query()
	for _, name := range []string{"X-Amz-Signature", "signature"} {
		if s := q.Get(name); s != "" {
			return s
		}
	}
	return ""
}

// tamper flips one hex digit of the URL's signature.
func tamper(u string) string {
	sig := signature(u)
	flipped := []byte(sig)
	if flipped[0] == '0' {
		flipped[0] = '1'
	} else {
		flipped[0] = '0'
	}
	return strings.Replace(u, sig, string(flipped), 1)
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("connection refused (injected)")
}

// cancellingReader cancels a context after it has given `after` bytes,
// and from then on reads as slowly as the context allows.
type cancellingReader struct {
	r      io.Reader
	after  int
	n      int
	cancel func()
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	if c.n >= c.after {
		c.cancel()
	}
	n, err := c.r.Read(p[:min(len(p), 64<<10)])
	c.n += n
	return n, err
}

func mustPut(t *testing.T, s objstore.Store, key string, value []byte, opts objstore.PutOptions) objstore.ObjectInfo {
	t.Helper()
	info, err := s.Put(context.Background(), key, bytes.NewReader(value), int64(len(value)), opts)
	fatalIf(t, err != nil, "Put(%.40q): %v", key, err)
	return info
}

func mustGet(t *testing.T, s objstore.Store, key string, opts objstore.GetOptions) ([]byte, objstore.ObjectInfo) {
	t.Helper()
	r, info, err := s.Get(context.Background(), key, opts)
	fatalIf(t, err != nil, "Get(%.40q, %+v): %v", key, opts, err)
	defer r.Close()
	b, err := io.ReadAll(r)
	fatalIf(t, err != nil, "Get(%.40q): read: %v", key, err)
	return b, info
}

func listKeys(t *testing.T, s objstore.Store, opts objstore.ListOptions) []string {
	t.Helper()
	var keys []string
	for page := 0; ; page++ {
		res, err := s.List(context.Background(), opts)
		fatalIf(t, err != nil, "List(%+v): %v", opts, err)
		keys = append(keys, objectKeys(res.Objects)...)
		if res.Cursor == "" {
			return keys
		}
		fatalIf(t, page > 10_000, "listing does not end")
		opts.Cursor = res.Cursor
	}
}

func objectKeys(objs []objstore.ObjectInfo) []string {
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	return keys
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// randomBytes returns n reproducible pseudo-random bytes.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// memFile is an in-memory io.WriterAt.
type memFile struct {
	mu sync.Mutex
	b  []byte
}

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := int(off) + len(p); end > len(m.b) {
		m.b = append(m.b, make([]byte, end-len(m.b))...)
	}
	copy(m.b[off:], p)
	return len(p), nil
}

func (m *memFile) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.b)
}

// errorIf reports a failure when bad is true; the suite's checks go
// through it so that each reads as one line.
func errorIf(t reporter, bad bool, format string, args ...any) {
	t.Helper()
	if bad {
		t.Errorf(format, args...)
	}
}

// fatalIf stops the test when bad is true.
func fatalIf(t reporter, bad bool, format string, args ...any) {
	t.Helper()
	if bad {
		t.Fatalf(format, args...)
	}
}

// reporter is what errorIf and fatalIf need of *testing.T and *rapid.T.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}
