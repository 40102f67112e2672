package target

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/refs"
)

func r2Doc() *config.Document {
	doc := &config.Document{}
	doc.Config.Cloudflare.R2Buckets = []config.R2Bucket{{Binding: "FILES", Bucket: "quantum-files"}, {Binding: "BAD", Bucket: "Bad_Name"}}
	return doc
}

func TestOpenBucketAndFetcher_Local(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	opts := Options{ConfigPath: filepath.Join(dir, "c.yaml"), Now: func() time.Time { return testNow }}
	ref, _ := refs.Parse("r2://FILES/certs/tls.pem")

	// Nothing written: the object is missing and no folder is created.
	f, closeAll, err := R2Fetcher(opts, r2Doc())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, ref); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("fetch before any write: %v", err)
	}
	closeAll()
	if _, err := os.Stat(filepath.Join(dir, ".edgeconf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the fetcher created the state folder: %v", err)
	}

	b, err := OpenBucket(opts, BucketRef{Name: "quantum-files", Binding: "FILES"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !b.Local || !strings.Contains(b.Description, filepath.Join(dir, ".edgeconf", "r2", "quantum-files")) {
		t.Errorf("bucket %+v", b)
	}
	body := []byte("-----BEGIN CERTIFICATE-----")
	if _, err := b.Store.Put(ctx, "certs/tls.pem", bytes.NewReader(body), int64(len(body)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	f, closeAll, err = R2Fetcher(opts, r2Doc())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll()
	if v, err := f.Fetch(ctx, ref); err != nil || string(v) != string(body) {
		t.Errorf("fetch = %q, %v", v, err)
	}
	kv, _ := refs.Parse("kv://CONFIG/k")
	if _, err := f.Fetch(ctx, kv); err == nil || !strings.Contains(err.Error(), "cannot fetch KV references") {
		t.Errorf("fetch of a kv:// reference = %v", err)
	}
	// A folder that cannot be created is an error of the job.
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := Options{ConfigPath: filepath.Join(dir, "c.yaml"), LookupEnv: envOf(map[string]string{EnvStateDir: blocker})}
	if _, err := OpenBucket(bad, BucketRef{Name: "quantum-files"}, ""); err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("bucket under a file: %v", err)
	}
}

func TestOpenBucketAndFetcher_Remote(t *testing.T) {
	ctx := context.Background()
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	ref, _ := refs.Parse("r2://FILES/certs/tls.pem")
	// Without credentials: a usage error naming the variables, and
	// references that are "not available".
	opts := Options{ConfigPath: cfg, Remote: true}
	if _, err := OpenBucket(opts, BucketRef{Name: "quantum-files"}, ""); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "R2_SECRET_ACCESS_KEY") {
		t.Errorf("no credentials: %v", err)
	}
	f, closeAll, err := R2Fetcher(opts, r2Doc())
	if err != nil {
		t.Fatal(err)
	}
	closeAll()
	if _, err := f.Fetch(ctx, ref); !errors.Is(err, refs.ErrNotAvailable) || !strings.Contains(err.Error(), "R2_ACCESS_KEY_ID") {
		t.Errorf("fetch without credentials: %v", err)
	}
	// With credentials the store is built (nothing is sent yet).
	opts.LookupEnv = envOf(map[string]string{"R2_ENDPOINT": "http://127.0.0.1:1", "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "secret-value-1234"})
	b, err := OpenBucket(opts, BucketRef{Name: "quantum-files", RequesterPays: true}, "")
	if err != nil {
		t.Fatal(err)
	}
	if b.Local || strings.Contains(b.Description, "secret-value-1234") {
		t.Errorf("bucket %+v", b)
	}
	b.Close()
	if _, closeAll, err := R2Fetcher(opts, r2Doc()); err != nil {
		t.Fatal(err)
	} else {
		closeAll()
	}
	opts.LookupEnv = envOf(map[string]string{"R2_ENDPOINT": "::not a url", "R2_ACCESS_KEY_ID": "id", "R2_SECRET_ACCESS_KEY": "s"})
	if _, err := OpenBucket(opts, BucketRef{Name: "quantum-files"}, ""); err == nil {
		t.Error("a bad endpoint was accepted")
	}
	// The fetcher says why r2:// references cannot be resolved.
	f, _, err = R2Fetcher(opts, r2Doc())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(ctx, ref); !errors.Is(err, refs.ErrNotAvailable) {
		t.Errorf("fetch with a bad endpoint: %v", err)
	}
}
