package target

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/factory-wager/edgeconf/cloudflare"
	"github.com/factory-wager/edgeconf/kvstore"
)

// BulkOptions tunes BulkPut.
type BulkOptions struct {
	// Checkpoint is the file that records the finished batches of a
	// Cloudflare bulk write (see CheckpointPath); "" means none. Local
	// writes are one transaction per batch and need none.
	Checkpoint string
	// Resume keeps the progress an earlier, interrupted write of the same
	// pairs left in Checkpoint; without it the write starts over.
	Resume     bool
	BatchPairs int                   // optional; 0 means 10,000 (the API's limit)
	Progress   func(done, total int) // optional
}

// CheckpointPath is where the checkpoint of a bulk write of file into
// binding lives: in the state folder, named after both.
func CheckpointPath(stateDir, binding, file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	sum := sha256.Sum256([]byte(binding + "\x00" + abs))
	return filepath.Join(stateDir, "bulk-"+hex.EncodeToString(sum[:8])+".json")
}

// BulkPut writes pairs: on Cloudflare through the bulk API in batches,
// resumable with a checkpoint; elsewhere in batches through PutMany when
// the store has it, else one Put at a time.
func BulkPut(ctx context.Context, s kvstore.Store, pairs []kvstore.Pair, opts BulkOptions) error {
	batch := opts.BatchPairs
	if batch <= 0 || batch > kvstore.MaxBulkPairs {
		batch = kvstore.MaxBulkPairs
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(int, int) {}
	}
	if kv, ok := s.(*cloudflare.KV); ok {
		if opts.Checkpoint != "" {
			if !opts.Resume {
				if err := os.Remove(opts.Checkpoint); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("start over: %w", err)
				}
			}
			if err := os.MkdirAll(filepath.Dir(opts.Checkpoint), 0o700); err != nil {
				return fmt.Errorf("checkpoint folder: %w", err)
			}
		}
		return kv.BulkPut(ctx, pairs, cloudflare.BulkOptions{Checkpoint: opts.Checkpoint, BatchPairs: batch, Progress: progress})
	}
	for start := 0; start < len(pairs); start += batch {
		b := pairs[start:min(start+batch, len(pairs))]
		if bp, ok := s.(kvstore.BulkPutter); ok {
			if err := bp.PutMany(ctx, b); err != nil {
				return fmt.Errorf("pairs %d..%d: %w", start, start+len(b)-1, err)
			}
		} else {
			for i, p := range b {
				if err := s.Put(ctx, p.Key, p.Value, p.Options); err != nil {
					return fmt.Errorf("pair %d: %w", start+i, err)
				}
			}
		}
		progress(start+len(b), len(pairs))
	}
	return nil
}

// BulkDelete deletes keys: on Cloudflare with the bulk delete API (one
// request per 10,000 keys), elsewhere one key at a time. Missing keys are
// not an error.
func BulkDelete(ctx context.Context, s kvstore.Store, keys []string, progress func(done, total int)) error {
	if progress == nil {
		progress = func(int, int) {}
	}
	if kv, ok := s.(*cloudflare.KV); ok {
		if err := kv.DeleteMany(ctx, keys); err != nil {
			return err
		}
		progress(len(keys), len(keys))
		return nil
	}
	for i, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			return fmt.Errorf("key %d (%s): %w", i, strconv.Quote(k), err)
		}
		progress(i+1, len(keys))
	}
	return nil
}
