package localfs

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/factory-wager/edgeconf/objstore"
)

func TestEncodeKey(t *testing.T) {
	long := strings.Repeat("a", 81)
	for _, tc := range []struct{ key, want string }{
		{"plain.txt", "plain.txt"},
		{"certs/tls.pem", "certs%2F/tls.pem"},
		{"a//b", "a%2F/%2F/b"},
		{"/etc/passwd", "%2F/etc%2F/passwd"},
		{"../x", "%2E.%2F/x"},
		{"dir/", "dir%2F/%"},
		{"/", "%2F/%"},
		{".", "%2E"},
		{"a.b.", "a.b."},
		{"UP", "%55%50"},
		{"%+", "%25%2B"},
		{long, strings.Repeat("a", 80) + "+/a"},
		{strings.Repeat("a", 80) + "/", strings.Repeat("a", 80) + "+/%2F/%"},
		{strings.Repeat("a", 79) + "/", strings.Repeat("a", 79) + "%2F/%"},
		{strings.Repeat("a", 80) + ".", strings.Repeat("a", 80) + "+/%2E"},
	} {
		if got := encodeKey(tc.key); got != tc.want {
			t.Errorf("encodeKey(%q) = %q, want %q", tc.key, got, tc.want)
		}
		if got, ok := decodePath(tc.want); !ok || got != tc.key {
			t.Errorf("decodePath(%q) = %q, %t; want %q", tc.want, got, ok, tc.key)
		}
	}
	for _, bad := range []string{"", "%", "A", "a+", "x%2F", "a%2F/", "%zz", "%4", "dir/x", "a+/b+", "%2F/%2F"} {
		if got, ok := decodePath(bad); ok {
			t.Errorf("decodePath(%q) = %q, want refused", bad, got)
		}
	}
}

// FuzzEncodeKey checks that the key encoding is reversible (so
// injective), and that every name fits a file name and none starts
// with ".".
func FuzzEncodeKey(f *testing.F) {
	for _, k := range []string{"a", "a/b", "a//b", "./x", "../x", "é", "e\u0301", "x/", strings.Repeat("é", 512), strings.Repeat("/", 1024)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if objstore.CheckKey(key) != nil {
			return
		}
		p := encodeKey(key)
		got, ok := decodePath(p)
		if !ok || got != key {
			t.Fatalf("decodePath(encodeKey(%q)) = %q, %t", key, got, ok)
		}
		for _, name := range strings.Split(p, "/") {
			if name == "" || len(name) > 255 || strings.HasPrefix(name, ".") || !utf8.ValidString(name) {
				t.Fatalf("encodeKey(%q) has the name %q", key, name)
			}
		}
	})
}

// FuzzDecodePath feeds decodePath arbitrary paths, as a foreign folder
// could hold: it must not panic, and whatever it accepts is canonical.
func FuzzDecodePath(f *testing.F) {
	for _, p := range []string{"a", "a%2F/b", "%", "x+/y", "%2E", "%zz", "a%2F/", "A"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if key, ok := decodePath(p); ok && encodeKey(key) != p {
			t.Fatalf("decodePath(%q) = %q, which encodes to %q", p, key, encodeKey(key))
		}
	})
}
