package storetest_test

import (
	"testing"

	"github.com/factory-wager/edgeconf/kvstore"
	"github.com/factory-wager/edgeconf/kvstore/storetest"
)

// The suite checks itself against the in-memory reference store.
func harness(t *testing.T) storetest.Harness {
	c := storetest.NewClock()
	return storetest.Harness{Store: kvstore.NewMemory(c.Now), Advance: c.Advance, Now: c.Now}
}

func TestRun(t *testing.T) { storetest.Run(t, harness, storetest.Options{SkipLargeValues: true}) }

func TestRunModel(t *testing.T) { storetest.RunModel(t, harness) }
