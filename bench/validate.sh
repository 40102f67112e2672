#!/usr/bin/env bash
# bench/validate.sh: `edgeconf validate` versus `wrangler deploy --dry-run`.
#
# Both check the same Worker configuration as a whole process: edgeconf the
# repository's cloudflare-config.yaml, wrangler its equivalent
# bench/testdata/wrangler.toml (with worker/index.js), the check a Cloudflare
# user runs today. Both run in one hyperfine invocation (--warmup 2, --runs 10,
# no intermediate shell); the script prints the medians and their ratio.
# Target: edgeconf at least 100x faster.
#
# The wrangler dry run is offline: no credentials, no metrics, no banner (whose
# update check is wrangler's only network request here, as strace shows).
#
# Environment (all optional):
#   RUNS=10 WARMUP=2   hyperfine's --runs and --warmup
#   TARGET=100         the ratio the run must reach
#   BENCH_OUT=bench/out  where validate.json and validate.md are written
#   EDGECONF=path      an already built binary to measure instead of building
#                      bin/edgeconf from ./cmd/edgeconf
#
# Exit status: 0 when the target is met, 1 when it is missed, 2 when a tool is
# missing or one of the two commands fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
runs="${RUNS:-10}"
warmup="${WARMUP:-2}"
target="${TARGET:-100}"
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
	(cd "$repo" && go build -o "$edgeconf" ./cmd/edgeconf) || die "go build ./cmd/edgeconf failed"
fi
config="$repo/cloudflare-config.yaml"
[[ -f $config ]] || die "$config is missing"

# --- the wrangler project ---------------------------------------------------
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
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
validate_cmd="$(quote "$edgeconf" validate -c "$config" -o json)"
wrangler_cmd="$(quote "$wrangler" deploy --dry-run --config "$work/wrangler.toml" --outdir "$work/dist")"

# Run each once first so that a failure shows its own output.
cd "$work"
for cmd in "$validate_cmd" "$wrangler_cmd"; do
	if ! output="$(eval "$cmd" 2>&1)"; then
		printf '%s\n' "$output" >&2
		die "this command failed: $cmd"
	fi
done

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(go version | cut -d' ' -f3-)," \
	"node $(node --version), wrangler $("$wrangler" --version 2>/dev/null | tail -n1), $(hyperfine --version)"
hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
	--export-json "$out/validate.json" --export-markdown "$out/validate.md" \
	--command-name "edgeconf validate" "$validate_cmd" \
	--command-name "wrangler deploy --dry-run" "$wrangler_cmd"

# --- medians and ratio ------------------------------------------------------
node - "$out/validate.json" "$target" <<'EOF'
const fs = require("fs");
const [file, target] = process.argv.slice(2);
const [edgeconf, wrangler] = JSON.parse(fs.readFileSync(file, "utf8")).results;
const ms = (s) => (s * 1000).toFixed(2).padStart(9) + " ms";
for (const r of [edgeconf, wrangler]) {
  console.log(`${r.command.padEnd(26)} median ${ms(r.median)}  (min ${ms(r.min)}, max ${ms(r.max)}, ${r.times.length} runs)`);
}
const ratio = wrangler.median / edgeconf.median;
const verdict = ratio >= Number(target) ? "PASS" : "MISS";
console.log(`ratio of medians: edgeconf validate is ${ratio.toFixed(1)}x faster (target >= ${target}x): ${verdict}`);
process.exitCode = verdict === "PASS" ? 0 : 1;
EOF
