// Package localfs is the embedded local backend of objstore: one folder
// per bucket (by default .edgeconf/r2/<bucket>/), one file per object,
// with R2's semantics and limits, so that the dashboard's files work
// offline exactly as they do in R2.
//
// Every file operation goes through an os.Root opened on the bucket
// folder, so no key — "../x", "/etc/passwd", a key through a symbolic
// link planted in the folder — can reach a file outside it. Keys are
// encoded into file names (see encodeKey) so that "foo" and "foo/bar",
// "a//b" and "a/b", "./x" and "x", and the NFC and NFD forms of a name
// are all distinct objects and come back byte for byte. Writes are
// atomic: a temporary file in the object's folder is synced and renamed
// over the object, so a crash leaves the old object or the new one.
//
// An object file holds the object's bytes followed by a JSON trailer
// (ETag, content type, metadata, modification time) and a 12-byte footer,
// so that data and metadata change in one rename. Presigned URLs are
// HMAC-signed with a key kept in the bucket folder and served by Handler.
package localfs

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
)

var _ objstore.Store = (*Store)(nil)

// footerMagic ends every object file, after the trailer's length.
const footerMagic = "EDGEOBJ1"

const footerLen = 4 + len(footerMagic)

// maxTrailerBytes bounds the JSON trailer: metadata of at most 8 KiB,
// escaped, plus the fixed fields.
const maxTrailerBytes = 64 << 10

// Options configures Open. Only Dir is required.
type Options struct {
	// Dir is the bucket's folder, e.g. .edgeconf/r2/quantum-files. It is
	// created on the first write; until then the bucket reads as empty.
	Dir string
	// BaseURL is where Handler is served for this bucket, e.g.
	// http://127.0.0.1:3000/r2/quantum-files; optional, "" makes Presign
	// return an error wrapping objstore.ErrNotSupported.
	BaseURL string
	Now     func() time.Time // optional; nil means time.Now
	Logger  *slog.Logger     // optional; nil discards
}

// Store is a bucket in a local folder. It is safe for concurrent use, and
// several processes may share the folder.
type Store struct {
	dir     string
	baseURL string
	now     func() time.Time
	logger  *slog.Logger

	mu   sync.Mutex
	root *os.Root // nil until the folder exists

	keyOnce sync.Mutex
	signKey []byte // the presign key, loaded on first use
}

// Open returns the store of the bucket in opts.Dir. It touches the disk
// only to open the folder if it already exists.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("localfs: a bucket folder is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{dir: opts.Dir, baseURL: strings.TrimSuffix(opts.BaseURL, "/"), now: opts.Now, logger: opts.Logger}
	if _, err := s.openRoot(false); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// Target describes the bucket for the line commands print.
func (s *Store) Target() string { return "local bucket " + s.dir }

// Dir returns the bucket folder.
func (s *Store) Dir() string { return s.dir }

// Close releases the folder.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root == nil {
		return nil
	}
	err := s.root.Close()
	s.root = nil
	return err
}

// openRoot returns the root of the bucket folder, creating the folder
// when create is set. Without create, a missing folder is an error
// wrapping fs.ErrNotExist.
func (s *Store) openRoot(create bool) (*os.Root, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.root != nil {
		return s.root, nil
	}
	if create {
		if err := os.MkdirAll(s.dir, 0o700); err != nil {
			return nil, fmt.Errorf("create bucket folder: %w", err)
		}
	}
	r, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("open bucket folder: %w", err)
	}
	s.root = r
	return r, nil
}

// trailer is the metadata stored after an object's bytes.
type trailer struct {
	ETag        string            `json:"etag"`
	ContentType string            `json:"contentType"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	Modified    time.Time         `json:"modified"`
}

// Put writes the object atomically.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, size int64, opts objstore.PutOptions) (objstore.ObjectInfo, error) {
	if err := objstore.CheckPut(key, size, opts); err != nil {
		return objstore.ObjectInfo{}, err
	}
	root, err := s.openRoot(true)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	name := encodeKey(key)
	f, tmp, err := createTemp(root, path.Dir(name))
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	defer func() {
		if f != nil {
			f.Close()
			_ = root.Remove(tmp)
		}
	}()

	limit := size
	if limit < 0 {
		limit = objstore.MaxObjectBytes
	}
	h := md5.New()
	n, err := objstore.CopyBody(ctx, io.MultiWriter(f, h), io.LimitReader(body, limit+1), opts.Progress)
	switch {
	case err != nil:
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	case size >= 0 && n != size:
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: the body has %s bytes, but the size given was %d", key, countBytes(n, limit), size)
	case n > objstore.MaxObjectBytes:
		return objstore.ObjectInfo{}, &objstore.LimitError{Limit: "object-size", Key: key, Msg: "the body exceeds R2's object size limit (5 TiB minus 5 GiB)"}
	}

	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	tr := trailer{ETag: hex.EncodeToString(h.Sum(nil)), ContentType: ct, Metadata: objstore.NormalizeMetadata(opts.Metadata), Modified: s.now().UTC()}
	if err := writeTrailer(f, tr); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	f = nil // closed; the deferred cleanup must not remove the renamed file
	if err := root.Rename(tmp, name); err != nil {
		_ = root.Remove(tmp)
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	if err := syncDir(root, path.Dir(name)); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("put %q: %w", key, err)
	}
	s.logger.Debug("localfs: put", "bucket", s.dir, "key", key, "bytes", n)
	return tr.info(key, n), nil
}

// countBytes shows the number of bytes read, noting when the read stopped
// at the limit.
func countBytes(n, limit int64) string {
	if n > limit {
		return fmt.Sprintf("more than %d", limit)
	}
	return fmt.Sprint(n)
}

// createTemp creates a temporary file in dir (creating dir if needed).
// A concurrent Delete may remove an empty folder between the two steps,
// so a vanished folder is created again, a few times.
func createTemp(root *os.Root, dir string) (*os.File, string, error) {
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if err := root.MkdirAll(dir, 0o700); err != nil {
				return nil, "", err
			}
		}
		tmp := path.Join(dir, ".tmp-"+randomHex(8))
		f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return f, tmp, nil
		}
		if !errors.Is(err, fs.ErrNotExist) || attempt == 3 {
			return nil, "", err
		}
	}
}

func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder: %w", err)
	}
	return nil
}

func writeTrailer(w io.Writer, tr trailer) error {
	b, err := json.Marshal(tr)
	if err != nil {
		return err
	}
	footer := binary.BigEndian.AppendUint32(nil, uint32(len(b)))
	footer = append(footer, footerMagic...)
	if _, err := w.Write(append(b, footer...)); err != nil {
		return fmt.Errorf("write trailer: %w", err)
	}
	return nil
}

func (tr trailer) info(key string, size int64) objstore.ObjectInfo {
	return objstore.ObjectInfo{Key: key, Size: size, ETag: tr.ETag, LastModified: tr.Modified, ContentType: tr.ContentType, Metadata: tr.Metadata}
}

// errCorrupt is wrapped by the errors of object files that do not end
// with a valid trailer (written by something other than this package).
var errCorrupt = errors.New("not an object file (bad trailer)")

// readTrailer reads the trailer of an open object file and returns it
// with the size of the object's bytes.
func readTrailer(f *os.File) (trailer, int64, error) {
	st, err := f.Stat()
	if err != nil {
		return trailer{}, 0, err
	}
	total := st.Size()
	if !st.Mode().IsRegular() || total < int64(footerLen) {
		return trailer{}, 0, errCorrupt
	}
	var footer [footerLen]byte
	if _, err := f.ReadAt(footer[:], total-int64(footerLen)); err != nil {
		return trailer{}, 0, err
	}
	n := int64(binary.BigEndian.Uint32(footer[:4]))
	if string(footer[4:]) != footerMagic || n > maxTrailerBytes || n > total-int64(footerLen) {
		return trailer{}, 0, errCorrupt
	}
	b := make([]byte, n)
	if _, err := f.ReadAt(b, total-int64(footerLen)-n); err != nil {
		return trailer{}, 0, err
	}
	var tr trailer
	if err := json.Unmarshal(b, &tr); err != nil {
		return trailer{}, 0, errCorrupt
	}
	return tr, total - int64(footerLen) - n, nil
}

// open opens the object file of key with its trailer.
func (s *Store) open(key string) (*os.File, trailer, int64, error) {
	root, err := s.openRoot(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, trailer{}, 0, objstore.ErrNotFound
	}
	if err != nil {
		return nil, trailer{}, 0, err
	}
	f, err := root.Open(encodeKey(key))
	if err != nil {
		if notFound(err) {
			return nil, trailer{}, 0, objstore.ErrNotFound
		}
		return nil, trailer{}, 0, err
	}
	tr, size, err := readTrailer(f)
	if err != nil {
		f.Close()
		return nil, trailer{}, 0, err
	}
	return f, tr, size, nil
}

// notFound reports whether err means that no object file is there: the
// file or one of its folders is missing, or a folder is a file.
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get opens the object, or the range opts selects.
func (s *Store) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	if err := objstore.CheckGet(key, opts); err != nil {
		return nil, objstore.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: %w", key, err)
	}
	f, tr, size, err := s.open(key)
	if err != nil {
		return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: %w", key, err)
	}
	if opts.IfMatch != "" && opts.IfMatch != tr.ETag {
		f.Close()
		return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: %w", key, objstore.ErrPreconditionFailed)
	}
	length := size - opts.Offset
	if opts.Length > 0 && opts.Length < length {
		length = opts.Length
	}
	if (opts.Offset > 0 || opts.Length > 0) && opts.Offset >= size {
		f.Close()
		return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: offset %d of %d bytes: %w", key, opts.Offset, size, objstore.ErrInvalidRange)
	}
	return &objectReader{ctx: ctx, SectionReader: io.NewSectionReader(f, opts.Offset, length), f: f}, tr.info(key, size), nil
}

// objectReader reads a section of an object file until its context ends.
type objectReader struct {
	ctx context.Context
	*io.SectionReader
	f *os.File
}

func (r *objectReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.SectionReader.Read(p)
}

func (r *objectReader) Close() error { return r.f.Close() }

// Head returns the object's information.
func (s *Store) Head(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	if err := objstore.CheckKey(key); err != nil {
		return objstore.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("head %q: %w", key, err)
	}
	f, tr, size, err := s.open(key)
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("head %q: %w", key, err)
	}
	f.Close()
	return tr.info(key, size), nil
}

// Delete removes the object and the folders it leaves empty.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objstore.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	root, err := s.openRoot(false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	name := encodeKey(key)
	// Only a regular file is an object: Remove on a folder of the same
	// name (which encodeKey never produces) would be wrong.
	if st, err := root.Lstat(name); err != nil {
		if notFound(err) {
			return nil
		}
		return fmt.Errorf("delete %q: %w", key, err)
	} else if !st.Mode().IsRegular() {
		return nil
	}
	if err := root.Remove(name); err != nil && !notFound(err) {
		return fmt.Errorf("delete %q: %w", key, err)
	}
	pruneEmpty(root, path.Dir(name))
	s.logger.Debug("localfs: delete", "bucket", s.dir, "key", key)
	return nil
}

// pruneEmpty removes the folders of dir (a path in root) that are left
// empty, deepest first. Remove fails on a folder that is not empty (or
// that a concurrent Put just filled), which ends the walk. Each folder is
// opened relative to its parent, so a key with a thousand slashes costs a
// thousand steps, not a million.
func pruneEmpty(root *os.Root, dir string) {
	if dir == "." {
		return
	}
	names := strings.Split(dir, "/")
	parents := []*os.Root{root}
	defer func() {
		for _, r := range parents[1:] {
			r.Close()
		}
	}()
	for _, name := range names[:len(names)-1] {
		sub, err := parents[len(parents)-1].OpenRoot(name)
		if err != nil {
			return
		}
		parents = append(parents, sub)
	}
	for i := len(names) - 1; i >= 0; i-- {
		if parents[i].Remove(names[i]) != nil {
			return
		}
	}
}
