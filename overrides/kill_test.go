package overrides_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/factory-wager/edgeconf/local"
	"github.com/factory-wager/edgeconf/overrides"
)

// TestSet_SIGKILLLeavesEveryRevisionAudited runs `override set` in a loop
// in another process (this test binary; each change opens the state
// folder as the CLI does) and SIGKILLs it at a random point, 100 times
// (10 with -short). After every kill the current override and every
// acknowledged revision have exactly one audit record, and no revision
// was handed out twice.
func TestSet_SIGKILLLeavesEveryRevisionAudited(t *testing.T) {
	rounds := 100
	if testing.Short() {
		rounds = 10
	}
	const path = "features.premium.rolloutPercentage"
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(12, 13))
	acked := map[int64]bool{}
	ctx := context.Background()
	doc := loadSeed(t, "")
	killedMidSet := 0
	for round := range rounds {
		killAfter := rng.IntN(8) // lines: "begin" before a Set, "rev N" after it
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperKilledSetter$")
		cmd.Env = append(os.Environ(), "EDGECONF_HELPER_KILLED="+dir, "EDGECONF_HELPER_ID="+strconv.Itoa(round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		last := ""
		for lines := 0; lines <= killAfter && sc.Scan(); lines++ {
			last = sc.Text()
			if rev, ok := strings.CutPrefix(last, "rev "); ok {
				n, _ := strconv.ParseInt(rev, 10, 64)
				acked[n] = true
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if last == "begin" {
			killedMidSet++
		}

		s, err := local.Open(local.Options{Dir: dir, LockTimeout: 10 * time.Second})
		if err != nil {
			t.Fatalf("round %d: open after the kill: %v", round, err)
		}
		m := overrides.New(overrides.Options{Store: s.KV("CONFIG"), Doc: doc})
		checkAudited(t, ctx, m, path, acked, round)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
	if len(acked) == 0 || killedMidSet == 0 {
		t.Fatalf("%d revisions acknowledged, %d kills during a set: the test checks nothing", len(acked), killedMidSet)
	}
	t.Logf("%d kills, %d during a set; %d revisions acknowledged", rounds, killedMidSet, len(acked))
}

// TestHelperKilledSetter is the process TestSet_SIGKILLLeavesEveryRevisionAudited
// kills: it sets one path again and again, printing "begin" before each
// Set and "rev N" once it is acknowledged.
func TestHelperKilledSetter(t *testing.T) {
	dir := os.Getenv("EDGECONF_HELPER_KILLED")
	if dir == "" {
		t.Skip("helper process")
	}
	doc := loadSeed(t, "")
	by := "p" + os.Getenv("EDGECONF_HELPER_ID")
	for i := 0; ; i++ {
		s, err := local.Open(local.Options{Dir: dir, LockTimeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		m := overrides.New(overrides.Options{Store: s.KV("CONFIG"), Doc: doc, By: by})
		fmt.Println("begin")
		rec, err := m.Set(context.Background(), "features.premium.rolloutPercentage", float64(i%100), overrides.SetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println("rev", rec.Rev)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
