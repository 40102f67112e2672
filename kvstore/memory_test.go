package kvstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

func memoryHarness(t *testing.T) storetest.Harness {
	c := storetest.NewClock()
	return storetest.Harness{Store: kvstore.NewMemory(c.Now), Advance: c.Advance, Now: c.Now}
}

func TestMemory_Conformance(t *testing.T) {
	storetest.Run(t, memoryHarness, storetest.Options{})
}

func TestMemory_Model(t *testing.T) {
	storetest.RunModel(t, memoryHarness)
}

func TestLimitError_Message(t *testing.T) {
	err := kvstore.CheckKey(strings.Repeat("k", 600))
	var le *kvstore.LimitError
	if !errors.As(err, &le) || le.Limit != "key-size" || !strings.Contains(err.Error(), "exceeds the key length limit of 512") || strings.Count(err.Error(), "k") > 80 {
		t.Errorf("CheckKey(600 bytes) = %v", err)
	}
	if err := kvstore.CheckKey("\xff"); err == nil {
		t.Error("invalid UTF-8 key accepted")
	}
	if got := (&kvstore.LimitError{Limit: "list-limit", Msg: "m"}).Error(); got != "kv list-limit: m" {
		t.Errorf("Error() = %q", got)
	}
}

func TestUpdate_Fallback(t *testing.T) {
	// A store without Updater is updated by get, fn, put.
	s := plainStore{kvstore.NewMemory(nil)}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		err := kvstore.Update(ctx, s, "n", func(cur *kvstore.Entry) ([]byte, kvstore.PutOptions, error) {
			if cur == nil {
				return []byte("1"), kvstore.PutOptions{}, nil
			}
			return append(cur.Value, '1'), kvstore.PutOptions{}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e, err := s.Get(ctx, "n")
	if err != nil || string(e.Value) != "111" {
		t.Errorf("after 3 fallback updates: %q, %v", e.Value, err)
	}
	if got := kvstore.NewMemory(nil).Target(); got != "memory" {
		t.Errorf("Target() = %q", got)
	}
}

// plainStore hides Memory's Update method.
type plainStore struct{ m *kvstore.Memory }

func (p plainStore) Get(ctx context.Context, k string) (kvstore.Entry, error) { return p.m.Get(ctx, k) }
func (p plainStore) Put(ctx context.Context, k string, v []byte, o kvstore.PutOptions) error {
	return p.m.Put(ctx, k, v, o)
}
func (p plainStore) Delete(ctx context.Context, k string) error { return p.m.Delete(ctx, k) }
func (p plainStore) List(ctx context.Context, o kvstore.ListOptions) (kvstore.ListResult, error) {
	return p.m.List(ctx, o)
}
