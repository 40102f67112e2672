package objstore_test

import (
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/objstore"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// TestPlanParts is reliability case R2-1: for every size, every part but
// the last has the same size, the last is not larger, parts are 5 MiB to
// 5 GiB, and there are at most 10,000 of them.
func TestPlanParts(t *testing.T) {
	for _, tc := range []struct {
		name            string
		size, preferred int64
		wantPartSize    int64
		wantCount       int
		wantLast        int64
	}{
		{"empty", 0, 16 * mib, 16 * mib, 1, 0},
		{"one-byte", 1, 16 * mib, 16 * mib, 1, 1},
		{"5MiB-1", 5*mib - 1, 5 * mib, 5 * mib, 1, 5*mib - 1},
		{"5MiB", 5 * mib, 5 * mib, 5 * mib, 1, 5 * mib},
		{"5MiB+1", 5*mib + 1, 5 * mib, 5 * mib, 2, 1},
		{"1GiB", gib, 16 * mib, 16 * mib, 64, 16 * mib},
		{"1GiB-5MiB-parts", gib, 5 * mib, 5 * mib, 205, 4 * mib},
		{"50GiB", 50 * gib, 16 * mib, 16 * mib, 3200, 16 * mib},
		{"50GiB-grows", 50 * gib, 5 * mib, 6 * mib, 8534, 50*gib - 8533*6*mib},
		{"below-minimum-raised", 20 * mib, 1 * mib, 5 * mib, 4, 5 * mib},
		{"largest-object", objstore.MaxObjectBytes, 16 * mib, 524 * mib, 9996, objstore.MaxObjectBytes - 9995*524*mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := objstore.PlanParts(tc.size, tc.preferred)
			if err != nil {
				t.Fatalf("PlanParts(%d, %d): %v", tc.size, tc.preferred, err)
			}
			if p.PartSize != tc.wantPartSize || p.Count != tc.wantCount || p.LastSize != tc.wantLast {
				t.Errorf("PlanParts(%d, %d) = %+v, want part %d × %d, last %d", tc.size, tc.preferred, p, tc.wantPartSize, tc.wantCount, tc.wantLast)
			}
			if err := p.Check(); err != nil {
				t.Errorf("plan breaks R2's rules: %v", err)
			}
			// Walk the parts as an uploader does.
			var next int64
			for n := 1; n <= p.Count; n++ {
				off, l := p.Part(n)
				if off != next || l > p.PartSize || (n < p.Count && l != p.PartSize) {
					t.Fatalf("part %d = (%d, %d) after %d bytes", n, off, l, next)
				}
				if n < p.Count && l < objstore.MinPartBytes {
					t.Fatalf("part %d of %d bytes is below the minimum", n, l)
				}
				next += l
			}
			if next != tc.size {
				t.Errorf("parts add up to %d, want %d", next, tc.size)
			}
		})
	}
}

func TestPlanParts_Limits(t *testing.T) {
	var le *objstore.LimitError
	for _, tc := range []struct {
		name            string
		size, preferred int64
		limit           string
	}{
		{"unknown-size", -1, 16 * mib, "object-size"},
		{"too-large", objstore.MaxObjectBytes + 1, 16 * mib, "object-size"},
		{"part-too-large", gib, 6 * gib, "part-size"},
	} {
		if _, err := objstore.PlanParts(tc.size, tc.preferred); !errors.As(err, &le) || le.Limit != tc.limit {
			t.Errorf("PlanParts(%s) = %v, want a %s LimitError", tc.name, err, tc.limit)
		}
	}
}

func TestPartPlan_Check(t *testing.T) {
	for _, p := range []objstore.PartPlan{
		{Size: 10, PartSize: 5 * mib, Count: 0, LastSize: 10},
		{Size: 2 * mib, PartSize: mib, Count: 2, LastSize: mib},
		{Size: 6 * gib, PartSize: 6 * gib, Count: 1, LastSize: 6 * gib},
		{Size: 11 * mib, PartSize: 5 * mib, Count: 2, LastSize: 6 * mib},
		{Size: 10 * mib, PartSize: 5 * mib, Count: 3, LastSize: 0},
		{Size: 12 * mib, PartSize: 5 * mib, Count: 2, LastSize: 5 * mib},
		{Size: 1, PartSize: 5 * mib, Count: objstore.MaxParts + 1, LastSize: 1},
	} {
		if err := p.Check(); err == nil {
			t.Errorf("Check(%+v) = nil, want an error", p)
		}
	}
}

func TestMultipartETag(t *testing.T) {
	a, b := md5.Sum([]byte("part one")), md5.Sum([]byte("part two"))
	both := append(a[:], b[:]...)
	want := fmt.Sprintf("%x-2", md5.Sum(both))
	if got := objstore.MultipartETag([][md5.Size]byte{a, b}); got != want {
		t.Errorf("MultipartETag = %s, want %s", got, want)
	}
	for in, want := range map[string]string{`"abc"`: "abc", `W/"abc"`: "abc", "abc": "abc", `"abc-3"`: "abc-3"} {
		if got := objstore.CleanETag(in); got != want {
			t.Errorf("CleanETag(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCheckKey(t *testing.T) {
	for _, tc := range []struct {
		key, limit string
	}{
		{"ok/key.txt", ""},
		{"../x", ""},
		{strings.Repeat("k", objstore.MaxKeyBytes), ""},
		{"", "key-name"},
		{strings.Repeat("k", objstore.MaxKeyBytes+1), "key-size"},
		{"a\xffb", "key-name"},
		{"tab\tkey", "key-name"},
		{"del\x7f", "key-name"},
	} {
		err := objstore.CheckKey(tc.key)
		var le *objstore.LimitError
		switch {
		case tc.limit == "" && err != nil:
			t.Errorf("CheckKey(%.30q) = %v, want nil", tc.key, err)
		case tc.limit != "" && (!errors.As(err, &le) || le.Limit != tc.limit):
			t.Errorf("CheckKey(%.30q) = %v, want a %s LimitError", tc.key, err, tc.limit)
		}
	}
}

func TestLimitError_Message(t *testing.T) {
	long := &objstore.LimitError{Limit: "key-size", Key: strings.Repeat("k", 100), Msg: "too long"}
	if got := long.Error(); !strings.HasPrefix(got, `r2 key-size: key "kkkk`) || !strings.Contains(got, `..."`) || len(got) > 100 {
		t.Errorf("Error() = %q, want a key cut at 64 bytes", got)
	}
	if got := (&objstore.LimitError{Limit: "list-limit", Msg: "limit 0"}).Error(); got != "r2 list-limit: limit 0" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCheckBucketName(t *testing.T) {
	for name, ok := range map[string]bool{
		"quantum-files": true, "abc": true, "a1-b2": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "Files": false, "-abc": false, "abc-": false,
		"a_b": false, "../etc": false, "a.b": false,
	} {
		if err := objstore.CheckBucketName(name); (err == nil) != ok {
			t.Errorf("CheckBucketName(%q) = %v, want ok=%t", name, err, ok)
		}
	}
}

func TestCheckPutAndMetadata(t *testing.T) {
	var le *objstore.LimitError
	if err := objstore.CheckPut("k", objstore.MaxObjectBytes+1, objstore.PutOptions{}); !errors.As(err, &le) || le.Limit != "object-size" {
		t.Errorf("CheckPut(too large) = %v", err)
	}
	if err := objstore.CheckPut("k", -2, objstore.PutOptions{}); !errors.As(err, &le) || le.Limit != "object-size" {
		t.Errorf("CheckPut(size -2) = %v", err)
	}
	if err := objstore.CheckPut("k", -1, objstore.PutOptions{Metadata: map[string]string{"A-b": "v"}}); err != nil {
		t.Errorf("CheckPut(unknown size, metadata) = %v", err)
	}
	if got := objstore.NormalizeMetadata(map[string]string{"Owner": "x"}); got["owner"] != "x" || len(got) != 1 {
		t.Errorf("NormalizeMetadata = %v", got)
	}
	if got := objstore.NormalizeMetadata(map[string]string{}); got != nil {
		t.Errorf("NormalizeMetadata(empty) = %v, want nil", got)
	}
}

func TestCheckList(t *testing.T) {
	if n, err := objstore.CheckList(objstore.ListOptions{}); n != objstore.MaxListLimit || err != nil {
		t.Errorf("CheckList(zero) = %d, %v", n, err)
	}
	if n, err := objstore.CheckList(objstore.ListOptions{Limit: 7}); n != 7 || err != nil {
		t.Errorf("CheckList(7) = %d, %v", n, err)
	}
	for _, o := range []objstore.ListOptions{
		{Limit: -1}, {Limit: 1001}, {Prefix: strings.Repeat("p", 1025)}, {Delimiter: strings.Repeat("d", 1025)},
	} {
		if _, err := objstore.CheckList(o); err == nil {
			t.Errorf("CheckList(%.40v) = nil, want an error", o)
		}
	}
}

func TestCheckPresign(t *testing.T) {
	o, err := objstore.CheckPresign("k", objstore.PresignOptions{Method: "put"})
	if err != nil || o.Method != http.MethodPut || o.Expires != objstore.DefaultPresignExpiry {
		t.Errorf("CheckPresign(put) = %+v, %v", o, err)
	}
	for _, bad := range []objstore.PresignOptions{
		{Expires: 1500 * time.Millisecond}, {Expires: -time.Second}, {Method: "PATCH"},
	} {
		if _, err := objstore.CheckPresign("k", bad); err == nil {
			t.Errorf("CheckPresign(%+v) = nil", bad)
		}
	}
	if _, err := objstore.CheckPresign("", objstore.PresignOptions{}); err == nil {
		t.Error("CheckPresign with an empty key = nil")
	}
}

// TestRedact is reliability case R2-6 for the helpers: Go's *url.Error
// keeps the query string, RedactError removes it from every *url.Error in
// a chain, and errors.Is still sees through.
func TestRedact(t *testing.T) {
	const secret = "T0KENq-canary-signature"
	raw := "https://user:pass@acct.r2.cloudflarestorage.com/b/k?X-Amz-Signature=" + secret + "&token=" + secret + "#frag"
	if got := objstore.RedactURL(raw); strings.Contains(got, secret) || strings.Contains(got, "pass") || got != "https://acct.r2.cloudflarestorage.com/b/k" {
		t.Errorf("RedactURL = %q", got)
	}
	if got := objstore.RedactURL("http://[::1"); got != "(unparsable URL)" {
		t.Errorf("RedactURL(bad) = %q", got)
	}
	inner := &url.Error{Op: "Get", URL: raw, Err: context.DeadlineExceeded}
	second := &url.Error{Op: "Put", URL: raw, Err: io.EOF}
	err := lazy{"fetch", errors.Join(inner, lazy{"retry", second})}
	if !strings.Contains(err.Error(), secret) {
		t.Fatal("the canary is not in the error to begin with")
	}
	got := objstore.RedactError(err)
	if strings.Contains(got.Error(), secret) || strings.Contains(fmt.Sprintf("%+v %#v", got, inner), secret) {
		t.Errorf("RedactError left the signature: %v", got)
	}
	if !errors.Is(got, context.DeadlineExceeded) || !errors.Is(got, io.EOF) {
		t.Errorf("RedactError broke errors.Is: %v", got)
	}
	if objstore.RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
}

// lazy wraps an error and formats its message when asked, as the SDK's
// error types do (fmt.Errorf formats at once, so redaction must come
// before it).
type lazy struct {
	op  string
	err error
}

func (l lazy) Error() string { return l.op + ": " + l.err.Error() }
func (l lazy) Unwrap() error { return l.err }

// pagedStore is a Store whose List serves fixed pages, for ListAll.
type pagedStore struct {
	objstore.Store
	pages []objstore.ListResult
	calls int
}

func (p *pagedStore) List(_ context.Context, o objstore.ListOptions) (objstore.ListResult, error) {
	if p.calls >= len(p.pages) {
		return objstore.ListResult{}, errors.New("listed past the end")
	}
	p.calls++
	return p.pages[p.calls-1], nil
}

func TestListAll(t *testing.T) {
	s := &pagedStore{pages: []objstore.ListResult{
		{Objects: []objstore.ObjectInfo{{Key: "a"}}, Cursor: "c1"},
		{Prefixes: []string{"b/"}, Cursor: "c2"},
		{Objects: []objstore.ObjectInfo{{Key: "c"}}},
	}}
	res, err := objstore.ListAll(context.Background(), s, objstore.ListOptions{Cursor: "ignored"})
	if err != nil || len(res.Objects) != 2 || len(res.Prefixes) != 1 {
		t.Errorf("ListAll = %+v, %v", res, err)
	}
	loop := &pagedStore{pages: []objstore.ListResult{{Cursor: "same"}, {Cursor: "same"}}}
	if _, err := objstore.ListAll(context.Background(), loop, objstore.ListOptions{}); err == nil {
		t.Error("ListAll accepted a cursor that does not advance")
	}
	broken := &pagedStore{}
	if _, err := objstore.ListAll(context.Background(), broken, objstore.ListOptions{}); err == nil {
		t.Error("ListAll hid a List error")
	}
}
