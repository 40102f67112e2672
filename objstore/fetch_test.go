package objstore_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/objstore"
)

func TestFetcher(t *testing.T) {
	ctx := context.Background()
	files := objstore.NewMemory(objstore.MemoryOptions{})
	pem := "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	for key, value := range map[string]string{"certs/tls.pem": pem, "big.bin": strings.Repeat("x", 100)} {
		if _, err := files.Put(ctx, key, strings.NewReader(value), int64(len(value)), objstore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	f := &objstore.Fetcher{Buckets: map[string]objstore.Store{"FILES": files}}
	if got, err := f.Fetch(ctx, "FILES", "certs/tls.pem"); err != nil || string(got) != pem {
		t.Errorf("Fetch(FILES, certs/tls.pem) = %q, %v", got, err)
	}
	if _, err := f.Fetch(ctx, "FILES", "certs/missing.pem"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("Fetch(missing) = %v, want ErrNotFound", err)
	}
	if _, err := f.Fetch(ctx, "BACKUPS", "x"); err == nil || !strings.Contains(err.Error(), "no R2 bucket is bound as BACKUPS (bound: FILES)") {
		t.Errorf("Fetch(unbound) = %v", err)
	}
	if _, err := (&objstore.Fetcher{}).Fetch(ctx, "BACKUPS", "x"); err == nil || !strings.Contains(err.Error(), "bound: none") {
		t.Errorf("Fetch with no buckets = %v", err)
	}
	small := &objstore.Fetcher{Buckets: map[string]objstore.Store{"FILES": files}, MaxBytes: 10}
	var le *objstore.LimitError
	if _, err := small.Fetch(ctx, "FILES", "big.bin"); !errors.As(err, &le) || le.Limit != "fetch-size" {
		t.Errorf("Fetch above MaxBytes = %v, want a fetch-size LimitError", err)
	}
}

// liar is a store that reports a smaller size than the body it serves.
type liar struct{ objstore.Store }

func (liar) Get(_ context.Context, key string, _ objstore.GetOptions) (io.ReadCloser, objstore.ObjectInfo, error) {
	return io.NopCloser(strings.NewReader(strings.Repeat("y", 50))), objstore.ObjectInfo{Key: key, Size: 1}, nil
}

func TestFetcher_BodyLargerThanItsSize(t *testing.T) {
	f := &objstore.Fetcher{Buckets: map[string]objstore.Store{"FILES": liar{}}, MaxBytes: 10}
	var le *objstore.LimitError
	if _, err := f.Fetch(context.Background(), "FILES", "k"); !errors.As(err, &le) || le.Limit != "fetch-size" {
		t.Errorf("Fetch = %v, want a fetch-size LimitError", err)
	}
}
