package objtest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/factory-wager/edgeconf/objstore"
)

// RunModel is a state-machine property test: random puts, overwrites,
// deletes, reads, ranged reads and listings (with prefixes, delimiters
// and small pages) are applied to the store and to a plain map, and every
// read must agree. It runs until at least minChecks comparisons were
// made; newHarness is called once per run, so it should be cheap.
func RunModel(t *testing.T, newHarness func(t *testing.T) Harness, opts Options, minChecks int) {
	ctx := context.Background()
	checks := 0
	for round := 0; round < 20 && checks < minChecks && !t.Failed(); round++ {
		rapid.Check(t, machine(ctx, newHarness, t, opts, &checks))
	}
	t.Logf("model checks: %d", checks)
	errorIf(t, checks < minChecks, "only %d model checks ran; want at least %d", checks, minChecks)
}

func machine(ctx context.Context, newHarness func(t *testing.T) Harness, t *testing.T, opts Options, checks *int) func(*rapid.T) {
	// Keys that a file-system-mapped store can hold together: no key is
	// a folder of another.
	pool := []string{"a", "b/1", "b/2", "b/c/3", "bb", "é", "e\u0301", "z/z/z", "z/zz"}
	if !opts.FileSystemKeys {
		pool = append(pool, "b", "b/", "b//1", "./a", "b/c")
	}
	return func(rt *rapid.T) {
		h := newHarness(t) // a fresh, empty bucket for each run
		model := map[string][]byte{}
		keys := rapid.SampledFrom(pool)
		rt.Repeat(map[string]func(*rapid.T){
			"put": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				v := rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "value")
				size := int64(len(v))
				if rapid.Bool().Draw(rt, "unknown size") {
					size = -1
				}
				if _, err := h.Store.Put(ctx, k, bytes.NewReader(v), size, objstore.PutOptions{}); err != nil {
					rt.Fatalf("Put(%q): %v", k, err)
				}
				model[k] = v
			},
			"delete": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				if err := h.Store.Delete(ctx, k); err != nil {
					rt.Fatalf("Delete(%q): %v", k, err)
				}
				delete(model, k)
			},
			"get": func(rt *rapid.T) {
				k := keys.Draw(rt, "key")
				want, ok := model[k]
				off := int64(rapid.IntRange(0, 70).Draw(rt, "offset"))
				length := int64(rapid.IntRange(0, 70).Draw(rt, "length"))
				r, info, err := h.Store.Get(ctx, k, objstore.GetOptions{Offset: off, Length: length})
				*checks++
				switch {
				case !ok:
					fatalIf(rt, !errors.Is(err, objstore.ErrNotFound), "Get(%q) = %v; model says absent", k, err)
					return
				case (off > 0 || length > 0) && off >= int64(len(want)):
					fatalIf(rt, !errors.Is(err, objstore.ErrInvalidRange), "Get(%q, %d, %d) of %d bytes = %v, want ErrInvalidRange", k, off, length, len(want), err)
					return
				case err != nil:
					rt.Fatalf("Get(%q, %d, %d): %v", k, off, length, err)
				}
				var got bytes.Buffer
				_, err = got.ReadFrom(r)
				r.Close()
				end := int64(len(want))
				if length > 0 {
					end = min(end, off+length)
				}
				fatalIf(rt, err != nil || !bytes.Equal(got.Bytes(), want[off:end]) || info.Size != int64(len(want)), "Get(%q, %d, %d) = %q (size %d), %v; model says %q", k, off, length, got.Bytes(), info.Size, err, want[off:end])
			},
			"list": func(rt *rapid.T) {
				prefix := rapid.SampledFrom([]string{"", "b", "b/", "z/", "é", "x"}).Draw(rt, "prefix")
				delim := rapid.SampledFrom([]string{"", "/"}).Draw(rt, "delimiter")
				limit := rapid.IntRange(1, 4).Draw(rt, "limit")
				var gotObjs, gotPrefs []string
				cursor := ""
				for page := 0; ; page++ {
					res, err := h.Store.List(ctx, objstore.ListOptions{Prefix: prefix, Delimiter: delim, Cursor: cursor, Limit: limit})
					fatalIf(rt, err != nil, "List: %v", err)
					gotObjs = append(gotObjs, objectKeys(res.Objects)...)
					gotPrefs = append(gotPrefs, res.Prefixes...)
					if res.Cursor == "" {
						break
					}
					fatalIf(rt, page > 20, "listing does not end")
					cursor = res.Cursor
				}
				var wantObjs, wantPrefs []string
				for k := range model {
					if !strings.HasPrefix(k, prefix) {
						continue
					}
					if i := strings.Index(k[len(prefix):], delim); delim != "" && i >= 0 {
						if p := k[:len(prefix)+i+len(delim)]; !slices.Contains(wantPrefs, p) {
							wantPrefs = append(wantPrefs, p)
						}
						continue
					}
					wantObjs = append(wantObjs, k)
				}
				slices.Sort(wantObjs)
				slices.Sort(wantPrefs)
				*checks++
				fatalIf(rt, !slices.Equal(gotObjs, wantObjs) || !slices.Equal(gotPrefs, wantPrefs), "List(%q, %q, limit %d) = %q + %q, model %q + %q", prefix, delim, limit, gotObjs, gotPrefs, wantObjs, wantPrefs)
			},
		})
	}
}
