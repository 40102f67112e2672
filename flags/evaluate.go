package flags

import (
	"math"

	"github.com/twmb/murmur3"

	"github.com/factory-wager/edgeconf/config"
)

// Bucketing names the bucketing algorithm. Changing the algorithm re-buckets
// every user (some lose a flag they had), so a change must come with a new
// name, and the name is reported in every JSON output.
const Bucketing = "murmur3-x86-32/v1"

// Buckets is the number of buckets a flag's users are spread over. A
// rollout percentage p covers buckets [0, round(p×100)), so 0.01 % is the
// finest step.
const Buckets = 10000

// NoBucket is Decision.Bucket when the decision did not need a bucket.
const NoBucket = -1

// Reason says why Evaluate decided as it did.
type Reason string

// Reasons, in the order Evaluate checks them.
const (
	// ReasonDisabled: the flag is disabled; nobody gets it, not even allowed users.
	ReasonDisabled Reason = "disabled"
	// ReasonAllowedUser: the user is in allowedUsers and gets the flag at any percentage.
	ReasonAllowedUser Reason = "allowed-user"
	// ReasonNoUser: the user ID is empty and the rollout is below 100 %.
	ReasonNoUser Reason = "no-user"
	// ReasonInRollout: the user's bucket is below the rollout threshold
	// (or the rollout is 100 % and the user ID is empty).
	ReasonInRollout Reason = "in-rollout"
	// ReasonOutOfRollout: the user's bucket is at or above the rollout threshold.
	ReasonOutOfRollout Reason = "out-of-rollout"
)

// Decision is the outcome of evaluating one flag for one user.
type Decision struct {
	Enabled bool   `json:"enabled"`
	Reason  Reason `json:"reason"`
	// Bucket is the user's bucket for the flag, 0..9999, or NoBucket (-1)
	// when the decision did not depend on it (disabled, allowed-user, no user).
	Bucket int `json:"bucket"`
}

// Evaluate decides whether userID gets the flag named flagKey with settings f.
//
// The rules, in order: a disabled flag is off; a user in f.AllowedUsers
// is on whatever the percentage; an empty userID is on only at 100 %;
// otherwise the user is on iff Bucket(flagKey, userID) < Threshold(f.RolloutPercentage).
//
// Evaluate does not allocate. It is safe for concurrent use as long as f
// is not modified meanwhile (swap whole configurations instead).
func Evaluate(flagKey string, f config.FeatureFlag, userID string) Decision {
	if !f.Enabled {
		return Decision{Reason: ReasonDisabled, Bucket: NoBucket}
	}
	if f.IsAllowed(userID) {
		return Decision{Enabled: true, Reason: ReasonAllowedUser, Bucket: NoBucket}
	}
	threshold := Threshold(f.RolloutPercentage)
	if userID == "" {
		if threshold >= Buckets {
			return Decision{Enabled: true, Reason: ReasonInRollout, Bucket: NoBucket}
		}
		return Decision{Reason: ReasonNoUser, Bucket: NoBucket}
	}
	b := Bucket(flagKey, userID)
	if b < threshold {
		return Decision{Enabled: true, Reason: ReasonInRollout, Bucket: b}
	}
	return Decision{Reason: ReasonOutOfRollout, Bucket: b}
}

// Threshold converts a rollout percentage into the number of buckets it
// covers: round(p×100), rounding halves up, clamped to 0..Buckets. NaN and
// negative percentages cover nothing.
func Threshold(p float64) int {
	switch {
	case !(p > 0): // also NaN
		return 0
	case p >= 100:
		return Buckets
	}
	return int(math.Round(p * 100))
}

// Bucket returns userID's bucket for flagKey, 0..Buckets-1:
// (uint64(murmur3_x86_32(flagKey+userID, seed 0)) * 10000) >> 32.
func Bucket(flagKey, userID string) int {
	return int(uint64(hash32(flagKey, userID)) * Buckets >> 32)
}

// stackHashLen bounds the flagKey+userID length hashed from a stack buffer;
// flag keys and user IDs (e-mail addresses, UUIDs) are nearly always shorter.
const stackHashLen = 128

// hash32 is murmur3_x86_32(flagKey+userID, seed 0) without building the
// concatenated string on the heap.
func hash32(flagKey, userID string) uint32 {
	if len(flagKey)+len(userID) <= stackHashLen {
		// The one-shot sum is the fastest path and the buffer stays on the stack.
		var buf [stackHashLen]byte
		b := append(buf[:0], flagKey...)
		b = append(b, userID...)
		return murmur3.Sum32(b)
	}
	// Longer input streams through the digest. The compiler devirtualizes
	// it, keeps it on the stack and converts the strings without copying;
	// TestEvaluate_Allocs fails if that ever stops being true.
	h := murmur3.SeedNew32(0)
	_, _ = h.Write([]byte(flagKey))
	_, _ = h.Write([]byte(userID))
	return h.Sum32()
}
