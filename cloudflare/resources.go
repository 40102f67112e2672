package cloudflare

import (
	"context"
	"errors"
	"fmt"

	"github.com/cloudflare/cloudflare-go/v6/d1"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/r2"
)

// ErrNotFound is wrapped by the errors of lookups (namespace, bucket,
// database) that find nothing.
var ErrNotFound = errors.New("not found")

// Namespace is a Workers KV namespace.
type Namespace struct {
	ID    string
	Title string
}

// NamespaceRef names a namespace by id or, when ID is "", by title — as a
// cloudflare.kvNamespaces entry of the configuration does.
type NamespaceRef struct {
	ID    string
	Title string
}

func (r NamespaceRef) String() string {
	switch {
	case r.ID != "" && r.Title != "":
		return fmt.Sprintf("%s (%s)", r.ID, r.Title)
	case r.ID != "":
		return r.ID
	}
	return fmt.Sprintf("titled %q", r.Title)
}

// Namespaces lists every KV namespace of the account.
func (c *Client) Namespaces(ctx context.Context) ([]Namespace, error) {
	if err := c.needAccount(); err != nil {
		return nil, err
	}
	var p kv.NamespaceListParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	p.PerPage.Value, p.PerPage.Present = 100, true
	var out []Namespace
	it := c.kv.ListAutoPaging(ctx, p)
	for it.Next() {
		ns := it.Current()
		out = append(out, Namespace{ID: ns.ID, Title: ns.Title})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("list kv namespaces: %w", err)
	}
	return out, nil
}

// ResolveNamespace finds a namespace by id (checking that it exists) or by
// title. It returns an error wrapping ErrNotFound when there is none.
func (c *Client) ResolveNamespace(ctx context.Context, ref NamespaceRef) (Namespace, error) {
	if err := c.needAccount(); err != nil {
		return Namespace{}, err
	}
	switch {
	case ref.ID != "":
		var p kv.NamespaceGetParams
		p.AccountID.Value, p.AccountID.Present = c.accountID, true
		ns, err := c.kv.Get(ctx, ref.ID, p)
		err = sdkErr(ctx, "get kv namespace", err)
		if err != nil {
			if IsNotFound(err) || HasCode(err, CodeNamespaceNotFound) {
				return Namespace{}, fmt.Errorf("kv namespace %s: %w in account %s (%w)", ref, ErrNotFound, c.accountID, err)
			}
			return Namespace{}, fmt.Errorf("kv namespace %s: %w", ref, err)
		}
		return Namespace{ID: ns.ID, Title: ns.Title}, nil
	case ref.Title != "":
		all, err := c.Namespaces(ctx)
		if err != nil {
			return Namespace{}, err
		}
		for _, ns := range all {
			if ns.Title == ref.Title {
				return ns, nil
			}
		}
		return Namespace{}, fmt.Errorf("kv namespace %s: %w in account %s", ref, ErrNotFound, c.accountID)
	}
	return Namespace{}, errors.New("kv namespace: neither an id nor a title given")
}

// EnsureNamespace returns the namespace titled title, creating it if the
// account has none. Creating is not idempotent on Cloudflare, so a title
// that already exists (code 10014, for instance because an earlier attempt
// succeeded but its answer was lost) is adopted, never duplicated.
func (c *Client) EnsureNamespace(ctx context.Context, title string) (ns Namespace, created bool, err error) {
	if ns, err := c.ResolveNamespace(ctx, NamespaceRef{Title: title}); err == nil || !errors.Is(err, ErrNotFound) {
		return ns, false, err
	}
	var p kv.NamespaceNewParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	p.Title.Value, p.Title.Present = title, true
	res, err := c.kv.New(ctx, p)
	if err == nil {
		c.logger.Info("cloudflare: created kv namespace", "title", title, "id", res.ID)
		return Namespace{ID: res.ID, Title: res.Title}, true, nil
	}
	if !HasCode(err, CodeNamespaceExists) {
		return Namespace{}, false, fmt.Errorf("create kv namespace %q: %w", title, err)
	}
	ns, err = c.ResolveNamespace(ctx, NamespaceRef{Title: title})
	if err != nil {
		return Namespace{}, false, fmt.Errorf("create kv namespace %q: it exists but cannot be found: %w", title, err)
	}
	c.logger.Info("cloudflare: adopted existing kv namespace", "title", title, "id", ns.ID)
	return ns, false, nil
}

// Bucket is an R2 bucket.
type Bucket struct {
	Name         string
	Location     string
	StorageClass string
	CreationDate string
}

// Bucket returns the R2 bucket called name, or an error wrapping
// ErrNotFound when the account has none.
func (c *Client) Bucket(ctx context.Context, name string) (Bucket, error) {
	if err := c.needAccount(); err != nil {
		return Bucket{}, err
	}
	var p r2.BucketGetParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	b, err := c.buckets.Get(ctx, name, p)
	if err != nil {
		if IsNotFound(err) || HasCode(err, CodeBucketNotFound) {
			return Bucket{}, fmt.Errorf("r2 bucket %q: %w in account %s", name, ErrNotFound, c.accountID)
		}
		return Bucket{}, fmt.Errorf("r2 bucket %q: %w", name, err)
	}
	return Bucket{Name: b.Name, Location: string(b.Location), StorageClass: string(b.StorageClass), CreationDate: b.CreationDate}, nil
}

// Buckets lists every R2 bucket of the account (following the cursor).
func (c *Client) Buckets(ctx context.Context) ([]Bucket, error) {
	if err := c.needAccount(); err != nil {
		return nil, err
	}
	var out []Bucket
	cursor := ""
	for {
		var p r2.BucketListParams
		p.AccountID.Value, p.AccountID.Present = c.accountID, true
		p.PerPage.Value, p.PerPage.Present = 1000, true
		if cursor != "" {
			p.Cursor.Value, p.Cursor.Present = cursor, true
		}
		var env struct {
			Result     r2.BucketListResponse `json:"result"`
			ResultInfo struct {
				Cursor string `json:"cursor"`
			} `json:"result_info"`
		}
		if _, err := c.buckets.List(ctx, p, option.WithResponseBodyInto(&env)); err != nil {
			return nil, fmt.Errorf("list r2 buckets: %w", err)
		}
		for _, b := range env.Result.Buckets {
			out = append(out, Bucket{Name: b.Name, Location: string(b.Location), StorageClass: string(b.StorageClass), CreationDate: b.CreationDate})
		}
		if env.ResultInfo.Cursor == "" || len(env.Result.Buckets) == 0 {
			return out, nil
		}
		cursor = env.ResultInfo.Cursor
	}
}

// EnsureBucket returns the bucket called name, creating it if needed. An
// existing bucket (code 10004) is adopted, never an error.
func (c *Client) EnsureBucket(ctx context.Context, name string) (b Bucket, created bool, err error) {
	if b, err := c.Bucket(ctx, name); err == nil || !errors.Is(err, ErrNotFound) {
		return b, false, err
	}
	var p r2.BucketNewParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	p.Name.Value, p.Name.Present = name, true
	res, err := c.buckets.New(ctx, p)
	if err == nil {
		c.logger.Info("cloudflare: created r2 bucket", "name", name)
		return Bucket{Name: res.Name, Location: string(res.Location), StorageClass: string(res.StorageClass), CreationDate: res.CreationDate}, true, nil
	}
	if !HasCode(err, CodeBucketExists) {
		return Bucket{}, false, fmt.Errorf("create r2 bucket %q: %w", name, err)
	}
	b, err = c.Bucket(ctx, name)
	if err != nil {
		return Bucket{}, false, fmt.Errorf("create r2 bucket %q: it exists but cannot be read: %w", name, err)
	}
	c.logger.Info("cloudflare: adopted existing r2 bucket", "name", name)
	return b, false, nil
}

// Database is a D1 database.
type Database struct {
	UUID string
	Name string
}

// Database returns the D1 database called name, or an error wrapping
// ErrNotFound.
func (c *Client) Database(ctx context.Context, name string) (Database, error) {
	if err := c.needAccount(); err != nil {
		return Database{}, err
	}
	var p d1.DatabaseListParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	p.Name.Value, p.Name.Present = name, true
	it := c.dbs.ListAutoPaging(ctx, p)
	for it.Next() {
		if db := it.Current(); db.Name == name {
			return Database{UUID: db.UUID, Name: db.Name}, nil
		}
	}
	if err := it.Err(); err != nil {
		return Database{}, fmt.Errorf("d1 database %q: %w", name, err)
	}
	return Database{}, fmt.Errorf("d1 database %q: %w in account %s", name, ErrNotFound, c.accountID)
}

// EnsureDatabase returns the D1 database called name, creating it if
// needed; a name that already exists is adopted.
func (c *Client) EnsureDatabase(ctx context.Context, name string) (db Database, created bool, err error) {
	if db, err := c.Database(ctx, name); err == nil || !errors.Is(err, ErrNotFound) {
		return db, false, err
	}
	var p d1.DatabaseNewParams
	p.AccountID.Value, p.AccountID.Present = c.accountID, true
	p.Name.Value, p.Name.Present = name, true
	res, err := c.dbs.New(ctx, p)
	if err == nil {
		c.logger.Info("cloudflare: created d1 database", "name", name, "uuid", res.UUID)
		return Database{UUID: res.UUID, Name: res.Name}, true, nil
	}
	if !HasCode(err, CodeDatabaseExists) {
		return Database{}, false, fmt.Errorf("create d1 database %q: %w", name, err)
	}
	db, err = c.Database(ctx, name)
	if err != nil {
		return Database{}, false, fmt.Errorf("create d1 database %q: it exists but cannot be found: %w", name, err)
	}
	c.logger.Info("cloudflare: adopted existing d1 database", "name", name, "uuid", db.UUID)
	return db, false, nil
}
