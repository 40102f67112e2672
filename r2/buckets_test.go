package r2_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/cfemu"
	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/r2"
)

// newAPI returns a Cloudflare API client of an emulator.
func newAPI(t *testing.T, opts cfemu.Options) *cloudflare.Client {
	t.Helper()
	emu, err := cfemu.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(func() { srv.Close(); emu.Close() })
	c, err := cloudflare.New(cloudflare.Options{BaseURL: srv.URL + cfemu.PathPrefix, Token: "test-token", AccountID: cfemu.DefaultAccountID})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestProvision(t *testing.T) {
	api := newAPI(t, cfemu.Options{})
	ctx := context.Background()
	buckets := []config.R2Bucket{
		{Binding: "FILES", Bucket: "quantum-files"},
		{Binding: "BACKUPS", Bucket: "quantum-backups"},
		{Binding: "FILES_AGAIN", Bucket: "quantum-files"},
	}
	got, err := r2.Provision(ctx, api, buckets)
	if err != nil {
		t.Fatal(err)
	}
	want := []r2.Provisioned{
		{Binding: "FILES", Bucket: "quantum-files", Created: true, Location: "ENAM"},
		{Binding: "BACKUPS", Bucket: "quantum-backups", Created: true, Location: "ENAM"},
		{Binding: "FILES_AGAIN", Bucket: "quantum-files", Location: "ENAM"},
	}
	if len(got) != len(want) {
		t.Fatalf("Provision = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Provision[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	// A second run adopts what exists.
	again, err := r2.Provision(ctx, api, buckets[:2])
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if p.Created {
			t.Errorf("second Provision created %s again", p.Bucket)
		}
	}
	listed, err := api.Buckets(ctx)
	if err != nil || len(listed) != 2 {
		t.Errorf("the account has %+v, %v; want two buckets", listed, err)
	}
}

func TestProvision_ReportsEveryFailure(t *testing.T) {
	api := newAPI(t, cfemu.Options{})
	got, err := r2.Provision(context.Background(), api, []config.R2Bucket{
		{Binding: "BAD", Bucket: "Not_A_Bucket"},
		{Binding: "OK", Bucket: "fine-bucket"},
		{Binding: "SHORT", Bucket: "ab"},
	})
	if err == nil || !strings.Contains(err.Error(), "BAD") || !strings.Contains(err.Error(), "SHORT") {
		t.Errorf("Provision = %v, want errors for BAD and SHORT", err)
	}
	if len(got) != 1 || got[0].Bucket != "fine-bucket" {
		t.Errorf("Provision went on with %+v, want fine-bucket done", got)
	}
}

// failingAPI fails every call, to show that a cancelled provisioning stops.
type failingAPI struct{ calls int }

func (f *failingAPI) EnsureBucket(ctx context.Context, name string) (cloudflare.Bucket, bool, error) {
	f.calls++
	return cloudflare.Bucket{}, false, ctx.Err()
}

func TestProvision_StopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	api := &failingAPI{}
	_, err := r2.Provision(ctx, api, []config.R2Bucket{{Binding: "A", Bucket: "bucket-a"}, {Binding: "B", Bucket: "bucket-b"}})
	if !errors.Is(err, context.Canceled) || api.calls != 1 {
		t.Errorf("Provision = %v after %d calls, want to stop after the first", err, api.calls)
	}
}
