#!/usr/bin/env bash
# build.sh — `edgeconf build` against its peer, `wrangler deploy --dry-run
# --outdir` (issue 13), on the same Worker (worker/index.js) in the same run.
#
# wrangler cannot resolve the Worker's "edgeconf:config" module, so its input
# is wrangler.toml from `edgeconf wrangler generate` with main pointed at the
# source entry, whose "edgeconf:config" import is rewritten to a plain module
# holding the same configuration: both bundlers then do the same work. The two
# commands run back to back under hyperfine, RUNS times each
# (default 10) after WARMUP warm-up runs (default 2). Exits 1 when edgeconf
# is not at least 20x faster (median).
#
# Usage: bench/build.sh             (from anywhere; needs Go, hyperfine, jq, make tools)
#        RUNS=5 bench/build.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-10}
warmup=${WARMUP:-2}
wrangler=${WRANGLER:-$root/tools/node_modules/.bin/wrangler}
command -v hyperfine >/dev/null || { echo "hyperfine is missing (apt-get install hyperfine)" >&2; exit 2; }
command -v jq >/dev/null || { echo "jq is missing (apt-get install jq)" >&2; exit 2; }
[ -x "$wrangler" ] || { echo "wrangler is missing: run make tools" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/edgeconf" "$root/cmd/edgeconf"

# The project: the repository's configuration and Worker, copied.
mkdir -p "$work/p"
cp "$root/cloudflare-config.yaml" "$work/p/"
cp -r "$root/worker" "$work/p/worker"
rm -f "$work/p/worker/"*.test.mjs
cd "$work/p"
export EDGECONF_STATE_DIR="$work/state" WRANGLER_SEND_METRICS=false CI=true NO_COLOR=1
"$work/edgeconf" build --outdir "$work/p/dist" >/dev/null
# wrangler's input: the source Worker, with edgeconf:config as a plain module
# holding the same object edgeconf bakes in (taken from edgeconf's bundle).
sed -n 's/^var config_default = \(.*\);$/export default \1;/p' dist/index.js >worker/edgeconf-config.js
[ -s worker/edgeconf-config.js ] || { echo "cannot find the baked configuration in dist/index.js" >&2; exit 1; }
sed -i "s#from \"edgeconf:config\"#from \"./edgeconf-config.js\"#" worker/index.js
# ... and edgeconf:assets (worker/edge.js): the dashboard's files, web/static,
# as edgeconf build bakes them (URL path -> {type, body}; "/" is index.html).
(
	cd "$root/web/static"
	for f in *; do
		case $f in
		*.html) t="text/html; charset=utf-8" ;;
		*.js) t="text/javascript; charset=utf-8" ;;
		*.css) t="text/css; charset=utf-8" ;;
		*) continue ;;
		esac
		jq -n --arg p "/$f" --arg t "$t" --rawfile b "$f" '{($p): {type: $t, body: $b}}'
	done | jq -s 'add | if .["/index.html"] then .["/"] = .["/index.html"] else . end | "export default \(tojson);"' -r
) >worker/edgeconf-assets.js
sed -i 's#from "edgeconf:assets"#from "./edgeconf-assets.js"#' worker/edge.js
! grep -rqE 'from "edgeconf:' worker --include='*.js' || { echo "the Worker still imports an edgeconf: module" >&2; exit 1; }
"$work/edgeconf" wrangler generate -o wrangler.toml >/dev/null
sed -i 's#^main = "dist/index.js"#main = "worker/index.js"#' wrangler.toml
"$wrangler" deploy --dry-run --env "" --outdir "$work/wout" >/dev/null 2>&1 || {
	echo "wrangler refused the project:" >&2
	"$wrangler" deploy --dry-run --env "" --outdir "$work/wout" >&2
	exit 1
}

hyperfine --warmup "$warmup" --runs "$runs" --export-json "$work/h.json" \
	-n "edgeconf build" "$work/edgeconf build --outdir $work/p/dist" \
	-n "wrangler deploy --dry-run" "$wrangler deploy --dry-run --env '' --outdir $work/wout"

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[int(sys.argv[2])]["median"])' "$work/h.json" "$1"; }
ours=$(median 0)
theirs=$(median 1)
ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.1f", a / b }')
echo
echo "median: edgeconf build $(awk -v s="$ours" 'BEGIN{printf "%.1f ms", s*1000}'), wrangler deploy --dry-run $(awk -v s="$theirs" 'BEGIN{printf "%.0f ms", s*1000}'); edgeconf is ${ratio}x faster (target >= 20x)"
echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$ratio" 'BEGIN { exit !(r < 20) }' && exit 1
exit 0
