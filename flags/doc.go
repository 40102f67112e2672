// Package flags evaluates feature flags: it decides whether a user gets a
// flag from the flag's settings in config.FeatureConfig.
//
// Evaluation is deterministic and pure. A user's bucket for a flag is
//
//	bucket = (uint64(murmur3_x86_32(flagKey + userID, seed 0)) * 10000) >> 32
//
// over the UTF-8 bytes of flagKey followed by userID, giving 0..9999, and the
// user is in a rollout of p percent iff bucket < round(p × 100). This is the
// arithmetic of flagd's "fractional" operation. Because a user's bucket does
// not depend on the percentage, a user who has a flag at 10 % keeps it at
// 25 %; because the flag key is hashed with the user ID, two flags at 10 %
// pick (statistically) independent sets of users.
//
// The algorithm is versioned by [Bucketing] and the name appears in every
// JSON output: changing it would move users between buckets, so a new
// algorithm gets a new name. The Worker in worker/flags.js
// implements the same evaluation, and a test holds the two to 100 %
// agreement on the vectors in testdata/flags-vectors.json.
//
// Evaluate allocates nothing and parses nothing: the allowed-user set is
// built by config.FeatureFlag.Index when the configuration loads.
//
// The JSON written by [WriteList], [WriteEvaluation] and [WriteSimulation]
// (edgeconf flags list|eval|simulate -o json) is stable: fields are only
// ever added.
package flags
