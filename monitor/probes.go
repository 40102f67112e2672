package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/factory-wager/edgeconf/d1"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/objstore"
)

// SentinelKey is the KV key the KV probe writes and reads, and the R2
// object the R2 probe heads (a missing object is fine: the bucket answered).
const SentinelKey = "edgeconf/v1/monitor/sentinel"

// Func is a probe made of a function.
type Func struct {
	N, M string
	F    func(ctx context.Context) error
}

// Name implements Probe.
func (f Func) Name() string { return f.N }

// Metric implements Probe.
func (f Func) Metric() string { return f.M }

// Check implements Probe.
func (f Func) Check(ctx context.Context) error { return f.F(ctx) }

// OpenKV opens a KV store for one probe and says how to release it (a
// local state folder admits one process at a time, so it is not held).
type OpenKV func(ctx context.Context) (kvstore.Store, func() error, error)

// KVProbe writes the sentinel key (with KV's shortest TTL) and reads it back.
func KVProbe(open OpenKV, now func() time.Time) Probe {
	return Func{N: "kv", M: "kv.latency_ms", F: func(ctx context.Context) error {
		s, release, err := open(ctx)
		if err != nil {
			return err
		}
		defer release()
		// The value read back may be another monitor's: the store
		// answered, which is what the probe asks.
		stamp := strconv.FormatInt(now().UnixNano(), 10)
		if err := s.Put(ctx, SentinelKey, []byte(stamp), kvstore.PutOptions{TTL: kvstore.MinTTL}); err != nil {
			return fmt.Errorf("kv sentinel write: %w", err)
		}
		if _, err := s.Get(ctx, SentinelKey); err != nil {
			return fmt.Errorf("kv sentinel read: %w", err)
		}
		return nil
	}}
}

// R2Probe heads the sentinel object.
func R2Probe(store objstore.Store) Probe {
	return Func{N: "r2", M: "r2.latency_ms", F: func(ctx context.Context) error {
		if _, err := store.Head(ctx, SentinelKey); err != nil && !errors.Is(err, objstore.ErrNotFound) {
			return fmt.Errorf("r2 head: %w", err)
		}
		return nil
	}}
}

// D1Probe runs SELECT 1.
func D1Probe(db d1.DB, now func() time.Time) Probe {
	return Func{N: "d1", M: "d1.latency_ms", F: func(ctx context.Context) error {
		_, err := d1.Ping(ctx, db, now)
		return err
	}}
}

// maxHealthBody bounds what the Worker probe reads.
const maxHealthBody = 64 << 10

// WorkerProbe gets URL/healthz: 200 with status ok.
func WorkerProbe(url string, client *http.Client) Probe {
	if client == nil {
		client = &http.Client{Timeout: DefaultProbeTimeout}
	}
	return Func{N: "worker", M: "worker.latency_ms", F: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(url, "/")+"/healthz", nil)
		if err != nil {
			return err
		}
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(io.LimitReader(res.Body, maxHealthBody))
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("/healthz answered %d", res.StatusCode)
		}
		var hz struct{ Status string }
		if err := json.Unmarshal(b, &hz); err != nil {
			return fmt.Errorf("/healthz is not JSON: %v", err)
		}
		if hz.Status != "ok" {
			return fmt.Errorf("/healthz status %q", hz.Status)
		}
		return nil
	}}
}
