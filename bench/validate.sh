#!/usr/bin/env bash
# bench/validate.sh: `edgeconf validate` versus `wrangler deploy --dry-run`,
# with three reference rows for edgeconf's start-up (issue 12): a
# hello-world Go program (the floor any Go binary pays), the same program
# importing every third-party package edgeconf imports (what the dependency
# set costs every command) and `edgeconf --help`.
#
# A sixth reference row runs edgeconf built with the startupfloor tag, which
# exits before main: what every command pays before any work of its own.
#
# All six run as whole processes in one run: edgeconf validate checks the
# repository's cloudflare-config.yaml, wrangler its equivalent
# bench/testdata/wrangler.toml (with worker/index.js), the check a Cloudflare
# user runs today. The machines are small and shared, so the commands
# alternate: ROUNDS rounds, each one hyperfine invocation (-N, no shell) of
# the four Go commands, FAST_RUNS runs each, then one of wrangler, RUNS
# runs; the medians are over all rounds. The binary is bin/edgeconf from
# `make build` (the release flags); the two hello worlds are built with the
# same flags.
#
# Targets (the script checks all three):
#   validate:  edgeconf at least TARGET (100) times faster than wrangler
#   start-up:  edgeconf --help at most HELP_TARGET (10) ms above hello world
#   size:      the binary at most SIZE_TARGET (30) MB (10^6 bytes)
#
# The wrangler dry run is offline: no credentials, no metrics, no banner (whose
# update check is wrangler's only network request here, as strace shows).
#
# Environment (all optional):
#   ROUNDS=5 FAST_RUNS=20 RUNS=2 WARMUP=2  rounds, runs per round of the Go
#                      commands and of wrangler, warm-up runs in the first round
#   TARGET=100 HELP_TARGET=10 SIZE_TARGET=30  the targets above
#   BENCH_OUT=bench/out  where validate.json and validate.md are written
#   EDGECONF=path      an already built binary to measure instead of running
#                      make build
#
# Exit status: 0 when every target is met, 1 when one is missed, 2 when a
# tool is missing or a command fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
rounds="${ROUNDS:-5}"
fast_runs="${FAST_RUNS:-20}"
runs="${RUNS:-2}"
warmup="${WARMUP:-2}"
target="${TARGET:-100}"
help_target="${HELP_TARGET:-10}"
size_target="${SIZE_TARGET:-30}"
out="${BENCH_OUT:-$repo/bench/out}"

die() {
	echo "bench/validate.sh: $*" >&2
	exit 2
}

# --- tools -----------------------------------------------------------------
wrangler="$repo/tools/node_modules/.bin/wrangler"
[[ -x $wrangler ]] || die "wrangler is missing: run make tools (npm ci in tools/)"
command -v node >/dev/null || die "node is missing (wrangler needs Node.js >= 20.3)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install -y hyperfine (or make tools-bench APT_INSTALL=1)"

if [[ -n ${EDGECONF:-} ]]; then
	edgeconf="$EDGECONF"
else
	edgeconf="$repo/bin/edgeconf"
	make -C "$repo" --no-print-directory build >/dev/null || die "make build failed"
fi
config="$repo/cloudflare-config.yaml"
[[ -f $config ]] || die "$config is missing"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# --- hello world: the floor of any Go program, built like make build --------
mkdir "$work/hello"
cat >"$work/hello/main.go" <<'GO'
package main

import "fmt"

func main() { fmt.Println("hello, world") }
GO
printf 'module hello\n\ngo 1.26\n' >"$work/hello/go.mod"
(cd "$work/hello" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/hello-world" .) || die "building hello world failed"

# --- the dependency floor: hello world that imports (blank) every
# third-party package edgeconf's packages import, none of edgeconf's code:
# what their package initialisation costs every command.
mkdir "$work/deps"
deps="$(cd "$repo" && go list -deps -f '{{with .Module}}{{if eq .Path "github.com/factory-wager/edgeconf"}}{{$.ImportPath}}{{end}}{{end}}' ./cmd/edgeconf |
	xargs go list -f '{{join .Imports "\n"}}' | grep -E '^[^/]+\.[^/]+/' | grep -v '^github.com/factory-wager/' | sort -u)" ||
	die "listing edgeconf's dependencies failed"
{
	printf 'package main\n\nimport (\n\t"fmt"\n\n'
	mapfile -t imports <<<"$deps"
	printf '\t_ "%s"\n' "${imports[@]}"
	printf ')\n\nfunc main() { fmt.Println("hello, world") }\n'
} >"$work/deps/main.go"
sed 's#^module .*#module depsonly#' "$repo/go.mod" >"$work/deps/go.mod"
cp "$repo/go.sum" "$work/deps/"
(cd "$work/deps" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags='-s -w' -o "$work/deps-only" .) || die "building the dependency floor failed"

# --- the start-up floor: edgeconf exiting as package main initialises ------
(cd "$repo" && CGO_ENABLED=0 go build -tags startupfloor -trimpath -ldflags='-s -w' -o "$work/edgeconf-floor" ./cmd/edgeconf) ||
	die "building the start-up floor failed"

# --- the wrangler project ---------------------------------------------------
cp "$here/testdata/wrangler.toml" "$work/"
cp -R "$here/testdata/worker" "$work/"
mkdir -p "$out"

# No credentials and no network. A dry run needs neither, but wrangler's banner
# asks the npm registry for a newer version (cached for an hour in
# $TMPDIR/update-check): hiding the banner skips that request, so every run
# does the same, offline work.
unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL
export WRANGLER_SEND_METRICS=false
export WRANGLER_HIDE_BANNER=true
export WRANGLER_LOG_PATH="$work/logs"

# hyperfine -N splits commands like a POSIX shell, so quote each word.
quote() { printf '%q ' "$@"; }
hello_cmd="$(quote "$work/hello-world")"
deps_cmd="$(quote "$work/deps-only")"
floor_cmd="$(quote "$work/edgeconf-floor" --help)"
help_cmd="$(quote "$edgeconf" --help)"
validate_cmd="$(quote "$edgeconf" validate -c "$config" -o json)"
wrangler_cmd="$(quote "$wrangler" deploy --dry-run --config "$work/wrangler.toml" --outdir "$work/dist")"

# Run each once first so that a failure shows its own output.
cd "$work"
for cmd in "$hello_cmd" "$deps_cmd" "$floor_cmd" "$help_cmd" "$validate_cmd" "$wrangler_cmd"; do
	if ! output="$(eval "$cmd" 2>&1)"; then
		printf '%s\n' "$output" >&2
		die "this command failed: $cmd"
	fi
done

size=$(stat -c %s "$edgeconf")
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg);" \
	"$(go version | cut -d' ' -f3-), node $(node --version), wrangler $("$wrangler" --version 2>/dev/null | tail -n1), $(hyperfine --version)"
for round in $(seq "$rounds"); do
	w=0
	[[ $round == 1 ]] && w=$warmup
	echo "== round $round of $rounds"
	hyperfine -N --style basic --warmup "$w" --runs "$fast_runs" --export-json "$work/round-$round-go.json" \
		--command-name "hello world (Go)" "$hello_cmd" \
		--command-name "hello world + edgeconf's dependencies" "$deps_cmd" \
		--command-name "edgeconf, exits before main (start-up floor)" "$floor_cmd" \
		--command-name "edgeconf --help" "$help_cmd" \
		--command-name "edgeconf validate" "$validate_cmd" | grep -E '^(Benchmark|  Time)'
	hyperfine -N --style basic --warmup "$w" --runs "$runs" --export-json "$work/round-$round-wrangler.json" \
		--command-name "wrangler deploy --dry-run" "$wrangler_cmd" | grep -E '^(Benchmark|  Time)'
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- medians, ratio, start-up and size ----------------------------------------
node - "$work" "$out" "$target" "$help_target" "$size_target" "$size" <<'EOF'
const fs = require("fs");
const path = require("path");
const [work, out, target, helpTarget, sizeTarget, size] = process.argv.slice(2);
const times = new Map(); // command name -> seconds, over all rounds
for (const f of fs.readdirSync(work).filter((f) => /^round-.*\.json$/.test(f)).sort()) {
  for (const r of JSON.parse(fs.readFileSync(path.join(work, f), "utf8")).results) {
    times.set(r.command, (times.get(r.command) || []).concat(r.times));
  }
}
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const results = [...times].map(([command, t]) => ({
  command, median: median(t), min: Math.min(...t), max: Math.max(...t), runs: t.length, times: t,
}));
const by = Object.fromEntries(results.map((r) => [r.command, r]));
const ms = (s) => (s * 1000).toFixed(2);
const ratio = by["wrangler deploy --dry-run"].median / by["edgeconf validate"].median;
const startup = (by["edgeconf --help"].median - by["hello world (Go)"].median) * 1000;
const mb = Number(size) / 1e6;
const checks = [
  [`validate: edgeconf is ${ratio.toFixed(1)}x faster than wrangler, ratio of medians (target >= ${target}x)`, ratio >= Number(target)],
  [`start-up: edgeconf --help takes ${startup.toFixed(2)} ms more than hello world, difference of medians (target <= ${helpTarget} ms)`, startup <= Number(helpTarget)],
  [`size: the binary is ${mb.toFixed(1)} MB (target <= ${sizeTarget} MB)`, mb <= Number(sizeTarget)],
];
const lines = [
  "| command | median | min | max | runs |",
  "|---|---|---|---|---|",
  ...results.map((r) => `| \`${r.command}\` | ${ms(r.median)} ms | ${ms(r.min)} ms | ${ms(r.max)} ms | ${r.runs} |`),
  "",
  ...checks.map(([text, ok]) => `${text}: ${ok ? "PASS" : "MISS"}`),
  `the validate target leaves ${ms(by["wrangler deploy --dry-run"].median / Number(target))} ms per run; the start-up floor takes ${ms(by["edgeconf, exits before main (start-up floor)"].median)} ms of it`,
];
fs.writeFileSync(path.join(out, "validate.md"), lines.join("\n") + "\n");
fs.writeFileSync(path.join(out, "validate.json"),
  JSON.stringify({ results, ratio, startup_ms: startup, binary_bytes: Number(size) }, null, 2) + "\n");
console.log("\n" + lines.join("\n"));
process.exitCode = checks.every(([, ok]) => ok) ? 0 : 1;
EOF
