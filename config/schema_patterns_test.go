package config

import (
	"regexp"
	"strings"
	"testing"
)

// The schema's name patterns accept exactly the names the rules accept.
func TestSchemaPatternsMatchRules(t *testing.T) {
	names := []string{"", "a", "A", "premium", "Premium_2", "x-y", "_x", "$x", "x$", "9a", "a9", "a b", "a.b", "é", "-a", "a-",
		strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65), "staging", "prod_1", "Prod"}
	for _, tc := range []struct {
		pattern string
		rule    func(string) bool
	}{
		{FlagNamePattern, validFlagName},
		{IdentifierPattern, IsIdentifier},
		{EnvNamePattern, envNames.MatchString},
	} {
		re := regexp.MustCompile(tc.pattern)
		for _, n := range names {
			if re.MatchString(n) != tc.rule(n) {
				t.Errorf("%s: %q: schema %v, rule %v", tc.pattern, n, re.MatchString(n), tc.rule(n))
			}
		}
	}
}
