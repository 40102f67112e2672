package flags

import (
	"strconv"

	"github.com/factory-wager/edgeconf/config"
)

// SimulateResult is the outcome of evaluating one flag for many users, as
// `edgeconf flags simulate` reports it.
type SimulateResult struct {
	Flag              string  `json:"flag"`
	FlagEnabled       bool    `json:"flagEnabled"` // the flag's own enabled setting
	RolloutPercentage float64 `json:"rolloutPercentage"`
	Threshold         int     `json:"threshold"`
	Bucketing         string  `json:"bucketing"`
	Users             int     `json:"users"`          // users evaluated
	Enabled           int     `json:"enabled"`        // users who got the flag
	EnabledPercent    float64 `json:"enabledPercent"` // 100 × Enabled / Users, 0 when Users is 0
	// Reasons counts the decisions by reason; reasons that never occurred are absent.
	Reasons map[Reason]int `json:"reasons"`
	// Histogram[i] counts the users whose bucket is in [100i, 100i+99]: the
	// users that raising the rollout from i % to i+1 % adds. Every user with
	// a non-empty ID is counted, whatever the decision, so the histogram
	// shows how evenly the flag key spreads users; empty IDs have no bucket.
	Histogram [100]int `json:"histogram"`
}

// SyntheticUserID is the user ID Simulate uses for user i when not given
// an idFn: "user-0", "user-1", ...
func SyntheticUserID(i int) string { return "user-" + strconv.Itoa(i) }

// Simulate evaluates the flag for users users whose IDs are idFn(0) ..
// idFn(users-1); a nil idFn means SyntheticUserID. users < 0 counts as 0.
func Simulate(flagKey string, f config.FeatureFlag, users int, idFn func(i int) string) SimulateResult {
	if idFn == nil {
		idFn = SyntheticUserID
	}
	users = max(users, 0)
	res := SimulateResult{
		Flag:              flagKey,
		FlagEnabled:       f.Enabled,
		RolloutPercentage: f.RolloutPercentage,
		Threshold:         Threshold(f.RolloutPercentage),
		Bucketing:         Bucketing,
		Users:             users,
		Reasons:           map[Reason]int{},
	}
	for i := range users {
		id := idFn(i)
		d := Evaluate(flagKey, f, id)
		res.Reasons[d.Reason]++
		if d.Enabled {
			res.Enabled++
		}
		b := d.Bucket
		if b == NoBucket && id != "" {
			b = Bucket(flagKey, id)
		}
		if b != NoBucket {
			res.Histogram[b/(Buckets/100)]++
		}
	}
	if users > 0 {
		res.EnabledPercent = 100 * float64(res.Enabled) / float64(users)
	}
	return res
}
