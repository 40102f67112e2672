// Package kv benchmarks the local KV store against raw bbolt (its peer:
// the same file format without edgeconf's Workers KV semantics) and the
// effective-config lookup of a resolved overrides snapshot.
package kv

import (
	"context"
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
)

const nKeys = 1000

var value = []byte(`{"enabled":true,"rolloutPercentage":25,"allowedUsers":["alice@factory-wager.com"]}`)

func key(i int) string {
	return fmt.Sprintf("edgeconf/v1/overrides/_base/features.f%04d.rolloutPercentage", i)
}

func BenchmarkGet(b *testing.B) {
	b.Run("edgeconf-local", func(b *testing.B) {
		s, err := local.Open(local.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		kv := s.KV("CONFIG")
		pairs := make([]kvstore.Pair, nKeys)
		for i := range pairs {
			pairs[i] = kvstore.Pair{Key: key(i), Value: value}
		}
		if err := kv.PutMany(context.Background(), pairs); err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := kv.Get(ctx, key(i%nKeys)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("bbolt-raw", func(b *testing.B) {
		db, err := bolt.Open(b.TempDir()+"/raw.db", 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		bucket := []byte("kv/CONFIG")
		if err := db.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			for i := 0; i < nKeys; i++ {
				if err := bk.Put([]byte(key(i)), value); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := []byte(key(i % nKeys))
			var out []byte
			if err := db.View(func(tx *bolt.Tx) error {
				v := tx.Bucket(bucket).Get(k)
				out = append([]byte(nil), v...) // a caller must copy out of the transaction too
				return nil
			}); err != nil || out == nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkPut(b *testing.B) {
	b.Run("edgeconf-local", func(b *testing.B) {
		s, err := local.Open(local.Options{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		kv := s.KV("CONFIG")
		ctx := context.Background()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := kv.Put(ctx, key(i%nKeys), value, kvstore.PutOptions{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("bbolt-raw", func(b *testing.B) {
		db, err := bolt.Open(b.TempDir()+"/raw.db", 0o600, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		bucket := []byte("kv/CONFIG")
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := []byte(key(i % nKeys))
			if err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				return bk.Put(k, value)
			}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkSnapshotGet is the effective-config lookup a server does per
// request: it must not allocate.
func BenchmarkSnapshotGet(b *testing.B) {
	doc, err := config.Load("../../cloudflare-config.yaml", config.LoadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m := overrides.New(overrides.Options{Store: kvstore.NewMemory(nil), Doc: doc})
	if _, err := m.Set(context.Background(), "features.premium.rolloutPercentage", 50, overrides.SetOptions{}); err != nil {
		b.Fatal(err)
	}
	snap, err := m.Resolve(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if v, ok := snap.Get("features.premium.rolloutPercentage"); !ok || v.String() != "50" {
			b.Fatal("wrong value")
		}
	}
}
