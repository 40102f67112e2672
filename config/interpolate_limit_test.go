package config_test

import (
	"strings"
	"testing"

	"github.com/factory-wager/edgeconf/config"
)

// A small file referencing a large variable many times must not expand
// without bound: the expansion stops at MaxExpandedBytes with a located
// size-limit problem.
func TestParse_ExpansionIsBounded(t *testing.T) {
	big := strings.Repeat("x", 64<<10)
	lookup := func(k string) (string, bool) {
		if k == "BIG" {
			return big, true
		}
		return "", false
	}
	var many strings.Builder
	for i := range 200 {
		many.WriteString("  k" + strings.Repeat("a", i%7) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `: "${BIG}"` + "\n")
	}
	for name, src := range map[string]string{
		"one scalar":   minimal + "owner2: \"" + strings.Repeat("${BIG}", 200) + "\"\n",
		"many scalars": minimal + "x-anchors:\n  a: 1\nlabels:\n" + many.String(),
	} {
		t.Run(name, func(t *testing.T) {
			doc, _ := parse(t, src, config.LoadOptions{LookupEnv: lookup})
			if doc == nil {
				t.Fatal("no document")
			}
			var hit []config.Problem
			for _, p := range doc.Problems {
				if p.Rule == "size-limit" {
					hit = append(hit, p)
				}
			}
			if len(hit) != 1 || !strings.Contains(hit[0].Message, "1 MiB") || hit[0].Path == "" {
				t.Fatalf("problems = %v, want one located size-limit problem naming 1 MiB", doc.Problems)
			}
		})
	}
	// Within the budget, a large variable expands as usual.
	doc, _ := parse(t, strings.Replace(minimal, "owner: team", `owner: "${BIG}"`, 1), config.LoadOptions{LookupEnv: lookup})
	if doc == nil || doc.Config.Owner != big {
		t.Fatalf("a 64 KiB expansion did not happen")
	}
	for _, p := range doc.Problems {
		if p.Rule == "size-limit" {
			t.Errorf("a 64 KiB expansion hit the limit: %v", p)
		}
	}
}
