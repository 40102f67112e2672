package config

import (
	"regexp"
	"strings"
	"testing"
)

// The hand-written name rules accept exactly what the regexps they
// replaced accepted (issue 12 moved regexp compilation out of package init).
func TestNamePatternsMatchRegexps(t *testing.T) {
	names := []string{"", "a", "0", "-", "_", "A", "ab", "a-b", "a_b", "a-", "-a", "_a", "a_", "aB", "Ab", "a.b", "a b", "é", "éa",
		"0123456789abcdef0123456789abcdef", "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcde",
		"0123456789abcdef0123456789abcdef0", "g123456789abcdef0123456789abcdef",
		"12345678-9abc-def0-1234-56789abcdef0", "12345678-9abc-def0-1234-56789abcdef", "12345678-9ABC-def0-1234-56789abcdef0",
		"12345678_9abc-def0-1234-56789abcdef0", "123456789-abc-def0-1234-56789abcdef0",
		"my-bucket", "my_db-2", "staging", "prod_1", "Prod", "ab", "abc",
		strings.Repeat("a", 62), strings.Repeat("a", 63), strings.Repeat("a", 64), strings.Repeat("a", 65)}
	for _, tc := range []struct {
		name     string
		re       string
		min, max int
		rule     func(string) bool
	}{
		{"hex32", `^[0-9a-f]+$`, 32, 32, hex32.MatchString},
		{"workerNames", `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`, 1, 63, workerNames.MatchString},
		{"bucketNames", `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`, 3, 63, bucketNames.MatchString},
		{"envNames", `^[a-z0-9][a-z0-9_-]*$`, 1, 63, envNames.MatchString},
		{"d1Names", `^[A-Za-z0-9][A-Za-z0-9_-]*$`, 1, 64, d1Names.MatchString},
		{"isUUID", `^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`, 36, 36, isUUID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			re := regexp.MustCompile(tc.re)
			for _, n := range names {
				want := len(n) >= tc.min && len(n) <= tc.max && re.MatchString(n)
				if got := tc.rule(n); got != want {
					t.Errorf("%s(%q) = %v, want %v", tc.name, n, got, want)
				}
			}
		})
	}
}
