#!/usr/bin/env bash
# bench/kv-import.sh: importing 10,000 overrides into the local store,
# `edgeconf kv bulk-put --local` versus `wrangler kv bulk put --local`, the
# same wrangler bulk file for both (the override key layout of docs/overrides.md), each into a
# fresh store per run. Target: edgeconf at least 100x faster.
#
# Environment (all optional): N=10000 keys, RUNS=5 (edgeconf), WRANGLER_RUNS=3,
# TARGET=100, BENCH_OUT=bench/out, EDGECONF=path of a built binary.
# Exit status: 0 target met, 1 missed, 2 a tool is missing or a command fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
n="${N:-10000}"
runs="${RUNS:-5}"
wruns="${WRANGLER_RUNS:-3}"
target="${TARGET:-100}"
out="${BENCH_OUT:-$repo/bench/out}"

die() {
	echo "bench/kv-import.sh: $*" >&2
	exit 2
}

wrangler="$repo/tools/node_modules/.bin/wrangler"
[[ -x $wrangler ]] || die "wrangler is missing: run make tools (npm ci in tools/)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install -y hyperfine (or make tools-bench as root)"
if [[ -n ${EDGECONF:-} ]]; then
	edgeconf="$EDGECONF"
else
	edgeconf="$repo/bin/edgeconf"
	(cd "$repo" && go build -o "$edgeconf" ./cmd/edgeconf) || die "go build ./cmd/edgeconf failed"
fi

work="$(mktemp -d)"
[[ -n $work && -d $work ]] || die "mktemp failed"
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
cp "$here/testdata/wrangler.toml" "$work/"
cp -R "$here/testdata/worker" "$work/"

# The data: N overrides as `edgeconf override export` writes them.
node -e '
const n = Number(process.argv[1]);
const items = [];
for (let i = 0; i < n; i++) {
  items.push({
    key: `edgeconf/v1/overrides/_base/features.f${String(i).padStart(5, "0")}.rolloutPercentage`,
    value: String(i % 101),
    metadata: { setBy: "bench", setAt: "2026-06-01T12:00:00.000000000Z", rev: 1 },
  });
}
process.stdout.write(JSON.stringify(items));
' "$n" >"$work/overrides.json"

unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true WRANGLER_LOG_PATH="$work/logs"
quote() { printf '%q ' "$@"; }
edge_cmd="$(quote env EDGECONF_STATE_DIR="$work/state" "$edgeconf" kv bulk-put "$work/overrides.json" --local)"
wr_cmd="$(quote "$wrangler" kv bulk put "$work/overrides.json" --binding CONFIG --local --config "$work/wrangler.toml")"

cd "$work"
for cmd in "$edge_cmd" "$wr_cmd"; do
	if ! output="$(eval "$cmd" 2>&1)"; then
		printf '%s\n' "$output" >&2
		die "this command failed: $cmd"
	fi
done
# The edgeconf store really holds the data.
count="$(EDGECONF_STATE_DIR="$work/state" "$edgeconf" kv list --prefix edgeconf/v1/overrides/ 2>/dev/null |
	node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).length))')"
[[ $count == "$n" ]] || die "edgeconf stored $count keys, want $n"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"$(go version | cut -d' ' -f3-), node $(node --version), wrangler $("$wrangler" --version 2>/dev/null | tail -n1)"
hyperfine -N --style basic --runs "$runs" --prepare "rm -rf $work/state" \
	--export-json "$out/kv-import-edgeconf.json" --command-name "edgeconf kv bulk-put" "$edge_cmd"
hyperfine -N --style basic --runs "$wruns" --prepare "rm -rf $work/.wrangler/state" \
	--export-json "$out/kv-import-wrangler.json" --command-name "wrangler kv bulk put --local" "$wr_cmd"

node -e '
const fs = require("fs");
const [ef, wf, target, n] = process.argv.slice(1);
const e = JSON.parse(fs.readFileSync(ef, "utf8")).results[0];
const w = JSON.parse(fs.readFileSync(wf, "utf8")).results[0];
const ms = (s) => (s * 1000).toFixed(1).padStart(9) + " ms";
for (const r of [e, w]) console.log(`${r.command.padEnd(30)} median ${ms(r.median)} (min ${ms(r.min)}, max ${ms(r.max)}, ${r.times.length} runs) for ${n} keys`);
const ratio = w.median / e.median;
const verdict = ratio >= Number(target) ? "PASS" : "MISS";
console.log(`ratio of medians: edgeconf is ${ratio.toFixed(1)}x faster (target >= ${target}x): ${verdict}`);
process.exitCode = verdict === "PASS" ? 0 : 1;
' "$out/kv-import-edgeconf.json" "$out/kv-import-wrangler.json" "$target" "$n"
