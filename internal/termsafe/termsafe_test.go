package termsafe_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/factory-wager/edgeconf/internal/termsafe"
)

func TestString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"café ✓ 日本", "café ✓ 日本"},
		{"a b", "a b"},
		{"eve\x1b[2J\x1b[31mroot", `eve\x1b[2J\x1b[31mroot`},
		{"bob\nok  override  ports.main", `bob\x0aok  override  ports.main`},
		{"x\ry", `x\x0dy`},
		{"tab\there", `tab\x09here`},
		{"del\x7f", `del\x7f`},
		{"c1\u0085\u009b", `c1\u0085\u009b`},
		{"bidi\u202egnp.exe", `bidi\u202egnp.exe`},
		{"iso\u2066x\u2069", `iso\u2066x\u2069`},
		{"ls\u2028", `ls\u2028`},
		{"bad\xffutf8", `bad\xffutf8`},
	} {
		if got := termsafe.String(tc.in); got != tc.want {
			t.Errorf("String(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Property: the output never holds a control rune, whatever the input.
func FuzzString(f *testing.F) {
	f.Add("plain")
	f.Add("\x1b]0;title\x07")
	f.Add("\xc2\x9b31m")
	f.Fuzz(func(t *testing.T, s string) {
		out := termsafe.String(s)
		for _, r := range out {
			if unicode.IsControl(r) || r == '\u202e' || r == '\u2028' {
				t.Fatalf("String(%q) = %q keeps %U", s, out, r)
			}
		}
		if !strings.ContainsAny(s, "\\") && !strings.Contains(out, "\\") && out != s {
			t.Fatalf("String(%q) = %q changed text without escaping", s, out)
		}
	})
}
