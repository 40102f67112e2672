package config

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Redaction: one place decides what is a secret in a value that is about
// to be printed. A password in URL userinfo ("http://user:PW@host", also
// without a scheme: "user:PW@host:3128") is replaced with "xxxxx"
// wherever it appears in a string value; every printer of configuration
// or override values (get, validate, override set/get/list/history/
// rollback/export) goes through RedactURL or RedactValue.

// redactedPassword replaces a password, as url.URL.Redacted does.
const redactedPassword = "xxxxx"

// RedactURL replaces the password of a URL with "xxxxx". Text with no
// userinfo password comes back unchanged; text with an "@" that cannot be
// parsed is redacted from the start to its last "@".
func RedactURL(s string) string {
	if s == "" || !strings.Contains(s, "@") {
		return s
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "(unparseable URL with credentials, redacted)"
		}
		if u.Opaque == "" {
			return u.Redacted()
		}
	} else if strings.ContainsAny(s, " \t\r\n") {
		return s // text, not a URL
	}
	// No scheme ("user:PW@host:3128" parses as scheme "user" with an
	// opaque rest), or unparseable: cut the userinfo by hand.
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	at := strings.LastIndex(rest, "@")
	user := rest[:at]
	i := strings.Index(user, ":")
	if i < 0 {
		return s // a user name only: nothing secret
	}
	return prefix + user[:i] + ":" + redactedPassword + rest[at:]
}

// RedactValue returns a copy of v (a decoded JSON or YAML value) with
// every string passed through RedactURL.
func RedactValue(v any) any {
	switch x := v.(type) {
	case string:
		return RedactURL(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = RedactValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = RedactValue(e)
		}
		return out
	}
	return v
}

// RedactJSON is RedactValue for an encoded JSON value; it returns b
// itself when nothing needed redacting or b is not JSON.
func RedactJSON(b []byte) []byte {
	if len(b) == 0 || !strings.Contains(string(b), "@") {
		return b
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return b
	}
	out, err := json.Marshal(RedactValue(v))
	if err != nil {
		return b
	}
	return out
}
