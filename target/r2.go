package target

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/localfs"
	"github.com/factory-wager/edgeconf/r2"
	"github.com/factory-wager/edgeconf/refs"
)

// LocalR2BaseURL is where presigned URLs of local buckets point by
// default: the dashboard's address, under which a server mounts
// localfs.Handler for each bucket at /r2/BUCKET.
const LocalR2BaseURL = "http://127.0.0.1:3000/r2/"

// BucketRef names a bucket: its name, the binding it was reached through
// ("" for a bare name) and whether requests carry requester-pays.
type BucketRef struct {
	Name          string
	Binding       string
	RequesterPays bool
}

// Bucket is an open object store.
type Bucket struct {
	Store       objstore.Store
	Name        string
	Description string // "local bucket DIR", "R2 bucket NAME at ..."
	Local       bool
}

// Close releases the store.
func (b *Bucket) Close() error {
	if c, ok := b.Store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// OpenBucket opens ref: the folder STATE/r2/NAME (created on demand;
// presigned URLs point at baseURL, "" for LocalR2BaseURL+NAME), or with
// Options.Remote R2's S3 API at R2_ENDPOINT, else the account's R2
// endpoint, with R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY. Missing
// credentials are a usage error naming the variables.
func OpenBucket(opts Options, ref BucketRef, baseURL string) (*Bucket, error) {
	lookup := orNoEnv(opts.LookupEnv)
	if !opts.Remote {
		if baseURL == "" {
			baseURL = LocalR2BaseURL + ref.Name
		}
		dir := filepath.Join(StateDir(lookup, opts.ConfigPath), "r2", ref.Name)
		s, err := localfs.Open(localfs.Options{Dir: dir, BaseURL: baseURL, Now: opts.Now})
		if err != nil {
			return nil, err
		}
		return &Bucket{Store: s, Name: ref.Name, Description: s.Target(), Local: true}, nil
	}
	env := func(name string) string { v, _ := lookup(name); return strings.TrimSpace(v) }
	ro := r2.Options{
		Bucket: ref.Name, Endpoint: env("R2_ENDPOINT"), AccountID: env("CLOUDFLARE_ACCOUNT_ID"),
		AccessKeyID: env("R2_ACCESS_KEY_ID"), SecretAccessKey: env("R2_SECRET_ACCESS_KEY"), RequesterPays: ref.RequesterPays,
		Logger: opts.Logger,
	}
	var missing []string
	if ro.Endpoint == "" && ro.AccountID == "" {
		missing = append(missing, "R2_ENDPOINT (or CLOUDFLARE_ACCOUNT_ID)")
	}
	if ro.AccessKeyID == "" {
		missing = append(missing, "R2_ACCESS_KEY_ID")
	}
	if ro.SecretAccessKey == "" {
		missing = append(missing, "R2_SECRET_ACCESS_KEY")
	}
	if len(missing) > 0 {
		return nil, usagef("--remote needs %s in the environment or .env (an R2 API token's S3 credentials)", strings.Join(missing, ", "))
	}
	s, err := r2.New(ro)
	if err != nil {
		return nil, usageErr{err}
	}
	return &Bucket{Store: s, Name: ref.Name, Description: s.Target()}, nil
}

// R2Fetcher resolves r2:// references of doc's bindings through the local
// bucket folders, or with Options.Remote through R2. It never creates a
// local folder (a bucket nothing was written to holds no object), and
// without R2 credentials r2:// references are "not available" rather than
// an error of the whole command. The caller closes the stores with the
// returned function.
func R2Fetcher(opts Options, doc *config.Document) (refs.Fetcher, func() error, error) {
	stores := map[string]objstore.Store{}
	var opened []*Bucket
	closeAll := func() error {
		var errs []error
		for _, b := range opened {
			errs = append(errs, b.Close())
		}
		return errors.Join(errs...)
	}
	dir := StateDir(orNoEnv(opts.LookupEnv), opts.ConfigPath)
	for _, binding := range doc.Config.Cloudflare.R2Buckets {
		if objstore.CheckBucketName(binding.Bucket) != nil {
			continue // validate reports the bad name itself
		}
		if !opts.Remote {
			if _, err := os.Stat(filepath.Join(dir, "r2", binding.Bucket)); err != nil {
				stores[binding.Binding] = emptyBucket{}
				continue
			}
		}
		b, err := OpenBucket(opts, BucketRef{Name: binding.Bucket, Binding: binding.Binding, RequesterPays: binding.RequesterPays}, "")
		if opts.Remote && errors.Is(err, ErrUsage) {
			reason := err.Error() // missing R2 credentials
			return refs.FetcherFunc(func(context.Context, refs.Ref) ([]byte, error) {
				return nil, fmt.Errorf("%w: %s", refs.ErrNotAvailable, reason)
			}), closeAll, nil
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		opened = append(opened, b)
		stores[binding.Binding] = b.Store
	}
	return r2Refs(&objstore.Fetcher{Buckets: stores}), closeAll, nil
}

// r2Refs serves the r2:// references of a refs.Resolver from f.
func r2Refs(f *objstore.Fetcher) refs.Fetcher {
	return refs.FetcherFunc(func(ctx context.Context, r refs.Ref) ([]byte, error) {
		if r.Kind != refs.R2 {
			return nil, fmt.Errorf("r2 fetcher: cannot fetch %s references", strings.ToUpper(r.Kind))
		}
		return f.Fetch(ctx, r.Binding, r.Key)
	})
}

// emptyBucket stands for a local bucket whose folder does not exist yet:
// every object is missing.
type emptyBucket struct{ objstore.Store }

func (emptyBucket) Get(_ context.Context, key string, _ objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	return nil, objstore.ObjectInfo{}, fmt.Errorf("get %q: %w (the local bucket folder does not exist yet)", key, objstore.ErrNotFound)
}
