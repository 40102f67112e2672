package objstore

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

var _ Store = (*Memory)(nil)

// copyBufferBytes is the read size of Memory.Put and CopyBody, and the
// granularity of their progress reports.
const copyBufferBytes = 1 << 20

// MemoryOptions configures NewMemory; every field is optional.
type MemoryOptions struct {
	// BaseURL is where Handler is served, e.g. an httptest server's URL;
	// "" makes Presign return an error wrapping ErrNotSupported.
	BaseURL string
	Now     func() time.Time // nil means time.Now
}

// Memory is an object store held in memory, with R2's semantics and
// limits: the working stand-in for tests and for commands that read a
// bucket that does not exist yet. It passes the conformance suite in
// objstore/objtest, presigned URLs included (served by Handler). It is
// safe for concurrent use; its contents die with it.
type Memory struct {
	baseURL string
	now     func() time.Time
	secret  []byte // signs presigned URLs

	mu      sync.RWMutex
	objects map[string]memObject
}

// memObject is one stored object; data is never changed after Put.
type memObject struct {
	data []byte
	info ObjectInfo
}

// NewMemory returns an empty in-memory bucket.
func NewMemory(opts MemoryOptions) *Memory {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails on supported platforms
	return &Memory{baseURL: strings.TrimSuffix(opts.BaseURL, "/"), now: opts.Now, secret: secret, objects: map[string]memObject{}}
}

// Target describes the bucket for the line commands print.
func (m *Memory) Target() string { return "in-memory bucket" }

// Put stores the object once the whole body has been read; a failed or
// cancelled Put leaves the previous object in place.
func (m *Memory) Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	if err := CheckPut(key, size, opts); err != nil {
		return ObjectInfo{}, err
	}
	limit := size
	if limit < 0 {
		limit = MaxObjectBytes
	}
	var buf bytes.Buffer
	h := md5.New()
	n, err := CopyBody(ctx, io.MultiWriter(&buf, h), io.LimitReader(body, limit+1), opts.Progress)
	switch {
	case err != nil:
		return ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	case size >= 0 && n != size:
		got := strconv.FormatInt(n, 10)
		if n > size {
			got = "more than " + strconv.FormatInt(size, 10)
		}
		return ObjectInfo{}, fmt.Errorf("put %q: the body has %s bytes, but the size given was %d", key, got, size)
	case n > MaxObjectBytes:
		return ObjectInfo{}, &LimitError{Limit: "object-size", Key: key, Msg: "the body exceeds R2's object size limit (5 TiB minus 5 GiB)"}
	}
	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	info := ObjectInfo{Key: key, Size: n, ETag: hex.EncodeToString(h.Sum(nil)), LastModified: m.now().UTC(), ContentType: ct, Metadata: NormalizeMetadata(opts.Metadata)}
	m.mu.Lock()
	m.objects[key] = memObject{data: buf.Bytes(), info: info}
	m.mu.Unlock()
	return info, nil
}

// Get returns a reader over the object's bytes (or the range asked for).
func (m *Memory) Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, ObjectInfo, error) {
	if err := CheckGet(key, opts); err != nil {
		return nil, ObjectInfo{}, err
	}
	o, err := m.lookup(ctx, key)
	if err != nil {
		return nil, ObjectInfo{}, fmt.Errorf("get %q: %w", key, err)
	}
	if opts.IfMatch != "" && opts.IfMatch != o.info.ETag {
		return nil, ObjectInfo{}, fmt.Errorf("get %q: %w", key, ErrPreconditionFailed)
	}
	size := int64(len(o.data))
	if (opts.Offset > 0 || opts.Length > 0) && opts.Offset >= size {
		return nil, ObjectInfo{}, fmt.Errorf("get %q: offset %d of %d bytes: %w", key, opts.Offset, size, ErrInvalidRange)
	}
	end := size
	if opts.Length > 0 {
		end = min(size, opts.Offset+opts.Length)
	}
	return io.NopCloser(bytes.NewReader(o.data[opts.Offset:end])), o.info, nil
}

// Head returns the object's description.
func (m *Memory) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := CheckKey(key); err != nil {
		return ObjectInfo{}, err
	}
	o, err := m.lookup(ctx, key)
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("head %q: %w", key, err)
	}
	return o.info, nil
}

func (m *Memory) lookup(ctx context.Context, key string) (memObject, error) {
	if err := ctx.Err(); err != nil {
		return memObject{}, err
	}
	m.mu.RLock()
	o, ok := m.objects[key]
	m.mu.RUnlock()
	if !ok {
		return memObject{}, ErrNotFound
	}
	return o, nil
}

// Delete removes the object; a missing one is not an error.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	m.mu.Lock()
	delete(m.objects, key)
	m.mu.Unlock()
	return nil
}

// List returns one page of the listing. The cursor is the last entry
// returned, marked as an object ("o") or a common prefix ("p"), so that
// the next page skips everything a returned prefix rolled up.
func (m *Memory) List(ctx context.Context, opts ListOptions) (ListResult, error) {
	limit, err := CheckList(opts)
	if err != nil {
		return ListResult{}, err
	}
	var after string
	afterPrefix := false
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || len(b) < 2 || (b[0] != 'o' && b[0] != 'p') {
			return ListResult{}, &LimitError{Limit: "cursor", Msg: "malformed list cursor; pass back the cursor of the previous page unchanged"}
		}
		after, afterPrefix = string(b[1:]), b[0] == 'p'
	}
	if err := ctx.Err(); err != nil {
		return ListResult{}, fmt.Errorf("list %q: %w", opts.Prefix, err)
	}
	m.mu.RLock()
	keys := make([]string, 0, len(m.objects))
	for k := range m.objects {
		if strings.HasPrefix(k, opts.Prefix) && (opts.Cursor == "" || k > after && !(afterPrefix && strings.HasPrefix(k, after))) {
			keys = append(keys, k)
		}
	}
	infos := make(map[string]ObjectInfo, len(keys))
	for _, k := range keys {
		infos[k] = m.objects[k].info
	}
	m.mu.RUnlock()
	slices.Sort(keys)

	var res ListResult
	var last string
	lastPrefix := false
	for _, k := range keys {
		entry, isPrefix := k, false
		if opts.Delimiter != "" {
			if i := strings.Index(k[len(opts.Prefix):], opts.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(opts.Prefix)+i+len(opts.Delimiter)], true
			}
		}
		if isPrefix && lastPrefix && entry == last {
			continue // rolled up already
		}
		if len(res.Objects)+len(res.Prefixes) == limit {
			mark := "o"
			if lastPrefix {
				mark = "p"
			}
			res.Cursor = base64.RawURLEncoding.EncodeToString([]byte(mark + last))
			break
		}
		if isPrefix {
			res.Prefixes = append(res.Prefixes, entry)
		} else {
			info := infos[k]
			info.ContentType, info.Metadata = "", nil
			res.Objects = append(res.Objects, info)
		}
		last, lastPrefix = entry, isPrefix
	}
	return res, nil
}

// Query parameters of a presigned URL of a Memory store.
const (
	memParamKey       = "key"
	memParamExpires   = "expires"
	memParamSignature = "signature"
)

// Presign returns a URL under MemoryOptions.BaseURL that Handler serves
// for one method on key until it expires, signed with HMAC-SHA256 and a
// key that lives as long as the store.
func (m *Memory) Presign(ctx context.Context, key string, opts PresignOptions) (string, error) {
	opts, err := CheckPresign(key, opts)
	if err != nil {
		return "", err
	}
	if m.baseURL == "" {
		return "", fmt.Errorf("presign %q: %w: the in-memory store has no base URL to serve presigned URLs from", key, ErrNotSupported)
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("presign %q: %w", key, err)
	}
	expires := m.now().Add(opts.Expires).Unix()
	q := url.Values{}
	q.Set(memParamKey, key)
	q.Set(memParamExpires, strconv.FormatInt(expires, 10))
	q.Set(memParamSignature, m.sign(opts.Method, key, expires))
	return m.baseURL + "?" + q.Encode(), nil
}

func (m *Memory) sign(method, key string, expires int64) string {
	mac := hmac.New(sha256.New, m.secret)
	fmt.Fprintf(mac, "%s\n%d\n%s", method, expires, key)
	return hex.EncodeToString(mac.Sum(nil))
}

// Handler serves the store's presigned URLs: mount it at
// MemoryOptions.BaseURL. A URL whose signature does not match its method,
// key and expiry, or that has expired, gets 403; otherwise the request
// does what the URL was signed for. Responses never contain the signature.
func (m *Memory) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		key := q.Get(memParamKey)
		expires, err := strconv.ParseInt(q.Get(memParamExpires), 10, 64)
		switch {
		case err != nil || CheckKey(key) != nil:
			http.Error(w, "malformed presigned URL", http.StatusForbidden)
			return
		case !hmac.Equal([]byte(m.sign(r.Method, key, expires)), []byte(q.Get(memParamSignature))):
			http.Error(w, "signature does not match", http.StatusForbidden)
			return
		case !m.now().Before(time.Unix(expires, 0)):
			http.Error(w, "presigned URL expired", http.StatusForbidden)
			return
		}
		m.serve(w, r, key)
	})
}

// serve does what a verified presigned request asks.
func (m *Memory) serve(w http.ResponseWriter, r *http.Request, key string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		o, err := m.lookup(r.Context(), key)
		if err != nil {
			http.Error(w, "no such object", http.StatusNotFound)
			return
		}
		w.Header().Set("ETag", `"`+o.info.ETag+`"`)
		w.Header().Set("Content-Type", o.info.ContentType)
		for k, v := range o.info.Metadata {
			w.Header().Set("X-Amz-Meta-"+k, v)
		}
		http.ServeContent(w, r, "", o.info.LastModified, bytes.NewReader(o.data))
	case http.MethodPut:
		info, err := m.Put(r.Context(), key, r.Body, r.ContentLength, PutOptions{ContentType: r.Header.Get("Content-Type")})
		var le *LimitError
		switch {
		case errors.As(err, &le):
			http.Error(w, le.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, "cannot write the object", http.StatusInternalServerError)
		default:
			w.Header().Set("ETag", `"`+info.ETag+`"`)
			w.WriteHeader(http.StatusOK)
		}
	case http.MethodDelete:
		if err := m.Delete(r.Context(), key); err != nil {
			http.Error(w, "cannot delete the object", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// CopyBody copies src to dst in reads of 1 MiB, stopping with ctx.Err()
// when ctx is done, and calls progress, if set, with the running total
// after every write. It is how stores read the body of a Put.
func CopyBody(ctx context.Context, dst io.Writer, src io.Reader, progress func(int64)) (int64, error) {
	buf := make([]byte, copyBufferBytes)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			if _, err := dst.Write(buf[:k]); err != nil {
				return n, err
			}
			n += int64(k)
			if progress != nil {
				progress(n)
			}
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("read body: %w", rerr)
		}
	}
}
