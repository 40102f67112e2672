#!/usr/bin/env bash
# flags.sh — feature-flag evaluation benchmark (issue 3).
#
# Runs BenchmarkEvaluate (edgeconf's flags.Evaluate) and
# BenchmarkEvaluateLaunchDarkly (LaunchDarkly's go-server-sdk-evaluation on
# an equivalent flag) in the same run, alternating, COUNT times each
# (default 10; the equivalent of -count 10 -benchmem), and
# compares them with benchstat. Exits 1 when edgeconf misses its target:
# at most 0.25x LaunchDarkly's median ns/op and 0 allocs/op.
#
# Usage: bench/flags.sh            (from anywhere; needs Go and the module proxy)
#        COUNT=3 bench/flags.sh    (quicker, noisier)
set -euo pipefail

cd "$(dirname "$0")"
count=${COUNT:-10}
# benchstat has no tagged releases; this pins the revision.
benchstat=golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Build once, then alternate the two benchmarks COUNT times so that both see
# the same machine load (a busy 2-core machine otherwise skews whichever
# benchmark ran during the busy spell).
go test -c -o "$work/flags.test" ./flags/
# First check that the two flags are equivalent, so the comparison is fair.
(cd flags && "$work/flags.test" -test.run '^TestFlagsAreEquivalent$')
for _ in $(seq "$count"); do
	(cd flags && "$work/flags.test" -test.run '^$' -test.bench '^BenchmarkEvaluate(LaunchDarkly)?$' -test.benchmem -test.count 1)
done | tee "$work/raw.txt"

# benchstat compares files benchmark by benchmark, so give LaunchDarkly's
# lines our benchmark's name and compare the two files as base and new.
grep -E '^(goos|goarch|pkg|cpu):' "$work/raw.txt" | sort -u >"$work/header.txt"
{ cat "$work/header.txt"; grep -E '^BenchmarkEvaluate-[0-9]+ ' "$work/raw.txt"; } >"$work/edgeconf.txt"
{ cat "$work/header.txt"; grep -E '^BenchmarkEvaluateLaunchDarkly-[0-9]+ ' "$work/raw.txt" |
	sed -E 's/^BenchmarkEvaluateLaunchDarkly-/BenchmarkEvaluate-/'; } >"$work/launchdarkly.txt"

echo
(cd "$work" && go run "$benchstat" launchdarkly=launchdarkly.txt edgeconf=edgeconf.txt)

# median ns/op and max allocs/op of one file's benchmark lines
stats() {
	awk '{ for (i = 2; i < NF; i++) { if ($(i+1) == "ns/op") print $i } }' "$1" | sort -g |
		awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}
allocs() {
	awk '{ for (i = 2; i < NF; i++) { if ($(i+1) == "allocs/op" && $i > m) m = $i } } END { print m + 0 }' "$1"
}
ours=$(stats "$work/edgeconf.txt")
theirs=$(stats "$work/launchdarkly.txt")
our_allocs=$(allocs "$work/edgeconf.txt")
ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.3f", a / b }')

echo
echo "median ns/op: edgeconf $ours, LaunchDarkly $theirs; ratio $ratio (target <= 0.25)"
echo "allocs/op: edgeconf $our_allocs (target 0), LaunchDarkly $(allocs "$work/launchdarkly.txt")"
echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
if awk -v r="$ratio" 'BEGIN { exit !(r > 0.25) }' || [ "$our_allocs" != 0 ]; then
	echo "FAIL: target missed" >&2
	exit 1
fi
echo "target met"
