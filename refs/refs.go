// Package refs parses, resolves and checks cross-API references: URIs
// that say a configuration value lives in another Cloudflare API.
//
//	kv://BINDING/key            a Workers KV value
//	r2://BINDING/object/key     an R2 object
//	d1://BINDING?sql=SELECT...  the first column of the first row of a D1 query
//	do://BINDING/name           a Durable Object
//
// A KV value that is itself exactly a kv:// URI is followed, up to MaxDepth
// hops, and a cycle is an error. Resolvers for R2, D1 and Durable Objects
// plug in through the Resolver fields; until one is set, resolving such a
// reference fails with ErrNotAvailable — never a fake success.
package refs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/factory-wager/edgeconf/kvstore"
)

// MaxDepth is how many kv:// hops a chain may take.
const MaxDepth = 8

// Kinds of reference.
const (
	KV = "kv"
	R2 = "r2"
	D1 = "d1"
	DO = "do"
)

// Ref is a parsed reference.
type Ref struct {
	Kind    string // KV, R2, D1 or DO
	Binding string // the binding name, e.g. CONFIG
	Key     string // KV key, R2 object key or DO name; "" for D1
	SQL     string // D1 only
}

// String renders the canonical URI.
func (r Ref) String() string {
	if r.Kind == D1 {
		return "d1://" + r.Binding + "?sql=" + url.QueryEscape(r.SQL)
	}
	return r.Kind + "://" + r.Binding + "/" + r.Key
}

// ParseError says what is wrong with a reference URI.
type ParseError struct {
	URI string
	Msg string
}

func (e *ParseError) Error() string {
	u := e.URI
	if len(u) > 80 {
		u = u[:80] + "..."
	}
	return fmt.Sprintf("reference %q: %s", u, e.Msg)
}

// Parse parses a reference URI.
func Parse(uri string) (Ref, error) {
	kind, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return Ref{}, &ParseError{uri, "expected kv://, r2://, d1:// or do:// followed by BINDING"}
	}
	r := Ref{Kind: kind}
	switch kind {
	case KV, R2, DO:
		b, key, ok := strings.Cut(rest, "/")
		if !ok || key == "" {
			return Ref{}, &ParseError{uri, fmt.Sprintf("expected %s://BINDING/%s", kind, map[string]string{KV: "key", R2: "object/key", DO: "name"}[kind])}
		}
		r.Binding, r.Key = b, key
		if kind == KV {
			if err := kvstore.CheckKey(key); err != nil {
				return Ref{}, &ParseError{uri, err.Error()}
			}
		}
		if kind == R2 && len(key) > 1024 {
			return Ref{}, &ParseError{uri, fmt.Sprintf("object key of %d bytes exceeds R2's 1024-byte limit", len(key))}
		}
	case D1:
		b, q, ok := strings.Cut(rest, "?")
		if !ok {
			return Ref{}, &ParseError{uri, "expected d1://BINDING?sql=SELECT..."}
		}
		sql := ""
		for _, part := range strings.Split(q, "&") {
			if raw, ok := strings.CutPrefix(part, "sql="); ok {
				s, err := url.QueryUnescape(raw)
				if err != nil {
					return Ref{}, &ParseError{uri, "the sql= value is not URL-encoded correctly"}
				}
				sql = s
			}
		}
		if strings.TrimSpace(sql) == "" {
			return Ref{}, &ParseError{uri, "the sql= query is empty"}
		}
		r.Binding, r.SQL = b, sql
	default:
		return Ref{}, &ParseError{uri, fmt.Sprintf("unknown kind %q; use kv, r2, d1 or do", kind)}
	}
	if !validBinding(r.Binding) {
		return Ref{}, &ParseError{uri, fmt.Sprintf("%q is not a binding name (a JavaScript identifier such as CONFIG)", r.Binding)}
	}
	return r, nil
}

// FromCrossReference builds the URI of a config crossReferences entry
// (source KV|R2|D1|DO and path BINDING/key or BINDING?sql=...).
func FromCrossReference(source, path string) (Ref, error) {
	return Parse(strings.ToLower(source) + "://" + path)
}

func validBinding(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '$' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// ErrNotAvailable is returned for a reference that cannot be resolved
// where the command runs: a kind with no resolver (do://), or a store with
// no credentials or no data yet; the error says which.
var ErrNotAvailable = errors.New("reference cannot be resolved here")

// ErrCycle is returned when kv:// references lead back to themselves.
var ErrCycle = errors.New("reference cycle")

// ErrTooDeep is returned when a kv:// chain is longer than MaxDepth.
var ErrTooDeep = errors.New("reference chain too deep")
