package local_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
	"github.com/factory-wager/edgeconf/local"
)

func openState(t *testing.T, dir string, now func() time.Time) *local.State {
	t.Helper()
	s, err := local.Open(local.Options{Dir: dir, Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func localHarness(t *testing.T) storetest.Harness {
	c := storetest.NewClock()
	s := openState(t, t.TempDir(), c.Now)
	return storetest.Harness{Store: s.KV("CONFIG"), Advance: c.Advance, Now: c.Now}
}

func TestKV_Conformance(t *testing.T) {
	storetest.Run(t, localHarness, storetest.Options{})
}

func TestKV_Model(t *testing.T) {
	storetest.RunModel(t, localHarness)
}

func TestKV_NamespacesAreSeparate(t *testing.T) {
	s := openState(t, t.TempDir(), nil)
	ctx := context.Background()
	if err := s.KV("A").Put(ctx, "k", []byte("a"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KV("B").Get(ctx, "k"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("namespace B sees A's key: %v", err)
	}
	if got := s.KV("A").Target(); !strings.Contains(got, "namespace A") || !strings.Contains(got, s.Dir()) {
		t.Errorf("Target() = %q", got)
	}
}

func TestKV_Persists(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := local.Open(local.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.KV("CONFIG").PutMany(ctx, []kvstore.Pair{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2"), Options: kvstore.PutOptions{TTL: time.Hour}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openState(t, dir, nil)
	e, err := s.KV("CONFIG").Get(ctx, "b")
	if err != nil || string(e.Value) != "2" || e.Expiration.IsZero() {
		t.Errorf("after reopen: %+v, %v", e, err)
	}
	if err := s.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestKV_PutManyLimits(t *testing.T) {
	s := openState(t, t.TempDir(), nil)
	kv := s.KV("CONFIG")
	ctx := context.Background()
	err := kv.PutMany(ctx, []kvstore.Pair{{Key: "ok", Value: []byte("v")}, {Key: "..", Value: []byte("v")}})
	var le *kvstore.LimitError
	if !errors.As(err, &le) || le.Limit != "key-name" {
		t.Fatalf("PutMany with a bad key = %v", err)
	}
	if _, err := kv.Get(ctx, "ok"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Error("a refused bulk write wrote its good pairs")
	}
	if err := kv.PutMany(ctx, make([]kvstore.Pair, kvstore.MaxBulkPairs+1)); !errors.As(err, &le) || le.Limit != "bulk-size" {
		t.Errorf("PutMany(10,001 pairs) = %v", err)
	}
}

// TestOpen_LockTimeoutNamesHolder opens the folder from a second process
// while this one holds it: the second gives up within its timeout and says
// which process holds the folder.
func TestOpen_LockTimeoutNamesHolder(t *testing.T) {
	dir := t.TempDir()
	openState(t, dir, nil)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOpen$")
	cmd.Env = append(os.Environ(), "EDGECONF_HELPER_OPEN="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "state folder is in use") || !strings.Contains(got, fmt.Sprintf("pid %d", os.Getpid())) || !strings.Contains(got, "waited 200ms") {
		t.Errorf("second open said:\n%s", got)
	}
}

func TestHelperOpen(t *testing.T) {
	dir := os.Getenv("EDGECONF_HELPER_OPEN")
	if dir == "" {
		t.Skip("helper process")
	}
	_, err := local.Open(local.Options{Dir: dir, LockTimeout: 200 * time.Millisecond})
	if !errors.Is(err, local.ErrLocked) {
		fmt.Println("unexpected:", err)
		return
	}
	fmt.Println(err)
}

// TestKV_CrashSafety kills a writer with SIGKILL at random moments, 200
// times, and after each kill finds every acknowledged write and a clean
// bbolt check (reliability case LKG-1).
func TestKV_CrashSafety(t *testing.T) {
	kills := 200
	if testing.Short() {
		kills = 20
	}
	dir := t.TempDir()
	ctx := context.Background()
	acked := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$")
		cmd.Env = append(os.Environ(), "EDGECONF_HELPER_WRITER="+dir, "EDGECONF_HELPER_START="+strconv.Itoa(acked))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		stopAfter := 1 + rng.IntN(8)
		seen := 0
		for seen < stopAfter && sc.Scan() {
			if n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "ack ")); err == nil {
				acked = n + 1
				seen++
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL) // mid-write: the writer never stops on its own
		_ = cmd.Wait()
		s, err := local.Open(local.Options{Dir: dir})
		if err != nil {
			t.Fatalf("kill %d: reopen: %v", i, err)
		}
		if err := s.Check(); err != nil {
			t.Fatalf("kill %d: bbolt check: %v", i, err)
		}
		kv := s.KV("CONFIG")
		for k := 0; k < acked; k++ {
			if _, err := kv.Get(ctx, fmt.Sprintf("k%07d", k)); err != nil {
				t.Fatalf("kill %d: acknowledged write k%07d lost: %v", i, k, err)
			}
		}
		s.Close()
	}
	t.Logf("%d kills, %d acknowledged writes, none lost", kills, acked)
}

func TestHelperWriter(t *testing.T) {
	dir := os.Getenv("EDGECONF_HELPER_WRITER")
	if dir == "" {
		t.Skip("helper process")
	}
	start, _ := strconv.Atoi(os.Getenv("EDGECONF_HELPER_START"))
	s, err := local.Open(local.Options{Dir: dir, LockTimeout: 5 * time.Second})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	kv := s.KV("CONFIG")
	for n := start; ; n++ {
		if err := kv.Put(context.Background(), fmt.Sprintf("k%07d", n), []byte(strings.Repeat("v", 100+n%900)), kvstore.PutOptions{}); err != nil {
			fmt.Println("put:", err)
			os.Exit(1)
		}
		fmt.Printf("ack %d\n", n)
	}
}

func TestOpen_Errors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(local.Options{Dir: filepath.Join(file, "sub")}); err == nil || !strings.Contains(err.Error(), "create state folder") {
		t.Errorf("Open under a file = %v", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, local.DBFile), []byte("not a bbolt file, not at all, definitely not"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := local.Open(local.Options{Dir: dir, LockTimeout: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "open") {
		t.Errorf("Open of a corrupt file = %v", err)
	}
}

func TestOpen_DefaultsAndReadOnly(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := local.Open(local.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dir() != local.DefaultDir || s.DB() == nil {
		t.Errorf("Dir() = %q", s.Dir())
	}
	if err := s.KV("CONFIG").Put(context.Background(), "k", []byte("v"), kvstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := local.Open(local.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if e, err := ro.KV("CONFIG").Get(context.Background(), "k"); err != nil || string(e.Value) != "v" {
		t.Errorf("read-only Get = %q, %v", e.Value, err)
	}
	if err := ro.KV("CONFIG").Put(context.Background(), "k", []byte("w"), kvstore.PutOptions{}); err == nil {
		t.Error("a read-only store accepted a write")
	}
	if _, err := os.Stat(filepath.Join(local.DefaultDir, "state.owner")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a read-only open claimed the folder: %v", err)
	}
}

func TestKV_EmptyNamespace(t *testing.T) {
	s := openState(t, t.TempDir(), nil)
	kv := s.KV("NEVER")
	ctx := context.Background()
	if _, err := kv.Get(ctx, "k"); !errors.Is(err, kvstore.ErrNotFound) {
		t.Errorf("Get in an empty namespace = %v", err)
	}
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete in an empty namespace = %v", err)
	}
	if p, err := kv.List(ctx, kvstore.ListOptions{}); err != nil || len(p.Keys) != 0 {
		t.Errorf("List of an empty namespace = %+v, %v", p, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := kv.Delete(cctx, "k"); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a canceled context = %v", err)
	}
	if err := kv.PutMany(cctx, []kvstore.Pair{{Key: "a"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("PutMany with a canceled context = %v", err)
	}
	if _, err := kv.List(cctx, kvstore.ListOptions{}); !errors.Is(err, context.Canceled) {
		t.Errorf("List with a canceled context = %v", err)
	}
	if err := kv.Update(cctx, "k", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context = %v", err)
	}
	if err := kv.Update(ctx, "..", nil); err == nil {
		t.Error("Update of a bad key accepted")
	}
	if err := kv.Update(ctx, "k", func(*kvstore.Entry) ([]byte, kvstore.PutOptions, error) {
		return []byte("v"), kvstore.PutOptions{TTL: time.Second}, nil
	}); err == nil {
		t.Error("Update writing a 1 s TTL accepted")
	}
}

func TestOpen_InProcessLockNamesHolder(t *testing.T) {
	dir := t.TempDir()
	openState(t, dir, nil)
	_, err := local.Open(local.Options{Dir: dir, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, local.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("by pid %d", os.Getpid())) {
		t.Errorf("second Open = %v", err)
	}
	// A corrupt owner file is left out of the message, not fatal.
	if err := os.WriteFile(filepath.Join(dir, "state.owner"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = local.Open(local.Options{Dir: dir, LockTimeout: 50 * time.Millisecond})
	if !errors.Is(err, local.ErrLocked) || strings.Contains(err.Error(), "by pid") {
		t.Errorf("with a corrupt owner file: %v", err)
	}
}
