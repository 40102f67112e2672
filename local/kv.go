package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/factory-wager/edgeconf/kvstore"
)

// KV is one Workers-KV-like namespace in the state folder.
type KV struct {
	s      *State
	ns     string
	bucket []byte
}

var (
	_ kvstore.Store   = (*KV)(nil)
	_ kvstore.Updater = (*KV)(nil)
	_ kvstore.Namer   = (*KV)(nil)
)

// KV returns the namespace named ns (a binding or title such as CONFIG).
func (s *State) KV(ns string) *KV {
	return &KV{s: s, ns: ns, bucket: []byte("kv/" + ns)}
}

// Target names the store for command output.
func (k *KV) Target() string { return fmt.Sprintf("local state %s (namespace %s)", k.s.dir, k.ns) }

// A record is: expiration (int64 unix seconds, 0 = never), metadata length
// (uint32, 0 = none), metadata, value.
const headerLen = 12

func encode(value, md []byte, exp time.Time) []byte {
	b := make([]byte, headerLen+len(md)+len(value))
	var e int64
	if !exp.IsZero() {
		e = exp.Unix()
	}
	binary.BigEndian.PutUint64(b, uint64(e))
	binary.BigEndian.PutUint32(b[8:], uint32(len(md)))
	copy(b[headerLen:], md)
	copy(b[headerLen+len(md):], value)
	return b
}

// decode parses a record; the returned slices alias rec.
func decode(rec []byte) (value, md []byte, exp time.Time, err error) {
	if len(rec) < headerLen {
		return nil, nil, time.Time{}, errors.New("corrupt record: short header")
	}
	if e := int64(binary.BigEndian.Uint64(rec)); e != 0 {
		exp = time.Unix(e, 0).UTC()
	}
	n := int(binary.BigEndian.Uint32(rec[8:]))
	if headerLen+n > len(rec) {
		return nil, nil, time.Time{}, errors.New("corrupt record: metadata length")
	}
	if n > 0 {
		md = rec[headerLen : headerLen+n]
	}
	return rec[headerLen+n:], md, exp, nil
}

// Get implements kvstore.Store.
func (k *KV) Get(ctx context.Context, key string) (kvstore.Entry, error) {
	if err := kvstore.CheckKey(key); err != nil {
		return kvstore.Entry{}, err
	}
	if err := ctx.Err(); err != nil {
		return kvstore.Entry{}, err
	}
	var e kvstore.Entry
	err := k.s.db.View(func(tx *bolt.Tx) error {
		var err error
		e, err = k.get(tx, key)
		return err
	})
	return e, err
}

func (k *KV) get(tx *bolt.Tx, key string) (kvstore.Entry, error) {
	b := tx.Bucket(k.bucket)
	if b == nil {
		return kvstore.Entry{}, kvstore.NotFound(key)
	}
	rec := b.Get([]byte(key))
	if rec == nil {
		return kvstore.Entry{}, kvstore.NotFound(key)
	}
	value, md, exp, err := decode(rec)
	if err != nil {
		return kvstore.Entry{}, fmt.Errorf("get %q: %w", key, err)
	}
	if kvstore.Expired(exp, k.s.now()) {
		return kvstore.Entry{}, kvstore.NotFound(key)
	}
	e := kvstore.Entry{Key: key, Value: bytes.Clone(value), Expiration: exp}
	if e.Value == nil {
		e.Value = []byte{}
	}
	if md != nil {
		e.Metadata = bytes.Clone(md)
	}
	return e, nil
}

// Put implements kvstore.Store.
func (k *KV) Put(ctx context.Context, key string, value []byte, opts kvstore.PutOptions) error {
	exp, err := kvstore.CheckPut(key, value, opts, k.s.now())
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.s.db.Update(func(tx *bolt.Tx) error {
		return k.put(tx, key, value, opts, exp)
	})
}

func (k *KV) put(tx *bolt.Tx, key string, value []byte, opts kvstore.PutOptions, exp time.Time) error {
	b, err := tx.CreateBucketIfNotExists(k.bucket)
	if err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	if err := b.Put([]byte(key), encode(value, opts.Metadata, exp)); err != nil {
		return fmt.Errorf("put %q: %w", key, err)
	}
	return nil
}

// Delete implements kvstore.Store.
func (k *KV) Delete(ctx context.Context, key string) error {
	if err := kvstore.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(k.bucket)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
}

// List implements kvstore.Store. Expired keys are skipped (and left for
// the next write to the namespace to sweep).
func (k *KV) List(ctx context.Context, opts kvstore.ListOptions) (kvstore.ListResult, error) {
	limit, err := kvstore.CheckList(opts)
	if err != nil {
		return kvstore.ListResult{}, err
	}
	var after []byte
	if opts.Cursor != "" {
		a, err := kvstore.DecodeCursor(opts.Cursor)
		if err != nil {
			return kvstore.ListResult{}, err
		}
		after = []byte(a)
	}
	if err := ctx.Err(); err != nil {
		return kvstore.ListResult{}, err
	}
	prefix := []byte(opts.Prefix)
	now := k.s.now()
	var res kvstore.ListResult
	err = k.s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(k.bucket)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var key, rec []byte
		if after != nil {
			key, rec = c.Seek(after)
			if bytes.Equal(key, after) {
				key, rec = c.Next()
			}
		} else {
			key, rec = c.Seek(prefix)
		}
		var last []byte
		for ; key != nil && bytes.HasPrefix(key, prefix); key, rec = c.Next() {
			_, md, exp, err := decode(rec)
			if err != nil {
				return fmt.Errorf("list: key %q: %w", key, err)
			}
			if kvstore.Expired(exp, now) {
				continue
			}
			if len(res.Keys) == limit {
				res.Cursor = kvstore.EncodeCursor(string(last))
				return nil
			}
			ki := kvstore.KeyInfo{Name: string(key), Expiration: exp}
			if md != nil {
				ki.Metadata = bytes.Clone(md)
			}
			res.Keys = append(res.Keys, ki)
			last = key
		}
		return nil
	})
	return res, err
}

// Update implements kvstore.Updater in one bbolt transaction, which bbolt
// serializes within the process; the file lock serializes processes.
func (k *KV) Update(ctx context.Context, key string, fn func(cur *kvstore.Entry) ([]byte, kvstore.PutOptions, error)) error {
	if err := kvstore.CheckKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.s.db.Update(func(tx *bolt.Tx) error {
		var cur *kvstore.Entry
		e, err := k.get(tx, key)
		switch {
		case err == nil:
			cur = &e
		case !errors.Is(err, kvstore.ErrNotFound):
			return err
		}
		value, opts, err := fn(cur)
		if err != nil {
			return err
		}
		exp, err := kvstore.CheckPut(key, value, opts, k.s.now())
		if err != nil {
			return err
		}
		return k.put(tx, key, value, opts, exp)
	})
}

// PutMany writes many pairs in one transaction, for bulk imports. It checks
// every pair first and writes none if one breaks a limit.
func (k *KV) PutMany(ctx context.Context, pairs []kvstore.Pair) error {
	if len(pairs) > kvstore.MaxBulkPairs {
		return &kvstore.LimitError{Limit: "bulk-size", Msg: fmt.Sprintf("%d pairs exceed the limit of %d per bulk write", len(pairs), kvstore.MaxBulkPairs)}
	}
	now := k.s.now()
	exps := make([]time.Time, len(pairs))
	for i, p := range pairs {
		exp, err := kvstore.CheckPut(p.Key, p.Value, p.Options, now)
		if err != nil {
			return err
		}
		exps[i] = exp
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.s.db.Update(func(tx *bolt.Tx) error {
		for i, p := range pairs {
			if err := k.put(tx, p.Key, p.Value, p.Options, exps[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

var _ kvstore.Transactor = (*KV)(nil)

// Transact implements kvstore.Transactor with one bbolt Update
// transaction: its writes reach the file together or not at all, even
// when the process is killed in the middle.
func (k *KV) Transact(ctx context.Context, fn func(kvstore.Txn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return k.s.db.Update(func(tx *bolt.Tx) error {
		return fn(&boltTxn{k: k, tx: tx})
	})
}

type boltTxn struct {
	k  *KV
	tx *bolt.Tx
}

func (t *boltTxn) Get(key string) (*kvstore.Entry, error) {
	if err := kvstore.CheckKey(key); err != nil {
		return nil, err
	}
	e, err := t.k.get(t.tx, key)
	if errors.Is(err, kvstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

func (t *boltTxn) Put(key string, value []byte, opts kvstore.PutOptions) error {
	exp, err := kvstore.CheckPut(key, value, opts, t.k.s.now())
	if err != nil {
		return err
	}
	return t.k.put(t.tx, key, value, opts, exp)
}

func (t *boltTxn) List(prefix string) ([]kvstore.Entry, error) {
	b := t.tx.Bucket(t.k.bucket)
	if b == nil {
		return nil, nil
	}
	var out []kvstore.Entry
	c := b.Cursor()
	p := []byte(prefix)
	for key, _ := c.Seek(p); key != nil && bytes.HasPrefix(key, p); key, _ = c.Next() {
		e, err := t.k.get(t.tx, string(key))
		if errors.Is(err, kvstore.ErrNotFound) {
			continue // expired
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (t *boltTxn) Delete(key string) error {
	if err := kvstore.CheckKey(key); err != nil {
		return err
	}
	b := t.tx.Bucket(t.k.bucket)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}
