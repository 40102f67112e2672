#!/usr/bin/env bash
# cloudflare.sh — Cloudflare KV client benchmark (issue 5).
#
# Runs edgeconf's KV client (cloudflare.KV, with its retry policy in the path
# of every call) and hand-written net/http code doing the
# same requests, both against the cfemu emulator on loopback in the same
# process, alternating the two COUNT times (default 10) so that both see the
# same machine load. Then a bulk write of 50,000 keys (BULK_COUNT runs,
# default 3). Prints the medians and the ratios, and exits 1 when a ratio of
# medians is above 1.3 (the target: at most 1.3x raw net/http per op).
#
# Usage: bench/cloudflare.sh            (from anywhere; at most ~3 minutes)
#        COUNT=3 bench/cloudflare.sh    (quicker, noisier)
set -euo pipefail

cd "$(dirname "$0")"
count=${COUNT:-10}
bulk_count=${BULK_COUNT:-3}
ops=${OPS:-2000}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go test -c -o "$work/cf.test" ./cloudflare/
# The two sides must read and write the same thing for the comparison to be fair.
(cd cloudflare && "$work/cf.test" -test.run '^TestSameWork$')

run() { (cd cloudflare && timeout 120 "$work/cf.test" -test.run '^$' -test.bench "^$1\$" -test.benchmem -test.benchtime "$2" -test.count 1); }
for _ in $(seq "$count"); do
	run BenchmarkKVGet "${ops}x"
	run BenchmarkKVGetRawHTTP "${ops}x"
	run BenchmarkKVPut "${ops}x"
	run BenchmarkKVPutRawHTTP "${ops}x"
done | grep -E '^Benchmark' | tee "$work/kv.txt"
for _ in $(seq "$bulk_count"); do
	run BenchmarkBulkPut50k 2x
done | grep -E '^Benchmark' | tee "$work/bulk.txt"

# median of the value before UNIT on the lines of benchmark NAME
median() {
	grep -E "^$1-[0-9]+ " "$3" | awk -v unit="$2" '{ for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit } print (NR % 2 ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2) }'
}
get=$(median BenchmarkKVGet ns/op "$work/kv.txt")
get_raw=$(median BenchmarkKVGetRawHTTP ns/op "$work/kv.txt")
put=$(median BenchmarkKVPut ns/op "$work/kv.txt")
put_raw=$(median BenchmarkKVPutRawHTTP ns/op "$work/kv.txt")
bulk_ns=$(median BenchmarkBulkPut50k ns/op "$work/bulk.txt")
bulk_rate=$(median BenchmarkBulkPut50k keys/s "$work/bulk.txt")
ratio_get=$(awk -v a="$get" -v b="$get_raw" 'BEGIN { printf "%.2f", a / b }')
ratio_put=$(awk -v a="$put" -v b="$put_raw" 'BEGIN { printf "%.2f", a / b }')

echo
echo "median ns/op (n=$count): get edgeconf $get, raw net/http $get_raw, ratio $ratio_get (target <= 1.3)"
echo "median ns/op (n=$count): put edgeconf $put, raw net/http $put_raw, ratio $ratio_put (target <= 1.3)"
echo "bulk write of 50,000 keys (n=$bulk_count): median $(awk -v n="$bulk_ns" 'BEGIN { printf "%.2f", n / 1e9 }') s, $(awk -v r="$bulk_rate" 'BEGIN { printf "%.0f", r }') keys/s"
echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d)"
if awk -v a="$ratio_get" -v b="$ratio_put" 'BEGIN { exit !(a > 1.3 || b > 1.3) }'; then
	echo "FAIL: target missed" >&2
	exit 1
fi
echo "target met"
