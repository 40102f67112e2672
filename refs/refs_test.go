package refs_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/refs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		uri     string
		want    refs.Ref
		wantErr string
	}{
		{"kv://CONFIG/premium-users", refs.Ref{Kind: "kv", Binding: "CONFIG", Key: "premium-users"}, ""},
		{"kv://CONFIG/a/b/c", refs.Ref{Kind: "kv", Binding: "CONFIG", Key: "a/b/c"}, ""},
		{"r2://FILES/certs/tls.pem", refs.Ref{Kind: "r2", Binding: "FILES", Key: "certs/tls.pem"}, ""},
		{"d1://DB?sql=SELECT+value+FROM+s+WHERE+k%3D%27a%27;", refs.Ref{Kind: "d1", Binding: "DB", SQL: "SELECT value FROM s WHERE k='a';"}, ""},
		{"do://SESSIONS/main", refs.Ref{Kind: "do", Binding: "SESSIONS", Key: "main"}, ""},
		{"CONFIG/x", refs.Ref{}, "expected kv://"},
		{"s3://B/x", refs.Ref{}, `unknown kind "s3"`},
		{"kv://CONFIG", refs.Ref{}, "expected kv://BINDING/key"},
		{"kv://CONFIG/..", refs.Ref{}, "not allowed"},
		{"kv://CONFIG/" + strings.Repeat("k", 513), refs.Ref{}, "key length limit of 512"},
		{"r2://FILES/" + strings.Repeat("k", 1025), refs.Ref{}, "1024-byte limit"},
		{"d1://DB", refs.Ref{}, "expected d1://BINDING?sql="},
		{"d1://DB?sql=", refs.Ref{}, "empty"},
		{"d1://DB?sql=%zz", refs.Ref{}, "URL-encoded"},
		{"kv://9X/key", refs.Ref{}, "not a binding name"},
		{"do://SESSIONS/", refs.Ref{}, "expected do://BINDING/name"},
	}
	for _, tc := range tests {
		t.Run(tc.uri[:min(len(tc.uri), 40)], func(t *testing.T) {
			got, err := refs.Parse(tc.uri)
			if tc.wantErr != "" {
				var pe *refs.ParseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse(%q) error = %v, want *ParseError containing %q", tc.uri, err, tc.wantErr)
				}
				if len(err.Error()) > 300 {
					t.Errorf("error message is %d bytes; long URIs must be elided", len(err.Error()))
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Parse(%q) = %+v, %v; want %+v", tc.uri, got, err, tc.want)
			}
			back, err := refs.Parse(got.String())
			if err != nil || back != got {
				t.Errorf("String() %q does not parse back: %+v, %v", got.String(), back, err)
			}
		})
	}
	if r, err := refs.FromCrossReference("KV", "CONFIG/users"); err != nil || r.Key != "users" {
		t.Errorf("FromCrossReference = %+v, %v", r, err)
	}
	if r, err := refs.FromCrossReference("D1", "DB?sql=SELECT+1"); err != nil || r.SQL != "SELECT 1" {
		t.Errorf("FromCrossReference(D1) = %+v, %v", r, err)
	}
}

func resolver(t *testing.T, kv map[string]string) (*refs.Resolver, *kvstore.Memory) {
	t.Helper()
	m := kvstore.NewMemory(nil)
	for k, v := range kv {
		if err := m.Put(context.Background(), k, []byte(v), kvstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &refs.Resolver{KV: func(b string) (kvstore.Store, bool) { return m, b == "CONFIG" }}, m
}

func TestResolve(t *testing.T) {
	chain := map[string]string{"users": `["a","b"]`, "alias": "kv://CONFIG/users", "alias2": " kv://CONFIG/alias\n",
		"loop1": "kv://CONFIG/loop2", "loop2": "kv://CONFIG/loop1", "self": "kv://CONFIG/self", "bad": "kv://CONFIG/.."}
	for i := 0; i < 10; i++ {
		chain["d"+string(rune('0'+i))] = "kv://CONFIG/d" + string(rune('0'+i+1))
	}
	chain["d:"] = "end"
	rv, _ := resolver(t, chain)
	ctx := context.Background()
	tests := []struct {
		uri, want string
		hops      int
		err       error
		errText   string
	}{
		{"kv://CONFIG/users", `["a","b"]`, 1, nil, ""},
		{"kv://CONFIG/alias2", `["a","b"]`, 3, nil, ""},
		{"kv://CONFIG/loop1", "", 0, refs.ErrCycle, "kv://CONFIG/loop1 -> kv://CONFIG/loop2 -> kv://CONFIG/loop1"},
		{"kv://CONFIG/self", "", 0, refs.ErrCycle, ""},
		{"kv://CONFIG/d0", "", 0, refs.ErrTooDeep, "more than 8 hops"},
		{"kv://CONFIG/d3", "end", 8, nil, ""},
		{"kv://CONFIG/missing", "", 0, kvstore.ErrNotFound, ""},
		{"kv://OTHER/x", "", 0, nil, "no KV namespace is bound as OTHER"},
		{"kv://CONFIG/bad", "", 0, nil, "holds a bad reference"},
		{"r2://FILES/x", "", 0, refs.ErrNotAvailable, "R2 references"},
		{"d1://DB?sql=SELECT+1", "", 0, refs.ErrNotAvailable, ""},
		{"do://S/x", "", 0, refs.ErrNotAvailable, ""},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			r, err := refs.Parse(tc.uri)
			if err != nil {
				t.Fatal(err)
			}
			res, err := rv.Resolve(ctx, r)
			if tc.err != nil || tc.errText != "" {
				if tc.err != nil && !errors.Is(err, tc.err) || tc.errText != "" && (err == nil || !strings.Contains(err.Error(), tc.errText)) {
					t.Fatalf("Resolve(%s) error = %v, want %v / %q", tc.uri, err, tc.err, tc.errText)
				}
				return
			}
			if err != nil || string(res.Value) != tc.want || len(res.Chain) != tc.hops {
				t.Fatalf("Resolve(%s) = %q via %v, %v; want %q in %d hops", tc.uri, res.Value, res.Chain, err, tc.want, tc.hops)
			}
		})
	}
	if _, err := (&refs.Resolver{}).Resolve(ctx, refs.Ref{Kind: "kv", Binding: "C", Key: "k"}); !errors.Is(err, refs.ErrNotAvailable) {
		t.Errorf("no KV resolver: %v", err)
	}
}

func TestResolve_PluggedFetcherAndCache(t *testing.T) {
	calls := 0
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rv := &refs.Resolver{
		R2: refs.FetcherFunc(func(_ context.Context, r refs.Ref) ([]byte, error) {
			calls++
			if r.Key == "boom" {
				return nil, errors.New("boom")
			}
			return []byte("object " + r.Key), nil
		}),
		CacheTTL: time.Minute,
		Now:      func() time.Time { return now },
	}
	ctx := context.Background()
	r, _ := refs.Parse("r2://FILES/a")
	for i := 0; i < 3; i++ {
		res, err := rv.Resolve(ctx, r)
		if err != nil || string(res.Value) != "object a" {
			t.Fatalf("Resolve = %q, %v", res.Value, err)
		}
	}
	if calls != 1 {
		t.Errorf("fetched %d times within the cache TTL, want 1", calls)
	}
	now = now.Add(time.Minute)
	if _, err := rv.Resolve(ctx, r); err != nil || calls != 2 {
		t.Errorf("after the TTL: calls = %d, err %v; want a second fetch", calls, err)
	}
	boom, _ := refs.Parse("r2://FILES/boom")
	if _, err := rv.Resolve(ctx, boom); err == nil || !strings.Contains(err.Error(), "r2://FILES/boom: boom") {
		t.Errorf("fetch error = %v", err)
	}
}

func TestValidators(t *testing.T) {
	valid, err := os.ReadFile("../config/testdata/certs/valid.crt")
	if err != nil {
		t.Fatal(err)
	}
	cert := string(valid)
	broken := strings.Replace(cert, "MII", "XXX", 1)
	tests := []struct {
		name, value string
		ok          bool
	}{
		{"json", `{"a":1}`, true}, {"json", `{"a":`, false},
		{"json-string-list", `["a","b"]`, true}, {"json-string-list", `["a",""]`, false}, {"json-string-list", `[1]`, false}, {"json-string-list", `null`, false},
		{"pem-certificate", "not pem", false}, {"pem-certificate", cert, true}, {"pem-certificate", broken, false},
		{"url", "https://example.com/x", true}, {"url", "example.com", false},
		{"non-empty", " x ", true}, {"non-empty", " \n", false},
		{"number", " 42.5\n", true}, {"number", "4x", false},
		{"", "anything", true},
	}
	for _, tc := range tests {
		err := refs.Check(tc.name, []byte(tc.value))
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q, %.20q) = %v, want ok=%v", tc.name, tc.value, err, tc.ok)
		}
	}
	if err := refs.Check("nope", nil); err == nil {
		t.Error("unknown validator accepted")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"kv://CONFIG/x", "r2://F/a/b", "d1://DB?sql=SELECT+1&x=2", "do://S/n", "kv://", "::", "d1://?sql=%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		r, err := refs.Parse(uri)
		if err != nil {
			return
		}
		back, err := refs.Parse(r.String())
		if err != nil || back != r {
			t.Fatalf("Parse(%q) = %+v, whose String %q parses to %+v, %v", uri, r, r.String(), back, err)
		}
	})
}
