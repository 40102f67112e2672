package cloudflare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"

	"github.com/factory-wager/edgeconf/internal/atomicfile"
	"github.com/factory-wager/edgeconf/kvstore"
)

// Bulk request limits of the API.
const (
	MaxBulkBytes = 100_000_000 // a bulk write must be smaller than this
	// DefaultBatchBytes leaves room under MaxBulkBytes for the array's framing.
	DefaultBatchBytes = 95_000_000
)

// BulkOptions tunes BulkPut. The zero value sends batches of up to 10,000
// pairs and 95 MB, without a checkpoint.
type BulkOptions struct {
	// Checkpoint is a file that records the batches already written, so
	// that a bulk write killed midway resumes where it stopped when run
	// again with the same pairs and options. "" means no checkpoint. The
	// file is removed when the whole write succeeds.
	Checkpoint string
	BatchPairs int                      // optional; 0 means kvstore.MaxBulkPairs (10,000)
	BatchBytes int                      // optional; 0 means DefaultBatchBytes
	Progress   func(written, total int) // optional; called after each batch
}

// BulkError is returned when some pairs of a bulk write still failed after
// every retry. Batches before Batch were written.
type BulkError struct {
	Batch int      // index of the batch that failed
	Keys  []string // the keys Cloudflare kept reporting as unsuccessful
}

func (e *BulkError) Error() string {
	keys := e.Keys
	more := ""
	if len(keys) > 5 {
		keys, more = keys[:5], fmt.Sprintf(" and %d more", len(e.Keys)-5)
	}
	return fmt.Sprintf("kv bulk write: batch %d: %d keys were still unsuccessful after every retry: %q%s", e.Batch, len(e.Keys), keys, more)
}

// bulkItem is one pair as the bulk endpoint takes it.
type bulkItem struct {
	Key           string          `json:"key"`
	Value         string          `json:"value"`
	Base64        bool            `json:"base64,omitempty"`
	Expiration    int64           `json:"expiration,omitempty"`
	ExpirationTTL int64           `json:"expiration_ttl,omitempty"`
	Metadata      json.RawMessage `json:"metadata,omitempty"`
}

// encodedPair is one pair, encoded once so that every attempt and every
// resumed run sends the same bytes.
type encodedPair struct {
	key  string
	json []byte
}

// BulkPut writes pairs in batches of at most BatchPairs pairs and
// BatchBytes bytes, one request per batch. Pairs Cloudflare reports as
// unsuccessful are re-sent alone (the others are not), with the retry
// policy's backoff. Every pair is checked against the KV limits before
// the first request; a broken limit is a *kvstore.LimitError and nothing
// is written.
//
// With opts.Checkpoint, each finished batch is recorded (atomically) in
// the checkpoint file; after a crash, calling BulkPut again with the same
// pairs and options skips the finished batches. A checkpoint made for
// other pairs is refused, not silently ignored.
func (k *KV) BulkPut(ctx context.Context, pairs []kvstore.Pair, opts BulkOptions) error {
	if opts.BatchPairs <= 0 || opts.BatchPairs > kvstore.MaxBulkPairs {
		opts.BatchPairs = kvstore.MaxBulkPairs
	}
	if opts.BatchBytes <= 0 || opts.BatchBytes > MaxBulkBytes-2 {
		opts.BatchBytes = DefaultBatchBytes
	}
	now := k.c.clock.Now()
	items := make([]encodedPair, len(pairs))
	for i, p := range pairs {
		exp, err := kvstore.CheckPut(p.Key, p.Value, p.Options, now)
		if err != nil {
			return err
		}
		it := bulkItem{Key: p.Key, Metadata: p.Options.Metadata}
		if utf8.Valid(p.Value) {
			it.Value = string(p.Value)
		} else {
			it.Value, it.Base64 = base64.StdEncoding.EncodeToString(p.Value), true
		}
		switch {
		case p.Options.TTL != 0:
			it.ExpirationTTL = int64(p.Options.TTL / time.Second)
		case !exp.IsZero():
			it.Expiration = exp.Unix()
		}
		b, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("kv bulk write: encode %q: %w", p.Key, err)
		}
		items[i] = encodedPair{key: p.Key, json: b}
	}
	if err := k.check(ctx); err != nil {
		return err
	}
	batches := planBatches(items, opts.BatchPairs, opts.BatchBytes)
	cp, err := loadCheckpoint(opts.Checkpoint, fingerprint(batches), len(batches))
	if err != nil {
		return err
	}
	written := 0
	for i, b := range batches {
		if cp.Done[i] {
			written += len(b)
			continue
		}
		if err := k.writeBatch(ctx, i, b); err != nil {
			return err
		}
		cp.Done[i] = true
		if err := cp.save(); err != nil {
			return err
		}
		written += len(b)
		if opts.Progress != nil {
			opts.Progress(written, len(items))
		}
	}
	return cp.remove()
}

// planBatches cuts items into batches by count and encoded size.
func planBatches(items []encodedPair, maxPairs, maxBytes int) [][]encodedPair {
	var out [][]encodedPair
	start, size := 0, 2 // "[]"
	for i, it := range items {
		n := len(it.json) + 1 // the comma
		if i > start && (i-start == maxPairs || size+n > maxBytes) {
			out = append(out, items[start:i])
			start, size = i, 2
		}
		size += n
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

func fingerprint(batches [][]encodedPair) string {
	h := sha256.New()
	for _, b := range batches {
		for _, it := range b {
			h.Write(it.json)
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func encodeBatch(b []encodedPair) []byte {
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, it := range b {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(it.json)
	}
	buf.WriteByte(']')
	return buf.Bytes()
}

// writeBatch sends one batch, then re-sends only the unsuccessful keys.
func (k *KV) writeBatch(ctx context.Context, index int, batch []encodedPair) error {
	r := k.c.retrier
	pending := batch
	for attempt := 1; ; attempt++ {
		var p kv.NamespaceBulkUpdateParams
		p.AccountID.Value, p.AccountID.Present = k.c.accountID, true
		res, err := k.c.kv.BulkUpdate(ctx, k.id, p, option.WithRequestBody("application/json", encodeBatch(pending)))
		err = sdkErr(ctx, "kv bulk update", err)
		if err != nil {
			return fmt.Errorf("kv bulk write: batch %d: %w", index, err)
		}
		if len(res.UnsuccessfulKeys) == 0 {
			return nil
		}
		failed := make(map[string]bool, len(res.UnsuccessfulKeys))
		for _, key := range res.UnsuccessfulKeys {
			failed[key] = true
		}
		var again []encodedPair
		for _, it := range pending {
			if failed[it.key] {
				again = append(again, it)
			}
		}
		if len(again) == 0 {
			return nil // Cloudflare named keys this batch did not send
		}
		if attempt >= r.p.MaxAttempts {
			keys := make([]string, len(again))
			for i, it := range again {
				keys[i] = it.key
			}
			return &BulkError{Batch: index, Keys: keys}
		}
		k.c.logger.Debug("cloudflare: re-sending unsuccessful bulk keys", "batch", index, "keys", len(again), "attempt", attempt)
		if err := r.clock.Sleep(ctx, r.backoff(attempt)); err != nil {
			return fmt.Errorf("kv bulk write: batch %d: %w", index, err)
		}
		pending = again
	}
}

// DeleteMany deletes keys in batches of 10,000 (missing keys are fine).
func (k *KV) DeleteMany(ctx context.Context, keys []string) error {
	for _, key := range keys {
		if err := kvstore.CheckKey(key); err != nil {
			return err
		}
	}
	if err := k.check(ctx); err != nil {
		return err
	}
	for start := 0; start < len(keys); start += kvstore.MaxBulkPairs {
		batch := keys[start:min(start+kvstore.MaxBulkPairs, len(keys))]
		var p kv.NamespaceBulkDeleteParams
		p.AccountID.Value, p.AccountID.Present = k.c.accountID, true
		p.Body = batch
		if _, err := k.c.kv.BulkDelete(ctx, k.id, p); err != nil {
			err = sdkErr(ctx, "kv bulk delete", err)
			return fmt.Errorf("kv bulk delete: keys %d..%d: %w", start, start+len(batch)-1, err)
		}
	}
	return nil
}

// checkpointVersion is bumped when the file format changes.
const checkpointVersion = 1

// checkpoint is the progress of one bulk write.
type checkpoint struct {
	path        string
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"` // sha256 of the batches' bytes
	Batches     int    `json:"batches"`
	Done        []bool `json:"done"`
}

func loadCheckpoint(path, fp string, batches int) (*checkpoint, error) {
	cp := &checkpoint{path: path, Version: checkpointVersion, Fingerprint: fp, Batches: batches, Done: make([]bool, batches)}
	if path == "" {
		return cp, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("kv bulk write: read checkpoint: %w", err)
	}
	var old checkpoint
	if err := json.Unmarshal(b, &old); err != nil || old.Version != checkpointVersion {
		return nil, fmt.Errorf("kv bulk write: checkpoint %s is not a bulk-write checkpoint of this version; remove it to start over", path)
	}
	if old.Fingerprint != fp || old.Batches != batches || len(old.Done) != batches {
		return nil, fmt.Errorf("kv bulk write: checkpoint %s belongs to a bulk write of other pairs or batch sizes; remove it to start over", path)
	}
	cp.Done = old.Done
	return cp, nil
}

// save writes the checkpoint atomically: a temporary file, fsync, rename,
// fsync of the folder.
func (cp *checkpoint) save() error {
	if cp.path == "" {
		return nil
	}
	b, err := json.Marshal(cp)
	if err != nil {
		return fmt.Errorf("kv bulk write: encode checkpoint: %w", err)
	}
	if err := atomicfile.WriteFile(cp.path, b, 0o600); err != nil {
		return fmt.Errorf("kv bulk write: save checkpoint: %w", err)
	}
	return nil
}

func (cp *checkpoint) remove() error {
	if cp.path == "" {
		return nil
	}
	if err := os.Remove(cp.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("kv bulk write: remove checkpoint: %w", err)
	}
	return nil
}
