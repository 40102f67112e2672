package flags

import (
	"errors"
	"reflect"
	"strconv"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

func testFeatures() config.FeatureConfig {
	features := config.FeatureConfig{
		"premium":    {Enabled: true, RolloutPercentage: 25, AllowedUsers: []string{"alice@factory-wager.com"}},
		"terminal":   {Enabled: true, RolloutPercentage: 100},
		"webgl":      {Enabled: false, RolloutPercentage: 0},
		"ptySupport": {Enabled: true, RolloutPercentage: 10},
	}
	for name, f := range features {
		f.Index()
		features[name] = f
	}
	return features
}

func TestLookup_UnknownFlag(t *testing.T) {
	tests := []struct {
		name     string
		features config.FeatureConfig
		wantMsg  string
	}{
		{"lists defined flags", testFeatures(), `unknown flag "premum" (defined: premium, ptySupport, terminal, webgl)`},
		{"no flags", config.FeatureConfig{}, `unknown flag "premum": the configuration defines no flags`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lookup(tc.features, "premum")
			if !errors.Is(err, ErrUnknownFlag) {
				t.Fatalf("Lookup(%q) error = %v, want one wrapping ErrUnknownFlag", "premum", err)
			}
			if err.Error() != tc.wantMsg {
				t.Errorf("Lookup(%q) error = %q, want %q", "premum", err, tc.wantMsg)
			}
		})
	}
}

func TestEval(t *testing.T) {
	features := testFeatures()
	tests := []struct {
		name, flag, user string
		want             Evaluation
	}{
		{
			name: "allowed user", flag: "premium", user: "alice@factory-wager.com",
			want: Evaluation{Flag: "premium", User: "alice@factory-wager.com", Decision: Decision{Enabled: true, Reason: ReasonAllowedUser, Bucket: NoBucket}, RolloutPercentage: 25, Threshold: 2500, Bucketing: Bucketing},
		},
		{
			name: "in rollout", flag: "premium", user: "用户-🚀",
			want: Evaluation{Flag: "premium", User: "用户-🚀", Decision: Decision{Enabled: true, Reason: ReasonInRollout, Bucket: 204}, RolloutPercentage: 25, Threshold: 2500, Bucketing: Bucketing},
		},
		{
			name: "disabled", flag: "webgl", user: "bob",
			want: Evaluation{Flag: "webgl", User: "bob", Decision: Decision{Reason: ReasonDisabled, Bucket: NoBucket}, Bucketing: Bucketing},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Eval(features, tc.flag, tc.user)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("Eval(%q, %q) = %+v, want %+v", tc.flag, tc.user, got, tc.want)
			}
		})
	}
	if _, err := Eval(features, "nope", "bob"); !errors.Is(err, ErrUnknownFlag) {
		t.Errorf("Eval(%q) error = %v, want one wrapping ErrUnknownFlag", "nope", err)
	}
}

func TestList(t *testing.T) {
	source := func(name string) string {
		if name == "premium" {
			return "environment:production cloudflare-config.yaml:40:7"
		}
		return ""
	}
	got := List(testFeatures(), source)
	want := []Row{
		{Name: "premium", Enabled: true, RolloutPercentage: 25, AllowedUsers: 1, Source: "environment:production cloudflare-config.yaml:40:7"},
		{Name: "ptySupport", Enabled: true, RolloutPercentage: 10},
		{Name: "terminal", Enabled: true, RolloutPercentage: 100},
		{Name: "webgl"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List() = %+v, want %+v", got, want)
	}
	if rows := List(testFeatures(), nil); rows[0].Source != "" {
		t.Errorf("List(nil source)[0].Source = %q, want empty", rows[0].Source)
	}
	if rows := List(nil, nil); rows == nil || len(rows) != 0 {
		t.Errorf("List(nil) = %#v, want an empty, non-nil slice", rows)
	}
}

func TestSimulate(t *testing.T) {
	f := testFeatures()["premium"]
	ids := []string{"alice@factory-wager.com", "", "用户-🚀", "bob@factory-wager.com"}
	res := Simulate("premium", f, len(ids), func(i int) string { return ids[i] })
	wantReasons := map[Reason]int{ReasonAllowedUser: 1, ReasonNoUser: 1, ReasonInRollout: 1, ReasonOutOfRollout: 1}
	if !reflect.DeepEqual(res.Reasons, wantReasons) {
		t.Errorf("Simulate reasons = %v, want %v", res.Reasons, wantReasons)
	}
	if res.Users != 4 || res.Enabled != 2 || res.EnabledPercent != 50 || res.Threshold != 2500 || res.Bucketing != Bucketing {
		t.Errorf("Simulate = %+v, want 4 users, 2 enabled (50%%), threshold 2500", res)
	}
	// Every non-empty ID lands in the histogram, the allowed user included
	// (alice 3878, 用户-🚀 204, bob 7714).
	var want [100]int
	want[38], want[2], want[77] = 1, 1, 1
	if res.Histogram != want {
		t.Errorf("Simulate histogram = %v, want %v", res.Histogram, want)
	}
}

func TestSimulate_SyntheticUsers(t *testing.T) {
	f := config.FeatureFlag{Enabled: true, RolloutPercentage: 10}
	res := Simulate("ptySupport", f, 20000, nil)
	want := 0
	for i := range 20000 {
		if Evaluate("ptySupport", f, "user-"+strconv.Itoa(i)).Enabled {
			want++
		}
	}
	if res.Enabled != want {
		t.Errorf("Simulate(nil idFn).Enabled = %d, want %d (users user-0 .. user-19999)", res.Enabled, want)
	}
	if empty := Simulate("ptySupport", f, -5, nil); empty.Users != 0 || empty.EnabledPercent != 0 {
		t.Errorf("Simulate(-5 users) = %+v, want 0 users", empty)
	}
}
