package localfs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/factory-wager/edgeconf/objstore"
)

// List returns one page of the listing, walking only the folders that can
// hold keys with the prefix after the cursor.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListResult, error) {
	limit, err := objstore.CheckList(opts)
	if err != nil {
		return objstore.ListResult{}, err
	}
	var after string
	if opts.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(opts.Cursor)
		if err != nil || len(b) == 0 {
			return objstore.ListResult{}, &objstore.LimitError{Limit: "cursor", Msg: "malformed list cursor; pass back the cursor of the previous page unchanged"}
		}
		after = string(b)
	}
	root, err := s.openRoot(false)
	if errors.Is(err, fs.ErrNotExist) {
		return objstore.ListResult{}, nil
	}
	if err != nil {
		return objstore.ListResult{}, fmt.Errorf("list %q: %w", opts.Prefix, err)
	}
	w := &walker{ctx: ctx, prefix: opts.Prefix, delim: opts.Delimiter, after: after, want: limit + 1}
	if err := w.walk(root, "", ""); err != nil && !errors.Is(err, errEnough) {
		return objstore.ListResult{}, fmt.Errorf("list %q: %w", opts.Prefix, err)
	}
	var res objstore.ListResult
	items := w.items
	if len(items) > limit {
		items = items[:limit]
		res.Cursor = base64.RawURLEncoding.EncodeToString([]byte(items[limit-1].key))
	}
	for _, it := range items {
		if it.isPrefix {
			res.Prefixes = append(res.Prefixes, it.key)
			continue
		}
		res.Objects = append(res.Objects, it.info)
	}
	return res, nil
}

// errEnough stops a walk that has found a full page.
var errEnough = errors.New("page is full")

// item is one entry of a listing: an object or a common prefix.
type item struct {
	key      string
	isPrefix bool
	info     objstore.ObjectInfo
}

// walker lists keys in byte order. encodeKey makes that a depth-first
// walk over the folders with each folder's entries sorted by the key
// fragment their names decode to (files first on a tie): one entry's
// fragment is a prefix of another's only when the first is a file, whose
// key then sorts before every key under the second. Each folder is opened
// as an os.Root of its own, relative to its parent, so a deep key costs
// one step per level, not one walk from the top.
type walker struct {
	ctx                  context.Context
	prefix, delim, after string
	want                 int
	items                []item
}

type entry struct {
	name  string
	frag  string
	isDir bool
}

func (w *walker) readDir(dir *os.Root) ([]entry, error) {
	f, err := dir.Open(".")
	if err != nil {
		if notFound(err) {
			return nil, nil // removed by a concurrent Delete
		}
		return nil, err
	}
	defer f.Close()
	des, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue // temporary files, the presign key
		}
		isDir := de.IsDir()
		if !isDir && !de.Type().IsRegular() {
			continue // symbolic links and the like are never objects
		}
		frag, ok := decodeName(name, isDir)
		if !ok {
			continue
		}
		out = append(out, entry{name: name, frag: frag, isDir: isDir})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].frag != out[j].frag {
			return out[i].frag < out[j].frag
		}
		return !out[i].isDir && out[j].isDir
	})
	return out, nil
}

// rollUp returns the common prefix key falls under, or "" when the
// listing has no delimiter or key does not contain it after the prefix.
func (w *walker) rollUp(key string) string {
	if w.delim == "" || !strings.HasPrefix(key, w.prefix) {
		return ""
	}
	i := strings.Index(key[len(w.prefix):], w.delim)
	if i < 0 {
		return ""
	}
	return key[:len(w.prefix)+i+len(w.delim)]
}

func (w *walker) emit(it item) error {
	if n := len(w.items); n > 0 && w.items[n-1].isPrefix && it.isPrefix && w.items[n-1].key == it.key {
		return nil
	}
	w.items = append(w.items, it)
	if len(w.items) >= w.want {
		return errEnough
	}
	return nil
}

// walk lists the folder dir, whose keys all start with keyPrefix and
// whose path in the bucket is pathPrefix ("" or ending in "/").
func (w *walker) walk(dir *os.Root, keyPrefix, pathPrefix string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	entries, err := w.readDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		k := keyPrefix + e.frag
		if !e.isDir {
			if !strings.HasPrefix(k, w.prefix) || encodeKey(k) != pathPrefix+e.name {
				continue
			}
			it := item{key: k}
			if cp := w.rollUp(k); cp != "" {
				it = item{key: cp, isPrefix: true}
			}
			if it.key <= w.after && w.after != "" {
				continue
			}
			if !it.isPrefix {
				if it.info, err = w.info(dir, e.name, k); err != nil {
					continue // not an object file, or removed meanwhile
				}
			}
			if err := w.emit(it); err != nil {
				return err
			}
			continue
		}
		// Every key under this folder starts with k.
		if !strings.HasPrefix(k, w.prefix) && !strings.HasPrefix(w.prefix, k) {
			continue
		}
		if cp := w.rollUp(k); cp != "" {
			// The delimiter is already inside k: the whole folder rolls
			// up into one common prefix, if it holds any object.
			if cp <= w.after && w.after != "" {
				continue
			}
			if ok, err := w.within(dir, e.name, func(sub *os.Root) (bool, error) { return w.hasObject(sub, k, pathPrefix+e.name+"/") }); err != nil {
				return err
			} else if ok {
				if err := w.emit(item{key: cp, isPrefix: true}); err != nil {
					return err
				}
			}
			continue
		}
		if w.after != "" && k < w.after && !strings.HasPrefix(w.after, k) {
			continue // every key under it sorts before the cursor
		}
		if _, err := w.within(dir, e.name, func(sub *os.Root) (bool, error) { return false, w.walk(sub, k, pathPrefix+e.name+"/") }); err != nil {
			return err
		}
	}
	return nil
}

// within runs fn on the subfolder name of dir; a folder removed meanwhile
// is skipped.
func (w *walker) within(dir *os.Root, name string, fn func(*os.Root) (bool, error)) (bool, error) {
	sub, err := dir.OpenRoot(name)
	if err != nil {
		if notFound(err) {
			return false, nil
		}
		return false, err
	}
	defer sub.Close()
	return fn(sub)
}

// info reads an object file's trailer.
func (w *walker) info(dir *os.Root, name, key string) (objstore.ObjectInfo, error) {
	f, err := dir.Open(name)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	defer f.Close()
	tr, size, err := readTrailer(f)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	info := tr.info(key, size)
	info.ContentType, info.Metadata = "", nil // as S3 listings
	return info, nil
}

// hasObject reports whether the folder dir (whose keys start with
// keyPrefix) holds at least one object; Delete prunes empty folders, but
// a crash or a concurrent Put may leave one.
func (w *walker) hasObject(dir *os.Root, keyPrefix, pathPrefix string) (bool, error) {
	entries, err := w.readDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		k := keyPrefix + e.frag
		if !e.isDir {
			if encodeKey(k) != pathPrefix+e.name {
				continue
			}
			if _, err := w.info(dir, e.name, k); err == nil {
				return true, nil
			}
			continue
		}
		if ok, err := w.within(dir, e.name, func(sub *os.Root) (bool, error) { return w.hasObject(sub, k, pathPrefix+e.name+"/") }); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}
