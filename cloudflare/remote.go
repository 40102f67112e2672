package cloudflare

import (
	"context"
	"errors"
	"fmt"
)

// KVOptions builds a remote KV store in one call: the client options and
// which namespace.
type KVOptions struct {
	Options            // BaseURL, Token, AccountID, HTTPClient, Logger, Retry, Clock
	NamespaceID string // the namespace id; "" means find the namespace by Title
	Title       string // the namespace title (as in cloudflare.kvNamespaces); shown by Target
}

// NewKV returns the store of the namespace opts names, after checking
// (one request, or one listing when only the title is known) that it
// exists: a missing namespace is an error wrapping ErrNotFound, a missing
// token or account id an error naming the variable.
func NewKV(ctx context.Context, opts KVOptions) (*KV, error) {
	c, err := New(opts.Options)
	if err != nil {
		return nil, err
	}
	if err := c.needAccount(); err != nil {
		return nil, err
	}
	if opts.NamespaceID == "" && opts.Title == "" {
		return nil, fmt.Errorf("cloudflare: a KV namespace id (%s) or title is required", EnvNamespaceID)
	}
	ns, err := c.ResolveNamespace(ctx, NamespaceRef{ID: opts.NamespaceID, Title: opts.Title})
	if err != nil {
		return nil, err
	}
	if ns.Title == "" {
		ns.Title = opts.Title
	}
	return c.KVNamespace(ns), nil
}

// Resources are what a configuration expects to find in the account.
type Resources struct {
	Namespaces []NamespaceRef // cloudflare.kvNamespaces
	Buckets    []string       // cloudflare.r2Buckets[].bucket
	Databases  []string       // cloudflare.d1Databases[].name
}

// Problem is one failed remote check.
type Problem struct {
	Kind string // "token", "kv namespace", "r2 bucket" or "d1 database"
	Name string // the resource as configured
	Err  error  // wraps ErrNotFound when the resource does not exist
}

func (p Problem) Error() string { return fmt.Sprintf("%s %s: %v", p.Kind, p.Name, p.Err) }

// CheckRemote verifies the token and then that every resource exists,
// returning every problem found (nil when there is none). When the token
// itself fails, nothing else is checked.
func (c *Client) CheckRemote(ctx context.Context, r Resources) []Problem {
	if _, err := c.VerifyToken(ctx); err != nil {
		return []Problem{{Kind: "token", Name: EnvAPIToken, Err: err}}
	}
	var out []Problem
	for _, ref := range r.Namespaces {
		if _, err := c.ResolveNamespace(ctx, ref); err != nil {
			out = append(out, Problem{Kind: "kv namespace", Name: ref.String(), Err: err})
		}
	}
	for _, name := range r.Buckets {
		if _, err := c.Bucket(ctx, name); err != nil {
			out = append(out, Problem{Kind: "r2 bucket", Name: name, Err: err})
		}
	}
	for _, name := range r.Databases {
		if _, err := c.Database(ctx, name); err != nil {
			out = append(out, Problem{Kind: "d1 database", Name: name, Err: err})
		}
	}
	return out
}

// Missing reports whether p is about a resource that does not exist (as
// opposed to one that could not be checked).
func (p Problem) Missing() bool { return errors.Is(p.Err, ErrNotFound) }
