package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// maxFlagDays bounds the day count of a duration flag (100 years).
const maxFlagDays = 36500

// dayDuration is a duration flag that also accepts days: "8d", "1d12h",
// "90m". A day is 24 hours.
type dayDuration struct{ d *time.Duration }

// String is the flag's value; zero is "0", which pflag takes for "no
// default" (the usage text says what zero means, e.g. never).
func (v dayDuration) String() string {
	if v.d == nil || *v.d == 0 {
		return "0"
	}
	return v.d.String()
}

func (v dayDuration) Type() string { return "duration" }

func (v dayDuration) Set(s string) error {
	d, err := parseDayDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

// parseDayDuration is time.ParseDuration with an optional leading day
// count ("8d", "1d12h").
func parseDayDuration(s string) (time.Duration, error) {
	days, rest := 0, s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 2h, 8d or 1d12h)", s)
		}
		if n > maxFlagDays {
			return 0, fmt.Errorf("duration %q: more than %d days", s, maxFlagDays)
		}
		days, rest = n, s[i+1:]
	}
	var d time.Duration
	if rest != "" || days == 0 {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("invalid duration %q (want e.g. 90s, 15m, 2h, 8d or 1d12h)", s)
		}
	}
	return time.Duration(days)*24*time.Hour + d, nil
}

// dayDurationVar defines a duration flag that accepts days.
func dayDurationVar(fs *pflag.FlagSet, p *time.Duration, name string, value time.Duration, usage string) {
	*p = value
	fs.Var(dayDuration{p}, name, usage)
}
