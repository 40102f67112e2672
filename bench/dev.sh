#!/usr/bin/env bash
# dev.sh — `edgeconf dev` against its peer, `wrangler dev` (issue 13), in the
# same run on the same Worker (worker/index.js):
#
#   1. cold start: from launching the command to the first 200 from /healthz
#      (hyperfine, RUNS runs each, default 5; each run starts the server,
#      polls /healthz every 10 ms with curl, then stops the whole process
#      group). Exits 1 when edgeconf is not at least 5x faster (median).
#   2. (not yet) throughput of /api/flags/premium under `edgeconf dev`: ab
#      hung against workerd here; see bench/RESULTS.md.
#
# wrangler cannot resolve the Worker's "edgeconf:config" module: its project
# gets the same configuration as a plain module (as in bench/build.sh).
#
# Usage: bench/dev.sh   (needs Go, hyperfine, curl, make tools)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
wrangler=${WRANGLER:-$root/tools/node_modules/.bin/wrangler}
for t in hyperfine curl setsid; do
	command -v "$t" >/dev/null || { echo "$t is missing (apt-get install hyperfine curl)" >&2; exit 2; }
done
[ -x "$wrangler" ] || { echo "wrangler is missing: run make tools" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/edgeconf" "$root/cmd/edgeconf"
export EDGECONF_WORKERD=${EDGECONF_WORKERD:-$root/tools/node_modules/.bin/workerd}
export EDGECONF_STATE_DIR="$work/state" WRANGLER_SEND_METRICS=false CI=true NO_COLOR=1

mkdir -p "$work/p"
cp "$root/cloudflare-config.yaml" "$work/p/"
cp -r "$root/worker" "$work/p/worker"
rm -f "$work/p/worker/"*.test.mjs
cd "$work/p"
"$work/edgeconf" build --outdir "$work/p/dist" >/dev/null
# wrangler's project: a copy whose edgeconf:config import is a plain module.
mkdir -p "$work/w"
cp -r worker "$work/w/worker"
sed -n 's/^var config_default = \(.*\);$/export default \1;/p' dist/index.js >"$work/w/worker/edgeconf-config.js"
[ -s "$work/w/worker/edgeconf-config.js" ] || { echo "cannot find the baked configuration in dist/index.js" >&2; exit 1; }
sed -i 's#from "edgeconf:config"#from "./edgeconf-config.js"#' "$work/w/worker/index.js"
"$work/edgeconf" wrangler generate -o "$work/w/wrangler.toml" >/dev/null
sed -i 's#^main = ".*dist/index.js"#main = "worker/index.js"#' "$work/w/wrangler.toml"

port=18787
# cold.sh CMD...: start CMD in its own process group, wait for the first 200
# from /healthz (at most 60 s), stop the group.
cat >"$work/cold.sh" <<'SH'
#!/usr/bin/env bash
url=$1; shift
setsid "$@" >/dev/null 2>&1 &
pid=$!
ok=1
for _ in $(seq 6000); do
	if [ "$(curl -s -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then ok=0; break; fi
	sleep 0.01
done
kill -INT -- -"$pid" 2>/dev/null; wait "$pid" 2>/dev/null
kill -KILL -- -"$pid" 2>/dev/null || true
exit $ok
SH
chmod +x "$work/cold.sh"
hyperfine --runs "$runs" --export-json "$work/h.json" \
	-n "edgeconf dev" "$work/cold.sh http://127.0.0.1:$port/healthz $work/edgeconf dev -c $work/p/cloudflare-config.yaml --listen 127.0.0.1:$port" \
	-n "wrangler dev" "cd $work/w && $work/cold.sh http://127.0.0.1:$port/healthz $wrangler dev --env '' --ip 127.0.0.1 --port $port --show-interactive-dev-session=false"

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[int(sys.argv[2])]["median"])' "$work/h.json" "$1"; }
ours=$(median 0)
theirs=$(median 1)
ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.1f", a / b }')

echo
echo "cold start to first 200 from /healthz, median: edgeconf dev $(awk -v s="$ours" 'BEGIN{printf "%.0f ms", s*1000}'), wrangler dev $(awk -v s="$theirs" 'BEGIN{printf "%.0f ms", s*1000}'); edgeconf is ${ratio}x faster (target >= 5x)"
echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$ratio" 'BEGIN { exit !(r < 5) }' && exit 1
exit 0
