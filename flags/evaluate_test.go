package flags

import (
	"math"
	"strings"
	"testing"

	"github.com/twmb/murmur3"

	"github.com/factory-wager/edgeconf/config"
)

// flagdVectors are the murmur3_x86_32 (seed 0) vectors flagd publishes for
// its fractional operation, with the bucket our arithmetic gives them.
var flagdVectors = []struct {
	in         string
	hash       uint32
	wantBucket int
}{
	{"ejOoVL", 0, 0},
	{"bY9fO-", 1, 0},
	{"SI7p-", 2147483647, 4999},
	{"6LvT0", 2147483648, 5000},
	{"ceQdGm", 4294967295, 9999},
}

func TestHash32_FlagdVectors(t *testing.T) {
	for _, v := range flagdVectors {
		t.Run(v.in, func(t *testing.T) {
			// Every split of the input between flag key and user ID hashes the same bytes.
			for i := 0; i <= len(v.in); i++ {
				key, user := v.in[:i], v.in[i:]
				if got := hash32(key, user); got != v.hash {
					t.Errorf("hash32(%q, %q) = %d, want %d", key, user, got, v.hash)
				}
			}
			if got := Bucket("", v.in); got != v.wantBucket {
				t.Errorf("Bucket(%q, %q) = %d, want %d", "", v.in, got, v.wantBucket)
			}
		})
	}
}

func TestHash32_StackAndStreamingPathsAgree(t *testing.T) {
	// Lengths around stackHashLen take both paths; each must be the one-shot
	// hash of the concatenation.
	key := "premium"
	for n := 0; n <= 2*stackHashLen; n++ {
		user := strings.Repeat("é", n/2) + strings.Repeat("x", n%2)
		want := murmur3.StringSum32(key + user)
		if got := hash32(key, user); got != want {
			t.Fatalf("hash32(%q, user of %d bytes) = %d, want %d", key, len(user), got, want)
		}
	}
}

func TestThreshold(t *testing.T) {
	tests := []struct {
		name string
		p    float64
		want int
	}{
		{"zero", 0, 0},
		{"finest step", 0.01, 1},
		{"half a step rounds up", 0.005, 1},
		{"below half a step", 0.004, 0},
		{"whole", 25, 2500},
		{"two decimals", 33.33, 3333},
		{"float error in p times 100", 0.29, 29},
		{"just below all", 99.99, 9999},
		{"rounds up to all", 99.995, Buckets},
		{"all", 100, Buckets},
		{"above 100 clamps", 150, Buckets},
		{"negative clamps", -1, 0},
		{"NaN covers nothing", math.NaN(), 0},
		{"infinity", math.Inf(1), Buckets},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Threshold(tc.p); got != tc.want {
				t.Errorf("Threshold(%v) = %d, want %d", tc.p, got, tc.want)
			}
		})
	}
}

// Buckets pinned by hand: if one of these changes, the algorithm changed and
// every user was re-bucketed, which needs a new Bucketing name.
func TestBucket_Pinned(t *testing.T) {
	tests := []struct {
		key, user string
		want      int
	}{
		{"premium", "alice@factory-wager.com", 3878},
		{"premium", "bob@factory-wager.com", 7714},
		{"ptySupport", "alice@factory-wager.com", 5616},
		{"premium", "zoë", 4648},
		{"premium", "用户-🚀", 204},
	}
	for _, tc := range tests {
		if got := Bucket(tc.key, tc.user); got != tc.want {
			t.Errorf("Bucket(%q, %q) = %d, want %d", tc.key, tc.user, got, tc.want)
		}
	}
}

func indexed(f config.FeatureFlag) config.FeatureFlag {
	f.Index()
	return f
}

func TestEvaluate_Reasons(t *testing.T) {
	const key = "premium"
	// Buckets for premium (see TestBucket_Pinned): alice 3878, bob 7714, 用户-🚀 204.
	tests := []struct {
		name string
		flag config.FeatureFlag
		user string
		want Decision
	}{
		{
			name: "disabled",
			flag: config.FeatureFlag{Enabled: false, RolloutPercentage: 100},
			user: "bob@factory-wager.com",
			want: Decision{Reason: ReasonDisabled, Bucket: NoBucket},
		},
		{
			name: "disabled beats allowed user",
			flag: indexed(config.FeatureFlag{Enabled: false, RolloutPercentage: 100, AllowedUsers: []string{"bob@factory-wager.com"}}),
			user: "bob@factory-wager.com",
			want: Decision{Reason: ReasonDisabled, Bucket: NoBucket},
		},
		{
			name: "allowed user at 0 percent",
			flag: indexed(config.FeatureFlag{Enabled: true, RolloutPercentage: 0, AllowedUsers: []string{"alice@factory-wager.com"}}),
			user: "alice@factory-wager.com",
			want: Decision{Enabled: true, Reason: ReasonAllowedUser, Bucket: NoBucket},
		},
		{
			name: "allowed user without Index",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 0, AllowedUsers: []string{"x", "alice@factory-wager.com"}},
			user: "alice@factory-wager.com",
			want: Decision{Enabled: true, Reason: ReasonAllowedUser, Bucket: NoBucket},
		},
		{
			name: "allowed list does not match by prefix or case",
			flag: indexed(config.FeatureFlag{Enabled: true, RolloutPercentage: 0, AllowedUsers: []string{"Alice@factory-wager.com", "alice"}}),
			user: "alice@factory-wager.com",
			want: Decision{Reason: ReasonOutOfRollout, Bucket: 3878},
		},
		{
			name: "no user below 100",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 99.99},
			user: "",
			want: Decision{Reason: ReasonNoUser, Bucket: NoBucket},
		},
		{
			name: "no user at 100",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 100},
			user: "",
			want: Decision{Enabled: true, Reason: ReasonInRollout, Bucket: NoBucket},
		},
		{
			name: "in rollout",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 25},
			user: "用户-🚀",
			want: Decision{Enabled: true, Reason: ReasonInRollout, Bucket: 204},
		},
		{
			name: "bucket equal to threshold is out",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 38.78},
			user: "alice@factory-wager.com",
			want: Decision{Reason: ReasonOutOfRollout, Bucket: 3878},
		},
		{
			name: "bucket just below threshold is in",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 38.79},
			user: "alice@factory-wager.com",
			want: Decision{Enabled: true, Reason: ReasonInRollout, Bucket: 3878},
		},
		{
			name: "out of rollout",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 25},
			user: "alice@factory-wager.com",
			want: Decision{Reason: ReasonOutOfRollout, Bucket: 3878},
		},
		{
			name: "zero percent",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 0},
			user: "bob@factory-wager.com",
			want: Decision{Reason: ReasonOutOfRollout, Bucket: 7714},
		},
		{
			name: "hundred percent",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: 100},
			user: "alice@factory-wager.com",
			want: Decision{Enabled: true, Reason: ReasonInRollout, Bucket: 3878},
		},
		{
			name: "NaN percent",
			flag: config.FeatureFlag{Enabled: true, RolloutPercentage: math.NaN()},
			user: "bob@factory-wager.com",
			want: Decision{Reason: ReasonOutOfRollout, Bucket: 7714},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Evaluate(key, tc.flag, tc.user); got != tc.want {
				t.Errorf("Evaluate(%q, %+v, %q) = %+v, want %+v", key, tc.flag, tc.user, got, tc.want)
			}
		})
	}
}

func TestEvaluate_Allocs(t *testing.T) {
	long := strings.Repeat("long-user-id-", 20) // past stackHashLen: streaming path
	allowed := indexed(config.FeatureFlag{Enabled: true, RolloutPercentage: 25, AllowedUsers: []string{"alice", "bob"}})
	tests := []struct {
		name string
		flag config.FeatureFlag
		user string
	}{
		{"short id", config.FeatureFlag{Enabled: true, RolloutPercentage: 25}, "user-123456@factory-wager.com"},
		{"long id", config.FeatureFlag{Enabled: true, RolloutPercentage: 25}, long},
		{"non-ASCII id", config.FeatureFlag{Enabled: true, RolloutPercentage: 25}, "用户-🚀"},
		{"allowed user", allowed, "bob"},
		{"indexed flag, other user", allowed, "carol"},
		{"disabled", config.FeatureFlag{RolloutPercentage: 25}, "carol"},
		{"no user", config.FeatureFlag{Enabled: true, RolloutPercentage: 25}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d Decision
			allocs := testing.AllocsPerRun(200, func() { d = Evaluate("premium", tc.flag, tc.user) })
			if allocs != 0 {
				t.Errorf("Evaluate(%q, ..., %q) allocates %v times per call, want 0", "premium", tc.user, allocs)
			}
			_ = d
		})
	}
}

func BenchmarkEvaluate(b *testing.B) {
	f := indexed(config.FeatureFlag{Enabled: true, RolloutPercentage: 25, AllowedUsers: []string{"alice@factory-wager.com"}})
	b.ReportAllocs()
	for b.Loop() {
		Evaluate("premium", f, "user-123456@factory-wager.com")
	}
}
