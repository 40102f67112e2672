package overrides_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
)

// TestManager_TwoProcessesLoseNothing has two processes set the same path
// on the local store at the same time, each opening the state folder for
// every change as the CLI does. Every change must get its own revision.
func TestManager_TwoProcessesLoseNothing(t *testing.T) {
	dir := t.TempDir()
	const each = 25
	var wg sync.WaitGroup
	errs := make([]error, 2)
	outs := make([][]byte, 2)
	for p := 0; p < 2; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperSetter$")
			cmd.Env = append(os.Environ(), "EDGECONF_HELPER_SETTER="+dir, "EDGECONF_HELPER_ID="+strconv.Itoa(p), "EDGECONF_HELPER_N="+strconv.Itoa(each))
			outs[p], errs[p] = cmd.CombinedOutput()
		}(p)
	}
	wg.Wait()
	for p := range errs {
		if errs[p] != nil {
			t.Fatalf("process %d: %v\n%s", p, errs[p], outs[p])
		}
	}
	s, err := local.Open(local.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := overrides.New(overrides.Options{Store: s.KV("CONFIG"), Doc: loadSeed(t, "")})
	rec, err := m.Get(context.Background(), "features.premium.rolloutPercentage")
	if err != nil || rec.Rev != 2*each {
		t.Fatalf("final revision %d (%v), want %d", rec.Rev, err, 2*each)
	}
	hist, err := m.History(context.Background(), "features.premium.rolloutPercentage")
	if err != nil {
		t.Fatal(err)
	}
	revs := map[int64]bool{}
	who := map[string]int{}
	for _, h := range hist {
		revs[h.Rev] = true
		who[h.Who]++
	}
	if len(hist) != 2*each || len(revs) != 2*each || who["p0"] != each || who["p1"] != each {
		t.Errorf("%d audit records, %d revisions, by %v; want %d, %d, %d each", len(hist), len(revs), who, 2*each, 2*each, each)
	}
}

func TestHelperSetter(t *testing.T) {
	dir := os.Getenv("EDGECONF_HELPER_SETTER")
	if dir == "" {
		t.Skip("helper process")
	}
	id := os.Getenv("EDGECONF_HELPER_ID")
	n, _ := strconv.Atoi(os.Getenv("EDGECONF_HELPER_N"))
	doc := loadSeed(t, "")
	for i := 0; i < n; i++ {
		s, err := local.Open(local.Options{Dir: dir, LockTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := overrides.New(overrides.Options{Store: s.KV("CONFIG"), Doc: doc, By: "p" + id})
		if _, err := m.Set(context.Background(), "features.premium.rolloutPercentage", float64(i), overrides.SetOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("done")
}
