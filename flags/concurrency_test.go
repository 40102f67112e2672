package flags

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

// TestEvaluate_ConcurrentReload evaluates flags from several goroutines
// while another publishes new configurations through an atomic.Pointer, the
// way a server reloads its configuration. Run with -race.
func TestEvaluate_ConcurrentReload(t *testing.T) {
	// Each generation g sets premium to g % 2 × 100 percent and allows
	// "vip-g", so every decision tells which generation it saw.
	build := func(g int) *config.FeatureConfig {
		features := config.FeatureConfig{
			"premium": {Enabled: true, RolloutPercentage: float64(g%2) * 100, AllowedUsers: []string{"vip-" + strconv.Itoa(g)}},
			"webgl":   {Enabled: false},
		}
		for name, f := range features {
			f.Index() // as the loader does, before the configuration is published
			features[name] = f
		}
		return &features
	}
	const (
		readers = 4
		reads   = 5000
	)
	var current atomic.Pointer[config.FeatureConfig]
	current.Store(build(0))

	// The writer keeps publishing until every reader is done, so reads and
	// reloads overlap for the whole test.
	var readersLeft atomic.Int32
	readersLeft.Store(readers)
	var published atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for g := 1; readersLeft.Load() > 0; g++ {
			current.Store(build(g))
			published.Add(1)
		}
	})
	errs := make(chan string, readers)
	for r := range readers {
		wg.Go(func() {
			defer readersLeft.Add(-1)
			for i := range reads {
				features := *current.Load()
				user := "user-" + strconv.Itoa(r*reads+i)
				if d := Evaluate("webgl", features["webgl"], user); d.Enabled {
					errs <- "webgl is disabled but Evaluate enabled it for " + user
					return
				}
				d := Evaluate("premium", features["premium"], user)
				rollout := features["premium"].RolloutPercentage
				if d.Enabled != (rollout == 100) || (d.Reason != ReasonInRollout && d.Reason != ReasonOutOfRollout) {
					errs <- "premium at " + strconv.FormatFloat(rollout, 'f', -1, 64) + "% gave " + string(d.Reason) + " for " + user
					return
				}
				vip := features["premium"].AllowedUsers[0]
				if d := Evaluate("premium", features["premium"], vip); d.Reason != ReasonAllowedUser {
					errs <- "allowed user " + vip + " got " + string(d.Reason)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Error(msg)
	}
	t.Logf("%d configurations published during %d evaluations", published.Load(), 3*readers*reads)
}
