// Package flags_test compares edgeconf's feature-flag evaluation with
// LaunchDarkly's Go evaluation engine on an equivalent flag: on, one
// individually targeted user, and a 25 % percentage rollout for everyone
// else. Run it with ../flags.sh, which compares the two with benchstat.
package flags_test

import (
	"strconv"
	"testing"

	"github.com/launchdarkly/go-sdk-common/v3/ldcontext"
	"github.com/launchdarkly/go-sdk-common/v3/ldvalue"
	evaluation "github.com/launchdarkly/go-server-sdk-evaluation/v3"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldbuilders"
	"github.com/launchdarkly/go-server-sdk-evaluation/v3/ldmodel"

	"github.com/factory-wager/edgeconf/config"
	"github.com/factory-wager/edgeconf/flags"
)

const (
	flagKey     = "premium"
	allowedUser = "alice@factory-wager.com"
	numUsers    = 1024 // users cycled through, so both sides take in- and out-of-rollout paths
)

var userIDs = func() []string {
	ids := make([]string, numUsers)
	for i := range ids {
		ids[i] = "user-" + strconv.Itoa(100000+i) + "@factory-wager.com"
	}
	return ids
}()

// edgeconfFlag is the flag as cloudflare-config.yaml declares it, indexed as
// config.Load leaves it.
func edgeconfFlag() config.FeatureFlag {
	f := config.FeatureFlag{Enabled: true, RolloutPercentage: 25, AllowedUsers: []string{allowedUser}}
	f.Index()
	return f
}

// launchDarklyFlag is the same flag in LaunchDarkly's model: variation 1
// (true) for the targeted user, otherwise a 25/75 rollout of true/false.
// It uses the fallthrough rollout rather than a rule with a match-all
// clause, which is LaunchDarkly's cheapest way to say it.
func launchDarklyFlag() *ldmodel.FeatureFlag {
	f := ldbuilders.NewFlagBuilder(flagKey).
		On(true).
		Variations(ldvalue.Bool(false), ldvalue.Bool(true)).
		OffVariation(0).
		AddTarget(1, allowedUser).
		Fallthrough(ldbuilders.Rollout(
			ldbuilders.Bucket(1, 25000), // weights are in 1/1000 of a percent
			ldbuilders.Bucket(0, 75000),
		)).
		Salt("premium-salt").
		Build()
	return &f
}

// noData is the DataProvider of a flag without prerequisites or segments.
type noData struct{}

func (noData) GetFeatureFlag(string) *ldmodel.FeatureFlag { return nil }
func (noData) GetSegment(string) *ldmodel.Segment         { return nil }

var (
	sinkDecision flags.Decision
	sinkResult   evaluation.Result
)

func BenchmarkEvaluate(b *testing.B) {
	f := edgeconfFlag()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkDecision = flags.Evaluate(flagKey, f, userIDs[i%numUsers])
		i++
	}
}

func BenchmarkEvaluateLaunchDarkly(b *testing.B) {
	f := launchDarklyFlag()
	ev := evaluation.NewEvaluator(noData{})
	// Contexts are built once, outside the timed loop, in LaunchDarkly's favour.
	contexts := make([]ldcontext.Context, numUsers)
	for i, id := range userIDs {
		contexts[i] = ldcontext.New(id)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		sinkResult = ev.Evaluate(f, contexts[i%numUsers], nil)
		i++
	}
}

// TestFlagsAreEquivalent checks that the two flags behave alike (the
// allowed user is on, about a quarter of everyone else is), so that the
// benchmarks compare like with like.
func TestFlagsAreEquivalent(t *testing.T) {
	ours, theirs := edgeconfFlag(), launchDarklyFlag()
	ev := evaluation.NewEvaluator(noData{})
	if d := flags.Evaluate(flagKey, ours, allowedUser); !d.Enabled {
		t.Errorf("edgeconf: allowed user off: %+v", d)
	}
	if r := ev.Evaluate(theirs, ldcontext.New(allowedUser), nil); !r.Detail.Value.BoolValue() {
		t.Errorf("LaunchDarkly: allowed user off: %+v", r.Detail)
	}
	const n = 100000
	var onOurs, onTheirs int
	for i := range n {
		id := "user-" + strconv.Itoa(i)
		if flags.Evaluate(flagKey, ours, id).Enabled {
			onOurs++
		}
		if ev.Evaluate(theirs, ldcontext.New(id), nil).Detail.Value.BoolValue() {
			onTheirs++
		}
	}
	for name, on := range map[string]int{"edgeconf": onOurs, "LaunchDarkly": onTheirs} {
		if share := 100 * float64(on) / n; share < 24 || share > 26 {
			t.Errorf("%s enables %.2f%% of users, want 25%% ± 1", name, share)
		}
	}
}
