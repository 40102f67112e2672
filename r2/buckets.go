package r2

import (
	"context"
	"errors"
	"fmt"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/objstore"
)

// BucketAPI is the part of the Cloudflare REST API client that manages R2
// buckets; *cloudflare.Client implements it (over cloudflare-go's r2
// package, with its retry policy). The S3 API is for objects only.
type BucketAPI interface {
	// EnsureBucket returns the bucket called name, creating it if needed.
	EnsureBucket(ctx context.Context, name string) (b cloudflare.Bucket, created bool, err error)
}

var _ BucketAPI = (*cloudflare.Client)(nil)

// Provisioned is what Provision did for one binding.
type Provisioned struct {
	Binding  string
	Bucket   string
	Created  bool   // false: the bucket existed and was adopted
	Location string // as Cloudflare reports it, e.g. ENAM
}

// Provision makes sure the bucket of every binding exists, creating the
// missing ones through the REST API; existing buckets are adopted, never
// an error. It goes on after a failure and reports every one at the end.
func Provision(ctx context.Context, api BucketAPI, buckets []config.R2Bucket) ([]Provisioned, error) {
	var done []Provisioned
	var errs []error
	seen := map[string]Provisioned{}
	for _, b := range buckets {
		if err := objstore.CheckBucketName(b.Bucket); err != nil {
			errs = append(errs, fmt.Errorf("r2 binding %s: %w", b.Binding, err))
			continue
		}
		if p, ok := seen[b.Bucket]; ok { // two bindings of one bucket: one call
			done = append(done, Provisioned{Binding: b.Binding, Bucket: p.Bucket, Location: p.Location})
			continue
		}
		got, created, err := api.EnsureBucket(ctx, b.Bucket)
		if err != nil {
			errs = append(errs, fmt.Errorf("r2 binding %s: %w", b.Binding, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		p := Provisioned{Binding: b.Binding, Bucket: got.Name, Created: created, Location: got.Location}
		seen[b.Bucket] = p
		done = append(done, p)
	}
	return done, errors.Join(errs...)
}
