// Package objstore defines the object store edgeconf keeps files in
// (certificates, exports, alert records, backups), with the semantics and
// limits of Cloudflare R2, so that code written against it behaves the
// same on the embedded local backend (package objstore/localfs), in memory
// (Memory, for tests) and on R2 or any S3-compatible server (package r2).
//
// Keys are opaque byte strings: "a//b" and "a/b", "./x" and "x", or the
// NFC and NFD forms of a name are different keys, and "/" has no meaning
// except in listings with a delimiter. Every implementation passes the
// conformance suite in objstore/objtest.
package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) for an object that does not exist.
var ErrNotFound = errors.New("object not found")

// ErrNoSuchBucket is returned (wrapped) by remote stores when the bucket
// itself does not exist. Local buckets spring into existence on the first
// write, so the local store never returns it.
var ErrNoSuchBucket = errors.New("bucket does not exist")

// ErrInvalidRange is returned (wrapped) by Get when the requested range
// starts at or beyond the end of the object (HTTP 416 on S3).
var ErrInvalidRange = errors.New("range not satisfiable")

// ErrPreconditionFailed is returned (wrapped) by Get when the object's
// ETag is not GetOptions.IfMatch: it was replaced (HTTP 412 on S3).
var ErrPreconditionFailed = errors.New("object changed (ETag does not match)")

// ErrNotSupported is returned (wrapped) when a store cannot do what was
// asked in its configuration, such as presigning URLs on a local store
// that has no base URL.
var ErrNotSupported = errors.New("not supported by this store")

// LimitError says which R2 limit or rule a call broke. Callers branch on
// it with errors.As; Limit names the rule: "key-name", "key-size",
// "metadata", "metadata-size", "object-size", "part-size", "parts",
// "range", "list-limit", "delimiter", "cursor", "presign-method",
// "presign-expiry", "bucket-name" or "fetch-size".
type LimitError struct {
	Limit string
	Key   string // the key involved, if any (shown only up to 64 bytes)
	Msg   string
}

func (e *LimitError) Error() string {
	if e.Key == "" {
		return "r2 " + e.Limit + ": " + e.Msg
	}
	k := e.Key
	if len(k) > 64 {
		k = k[:64] + "..."
	}
	return fmt.Sprintf("r2 %s: key %q: %s", e.Limit, k, e.Msg)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Key  string
	Size int64 // of the whole object, also when Get read a range
	// ETag is the entity tag without quotes: the MD5 of the content in
	// hex, or for an object uploaded in N parts the MD5 of the parts'
	// binary MD5s followed by "-N" (see MultipartETag).
	ETag         string
	LastModified time.Time
	ContentType  string            // "" in listings
	Metadata     map[string]string // user metadata, keys in lower case; nil in listings and when there is none
}

// PutOptions are the optional parts of a write.
type PutOptions struct {
	// ContentType is stored with the object; "" means
	// application/octet-stream.
	ContentType string
	// Metadata is user metadata: printable ASCII, keys are HTTP tokens
	// and are stored in lower case, at most MaxMetadataBytes in all.
	Metadata map[string]string
	// Progress, if set, is called with the running total of bytes the
	// store has taken, as it goes (from any goroutine, never
	// concurrently). Remote stores report whole parts as they are
	// acknowledged.
	Progress func(stored int64)
}

// GetOptions select what Get reads. The zero value reads the whole object.
type GetOptions struct {
	Offset int64 // the first byte to read
	Length int64 // how many bytes to read; 0 means up to the end
	// IfMatch, if set, is the ETag (without quotes) the object must still
	// have; otherwise Get fails with ErrPreconditionFailed. Reads of
	// several ranges use it so that they never mix two versions.
	IfMatch string
}

// ListOptions select a page of a listing.
type ListOptions struct {
	Prefix string // optional; only keys that start with it
	// Delimiter, if set, rolls every key that contains it after Prefix
	// up into one common prefix (up to and including the delimiter), as
	// S3 does; "/" lists one level of a folder-like layout.
	Delimiter string
	Cursor    string // optional; "" starts at the beginning
	Limit     int    // optional; 0 means MaxListLimit, above it is an error
}

// ListResult is one page of a listing, in ascending byte order of keys.
// Objects and common Prefixes together number at most the limit. Cursor
// is "" on the last page; pass it back with the same Prefix and
// Delimiter for the next page. A store may return fewer entries than
// the limit (even none) on a page that is not the last.
type ListResult struct {
	Objects  []ObjectInfo
	Prefixes []string
	Cursor   string
}

// PresignOptions configure Presign.
type PresignOptions struct {
	Method  string        // optional; "" means GET. GET, HEAD, PUT and DELETE are allowed, as on R2
	Expires time.Duration // optional; 0 means DefaultPresignExpiry, at most MaxPresignExpiry
}

// Store is an R2-like object store bound to one bucket. Implementations
// are safe for concurrent use. Every method checks the limits before any
// I/O and returns a *LimitError for a broken one.
type Store interface {
	// Put writes the object at key from body, replacing any object there.
	// size is the number of bytes body yields, or -1 when it is not known
	// in advance; a body that yields another number of bytes is an error.
	// Nothing is visible until the whole object is stored: a failed or
	// cancelled Put leaves the previous object, if any, in place.
	Put(ctx context.Context, key string, body io.Reader, size int64, opts PutOptions) (ObjectInfo, error)
	// Get opens the object at key, or the bytes opts selects; the caller
	// closes the reader. It returns an error wrapping ErrNotFound if there
	// is no such object, ErrInvalidRange if opts.Offset is at or beyond
	// its end, and ErrPreconditionFailed if opts.IfMatch is set and is not
	// the object's ETag.
	Get(ctx context.Context, key string, opts GetOptions) (io.ReadCloser, ObjectInfo, error)
	// Head returns what Get would, without the content.
	// It returns an error wrapping ErrNotFound if there is no such object.
	Head(ctx context.Context, key string) (ObjectInfo, error)
	// List returns one page of the objects whose keys start with
	// opts.Prefix.
	List(ctx context.Context, opts ListOptions) (ListResult, error)
	// Delete removes the object at key. Deleting a key that does not
	// exist is not an error, as on R2.
	Delete(ctx context.Context, key string) error
	// Presign returns a URL that lets its holder make one kind of request
	// (opts.Method) on key, without credentials, until it expires. The
	// URL is a bearer secret: stores never log it, and errors never
	// contain it. Stores that cannot serve presigned URLs return an error
	// wrapping ErrNotSupported.
	Presign(ctx context.Context, key string, opts PresignOptions) (string, error)
}

// ListAll follows the cursor of a listing to its end and returns every
// object and common prefix. It is meant for small listings (tests, the
// CLI); a bucket with millions of keys should be paged through with List.
func ListAll(ctx context.Context, s Store, opts ListOptions) (ListResult, error) {
	var all ListResult
	opts.Cursor = ""
	for {
		page, err := s.List(ctx, opts)
		if err != nil {
			return all, err
		}
		all.Objects = append(all.Objects, page.Objects...)
		all.Prefixes = append(all.Prefixes, page.Prefixes...)
		if page.Cursor == "" {
			return all, nil
		}
		if page.Cursor == opts.Cursor {
			return all, fmt.Errorf("list %q: the store returned the same cursor twice", opts.Prefix)
		}
		opts.Cursor = page.Cursor
	}
}
