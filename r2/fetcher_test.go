package r2_test

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/localfs"
	"github.com/factory-wager/edgeconf/r2"
	"github.com/factory-wager/edgeconf/refs"
)

func TestFetcher(t *testing.T) {
	ctx := context.Background()
	files, err := localfs.Open(localfs.Options{Dir: filepath.Join(t.TempDir(), "quantum-files")})
	if err != nil {
		t.Fatal(err)
	}
	defer files.Close()
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	for key, value := range map[string]string{"certs/tls.pem": pem, "big.bin": strings.Repeat("x", 100)} {
		if _, err := files.Put(ctx, key, strings.NewReader(value), int64(len(value)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f := r2.NewFetcher(map[string]objstore.Store{"FILES": files})
	rv := &refs.Resolver{R2: f, KV: func(string) (kvstore.Store, bool) { return nil, false }}
	ref, err := refs.Parse("r2://FILES/certs/tls.pem")
	if err != nil {
		t.Fatal(err)
	}
	res, err := rv.Resolve(ctx, ref)
	if err != nil || string(res.Value) != pem {
		t.Errorf("Resolve(r2://FILES/certs/tls.pem) = %q, %v", res.Value, err)
	}

	missing, _ := refs.Parse("r2://FILES/certs/missing.pem")
	if _, err := rv.Resolve(ctx, missing); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Resolve(missing) = %v, want ErrNotFound", err)
	}
	unbound, _ := refs.Parse("r2://BACKUPS/x")
	if _, err := f.Fetch(ctx, unbound); err == nil || !strings.Contains(err.Error(), "no R2 bucket is bound as BACKUPS (bound: FILES)") {
		t.Errorf("Fetch(unbound) = %v", err)
	}
	if _, err := r2.NewFetcher(nil).Fetch(ctx, unbound); err == nil || !strings.Contains(err.Error(), "bound: none") {
		t.Errorf("Fetch with no buckets = %v", err)
	}
	kv, _ := refs.Parse("kv://CONFIG/k")
	if _, err := f.Fetch(ctx, kv); err == nil {
		t.Error("Fetch(kv://) succeeded")
	}
	small := &r2.Fetcher{Buckets: map[string]objstore.Store{"FILES": files}, MaxBytes: 10}
	big, _ := refs.Parse("r2://FILES/big.bin")
	var le *objstore.LimitError
	if _, err := small.Fetch(ctx, big); !errors.As(err, &le) || le.Limit != "fetch-size" {
		t.Errorf("Fetch above MaxBytes = %v, want a fetch-size LimitError", err)
	}
}

// liar is a store that reports a smaller size than the body it serves.
type liar struct{ objstore.Store }

func (liar) Get(_ context.Context, key string, _ objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	return io.NopCloser(strings.NewReader(strings.Repeat("y", 50))), objstore.ObjectInfo{Key: key, Size: 1}, nil
}

func TestFetcher_BodyLargerThanItsSize(t *testing.T) {
	f := &r2.Fetcher{Buckets: map[string]objstore.Store{"FILES": liar{}}, MaxBytes: 10}
	ref, _ := refs.Parse("r2://FILES/k")
	var le *objstore.LimitError
	if _, err := f.Fetch(context.Background(), ref); !errors.As(err, &le) {
		t.Errorf("Fetch = %v, want a fetch-size LimitError", err)
	}
}
