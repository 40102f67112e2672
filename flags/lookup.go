package flags

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/factory-wager/edgeconf/config"
)

// ErrUnknownFlag is wrapped by the errors of functions given a flag name
// the configuration does not define.
var ErrUnknownFlag = errors.New("unknown flag")

// Lookup returns the flag called name.
// It returns an error wrapping ErrUnknownFlag, listing the defined names,
// when features has no such flag.
func Lookup(features config.FeatureConfig, name string) (config.FeatureFlag, error) {
	if f, ok := features[name]; ok {
		return f, nil
	}
	names := slices.Sorted(maps.Keys(features))
	if len(names) == 0 {
		return config.FeatureFlag{}, fmt.Errorf("%w %q: the configuration defines no flags", ErrUnknownFlag, name)
	}
	return config.FeatureFlag{}, fmt.Errorf("%w %q (defined: %s)", ErrUnknownFlag, name, strings.Join(names, ", "))
}

// Evaluation is one evaluation with its inputs, as `edgeconf flags eval`
// reports it.
type Evaluation struct {
	Flag string `json:"flag"`
	User string `json:"user"`
	Decision
	RolloutPercentage float64 `json:"rolloutPercentage"`
	// Threshold is the number of buckets the rollout covers: users with
	// Bucket < Threshold are in it.
	Threshold int    `json:"threshold"`
	Bucketing string `json:"bucketing"`
}

// Eval looks up flagKey in features and evaluates it for userID.
// It returns an error wrapping ErrUnknownFlag when the flag is not defined.
func Eval(features config.FeatureConfig, flagKey, userID string) (Evaluation, error) {
	f, err := Lookup(features, flagKey)
	if err != nil {
		return Evaluation{}, err
	}
	return Evaluation{
		Flag:              flagKey,
		User:              userID,
		Decision:          Evaluate(flagKey, f, userID),
		RolloutPercentage: f.RolloutPercentage,
		Threshold:         Threshold(f.RolloutPercentage),
		Bucketing:         Bucketing,
	}, nil
}

// Row is one flag as `edgeconf flags list` shows it.
type Row struct {
	Name              string  `json:"name"`
	Enabled           bool    `json:"enabled"`
	RolloutPercentage float64 `json:"rolloutPercentage"`
	AllowedUsers      int     `json:"allowedUsers"` // how many users are listed
	// Source says where the flag's settings came from (a file position, an
	// environment section, a KV override); "" when the caller did not say.
	Source string `json:"source,omitempty"`
}

// List returns one row per flag, sorted by name. source, optional, names
// where a flag's settings came from; nil leaves Row.Source empty.
func List(features config.FeatureConfig, source func(name string) string) []Row {
	rows := make([]Row, 0, len(features))
	for _, name := range slices.Sorted(maps.Keys(features)) {
		f := features[name]
		r := Row{
			Name:              name,
			Enabled:           f.Enabled,
			RolloutPercentage: f.RolloutPercentage,
			AllowedUsers:      len(f.AllowedUsers),
		}
		if source != nil {
			r.Source = source(name)
		}
		rows = append(rows, r)
	}
	return rows
}
