//go:build cloudflare

// The object-store suite against real R2: make test-cloudflare (never run
// by CI). It skips, naming what is missing, without CLOUDFLARE_API_TOKEN,
// CLOUDFLARE_ACCOUNT_ID, R2_ACCESS_KEY_ID and R2_SECRET_ACCESS_KEY (and uses
// R2_ENDPOINT when set). Its bucket is edgeconf-test-<random>, emptied and
// deleted when the test ends.

package r2_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/objstore"
	"github.com/factory-wager/edgeconf/objstore/objtest"
	"github.com/factory-wager/edgeconf/r2"
)

func TestReal_ObjectStoreConformance(t *testing.T) {
	creds := cloudflare.CredentialsFromEnv(os.LookupEnv)
	missing := creds.Missing()
	for _, v := range []string{"R2_ACCESS_KEY_ID", "R2_SECRET_ACCESS_KEY"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		t.Skipf("against a real account: set %s (see docs/cloudflare.md, \"make test-cloudflare\")", strings.Join(missing, ", "))
	}
	c, err := cloudflare.New(creds.Options())
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4)
	rand.Read(b)
	bucket := "edgeconf-test-" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, _, err := c.EnsureBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	store, err := r2.New(r2.Options{Bucket: bucket, Endpoint: os.Getenv("R2_ENDPOINT"), AccountID: creds.AccountID,
		AccessKeyID: os.Getenv("R2_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("R2_SECRET_ACCESS_KEY")})
	if err != nil {
		t.Fatal(err)
	}
	empty := func() {
		for {
			page, err := store.List(ctx, objstore.ListOptions{})
			if err != nil {
				t.Errorf("empty the bucket: %v", err)
				return
			}
			for _, o := range page.Objects {
				if err := store.Delete(ctx, o.Key); err != nil {
					t.Errorf("empty the bucket: %v", err)
					return
				}
			}
			if page.Cursor == "" {
				return
			}
		}
	}
	t.Cleanup(func() {
		empty()
		store.Close()
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.DeleteBucket(cctx, bucket); err != nil {
			t.Errorf("cleanup: %v (delete bucket %s by hand)", err, bucket)
		}
	})
	objtest.Run(t, func(t *testing.T) objtest.Harness {
		empty()
		return objtest.Harness{Store: store}
	}, objtest.Options{})
}
