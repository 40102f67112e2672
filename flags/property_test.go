package flags

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

// propertyIDs is how many random user IDs the property tests evaluate.
const propertyIDs = 1_000_000

var (
	randomIDsOnce sync.Once
	randomIDsList []string
)

// randomIDs returns propertyIDs distinct-looking user IDs from a fixed seed,
// so failures reproduce. They are shared by the property tests.
func randomIDs() []string {
	randomIDsOnce.Do(func() {
		r := rand.New(rand.NewPCG(20250101, 3))
		// One backing array for all IDs keeps generation fast under -race.
		buf := make([]byte, 0, propertyIDs*24)
		ends := make([]int, propertyIDs)
		for i := range ends {
			// Mixed shapes: opaque hex IDs, e-mail addresses, sequential IDs.
			switch i % 3 {
			case 0:
				buf = strconv.AppendUint(buf, r.Uint64(), 16)
			case 1:
				buf = append(buf, 'u')
				buf = strconv.AppendUint(buf, uint64(r.Uint32()), 10)
				buf = append(buf, "@example.com"...)
			default:
				buf = append(buf, "user-"...)
				buf = strconv.AppendInt(buf, int64(i), 10)
			}
			ends[i] = len(buf)
		}
		all := string(buf)
		randomIDsList = make([]string, propertyIDs)
		start := 0
		for i, end := range ends {
			randomIDsList[i] = all[start:end]
			start = end
		}
	})
	return randomIDsList
}

func TestEvaluate_MonotonicInPercentage(t *testing.T) {
	t.Parallel()
	// Growing a rollout only adds users: on at p means on at every p' > p.
	percents := []float64{0.01, 1, 5, 10, 25, 50, 99.99, 100}
	flags := make([]config.FeatureFlag, len(percents))
	for i, p := range percents {
		flags[i] = config.FeatureFlag{Enabled: true, RolloutPercentage: p}
	}
	for _, id := range randomIDs() {
		was := false
		for i, f := range flags {
			on := Evaluate("premium", f, id).Enabled
			if was && !on {
				t.Fatalf("user %q is on at %v%% but off at %v%%", id, percents[i-1], percents[i])
			}
			was = on
		}
		if !was {
			t.Fatalf("user %q is off at 100%%", id)
		}
	}
}

func TestSimulate_EachPercentGetsOnePercent(t *testing.T) {
	t.Parallel()
	ids := randomIDs()
	f := config.FeatureFlag{Enabled: true, RolloutPercentage: 37}
	res := Simulate("premium", f, len(ids), func(i int) string { return ids[i] })
	for pct, n := range res.Histogram {
		share := 100 * float64(n) / float64(len(ids))
		if share < 0.9 || share > 1.1 {
			t.Errorf("buckets %d-%d%% hold %.3f%% of users, want 1%% ± 0.1", pct, pct+1, share)
		}
	}
	if got := 100 * float64(res.Enabled) / float64(len(ids)); got < 36.9 || got > 37.1 {
		t.Errorf("a 37%% rollout enabled %.3f%% of users, want 37%% ± 0.1", got)
	}
}

func TestEvaluate_FlagsAreDecorrelated(t *testing.T) {
	t.Parallel()
	// If buckets ignored the flag key, two 10% flags would pick the same
	// users (overlap 10%); independent flags overlap on 10% × 10% = 1%.
	f := config.FeatureFlag{Enabled: true, RolloutPercentage: 10}
	ids := randomIDs()
	both := 0
	for _, id := range ids {
		if Evaluate("premium", f, id).Enabled && Evaluate("ptySupport", f, id).Enabled {
			both++
		}
	}
	if share := 100 * float64(both) / float64(len(ids)); share < 0.9 || share > 1.1 {
		t.Errorf("two 10%% flags both on for %.3f%% of users, want 1%% ± 0.1", share)
	}
}

func TestEvaluate_AllowedUsersAlwaysOnDisabledAlwaysOff(t *testing.T) {
	t.Parallel()
	ids := randomIDs()
	allowedIDs := make([]string, 0, len(ids)/1000)
	for i := 0; i < len(ids); i += 1000 {
		allowedIDs = append(allowedIDs, ids[i])
	}
	for _, p := range []float64{0, 0.01, 50, 100} {
		on := indexed(config.FeatureFlag{Enabled: true, RolloutPercentage: p, AllowedUsers: allowedIDs})
		off := indexed(config.FeatureFlag{Enabled: false, RolloutPercentage: p, AllowedUsers: allowedIDs})
		for _, id := range allowedIDs {
			if d := Evaluate("premium", on, id); !d.Enabled || d.Reason != ReasonAllowedUser {
				t.Fatalf("allowed user %q at %v%%: got %+v, want enabled by %s", id, p, d, ReasonAllowedUser)
			}
			if d := Evaluate("premium", off, id); d.Enabled || d.Reason != ReasonDisabled {
				t.Fatalf("allowed user %q with the flag disabled at %v%%: got %+v, want off by %s", id, p, d, ReasonDisabled)
			}
		}
	}
	// Every user, at the rollout that would otherwise enable everyone.
	off := config.FeatureFlag{Enabled: false, RolloutPercentage: 100}
	for _, id := range ids {
		if d := Evaluate("premium", off, id); d.Enabled || d.Reason != ReasonDisabled {
			t.Fatalf("user %q with the flag disabled at 100%%: got %+v, want off by %s", id, d, ReasonDisabled)
		}
	}
}
