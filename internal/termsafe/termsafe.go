// Package termsafe makes strings that come from storage or the network
// safe to print on a terminal: control characters (escape sequences, line
// breaks, carriage returns, tabs that shift table columns) and the Unicode
// bidirectional overrides that reorder what is shown are replaced by visible
// escapes, so a stored value cannot forge lines or repaint the screen.
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// String returns s with every unsafe rune replaced by a visible escape:
// C0 and C1 controls and DEL as \xNN or \u00NN, bidirectional controls as
// \uNNNN, and invalid UTF-8 bytes as \xNN. Printable text, spaces included,
// is unchanged; a string that needs nothing is returned as is.
func String(s string) string {
	if !needs(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case isUnsafe(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case isUnsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needs(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || isUnsafe(r) {
			return true
		}
		i += size
	}
	return false
}

// isUnsafe reports control characters and bidirectional formatting runes.
func isUnsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028, r == 0x2029: // line and paragraph separators
		return true
	}
	return false
}
