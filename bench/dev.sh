#!/usr/bin/env bash
# dev.sh — `edgeconf dev` against its peer, `wrangler dev` (issue 13), in the
# same run on the same Worker (worker/index.js):
#
#   1. cold start: from launching the command to the first 200 from /healthz
#      (hyperfine, RUNS runs each, default 5; each run starts the server,
#      polls /healthz every 10 ms with curl, then stops the whole process
#      group). Exits 1 when edgeconf is not at least 5x faster (median).
#   2. throughput of GET /api/flags/premium?user=uN (N cycling through
#      1..USERS, default 1000) under `edgeconf dev`, and under `wrangler dev`
#      as the peer, with vegeta (make tools installs it into bin/): each
#      server is started once, gets a WARMUP run (default 2s, not counted),
#      then
#        a. saturation: CONC concurrent clients (default 200), each sending
#           its next request as soon as the last one is answered, for
#           DURATION (default 10s): requests/s, p50, p99, max;
#        b. paced: RATE requests/s (default 100) over up to CONC clients
#           for DURATION: p50, p99 below saturation.
#      Every answer must be a 200. Recorded, no target. vegeta's reports
#      go to BENCH_OUT (default bench/out), dev-*.txt.
#
# Not ApacheBench: workerd answers every request as HTTP/1.1 with a
# Content-Length, no Connection header, and keeps the connection open, even
# for an HTTP/1.0 request or "Connection: close". ab speaks HTTP/1.0: without
# -k it reads each answer to the end of the connection, which never comes;
# with -k it reuses a connection only when the answer says "Keep-Alive", so
# it waits the same way (apr_pollset_poll timeout). vegeta speaks HTTP/1.1
# with keep-alive and reads by Content-Length.
#
# wrangler cannot resolve the Worker's "edgeconf:config" module: its project
# gets the same configuration as a plain module (as in bench/build.sh).
# Everything listens on and targets 127.0.0.1; every vegeta run is bounded
# by its duration and each request by a 10 s timeout; the servers' process
# groups are stopped on exit.
#
# Usage: bench/dev.sh   (needs Go, hyperfine, curl, jq, make tools)
#        RUNS=3 DURATION=5s bench/dev.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-5}
wrangler=${WRANGLER:-$root/tools/node_modules/.bin/wrangler}
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
conc=${CONC:-200}
rate=${RATE:-100}
users=${USERS:-1000}
out=${BENCH_OUT:-$root/bench/out}
for t in hyperfine curl setsid jq; do
	command -v "$t" >/dev/null || { echo "$t is missing (apt-get install hyperfine curl jq)" >&2; exit 2; }
done
[ -x "$wrangler" ] || { echo "wrangler is missing: run make tools" >&2; exit 2; }
vegeta=${VEGETA:-}
if [ -z "$vegeta" ]; then
	if [ -x "$root/bin/vegeta" ]; then vegeta=$root/bin/vegeta; else vegeta=$(command -v vegeta || true); fi
fi
if [ -z "$vegeta" ] || [ ! -x "$vegeta" ]; then
	echo "vegeta is missing: run make tools-go (go install github.com/tsenart/vegeta/v12@v12.13.0)" >&2
	exit 2
fi

work=$(mktemp -d)
grp=""
# stop_group: SIGINT to the server's process group, then SIGKILL after 5 s.
stop_group() {
	[ -n "$grp" ] || return 0
	kill -INT -- -"$grp" 2>/dev/null || true
	for _ in $(seq 50); do kill -0 -- -"$grp" 2>/dev/null || break; sleep 0.1; done
	kill -KILL -- -"$grp" 2>/dev/null || true
	wait "$grp" 2>/dev/null || true
	grp=""
}
trap 'stop_group; rm -rf "$work"' EXIT
trap 'exit 2' INT TERM
mkdir -p "$out"
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
# ... and its edgeconf:assets import (the dashboard's files, web/static, as
# edgeconf build bakes them: URL path -> {type, body}, "/" is index.html).
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
) >"$work/w/worker/edgeconf-assets.js"
sed -i 's#from "edgeconf:assets"#from "./edgeconf-assets.js"#' "$work/w/worker/edge.js"
! grep -rqE 'from "edgeconf:' "$work/w/worker" --include='*.js' || { echo "the wrangler copy still imports an edgeconf: module" >&2; exit 1; }
"$work/edgeconf" wrangler generate -o "$work/w/wrangler.toml" >/dev/null
sed -i 's#^main = ".*dist/index.js"#main = "worker/index.js"#' "$work/w/wrangler.toml"

port=${PORT:-18787}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
	echo "127.0.0.1:$port is already in use (set PORT)" >&2
	exit 2
fi
# cold.sh CMD...: start CMD in its own process group, wait for the first 200
# from /healthz (at most 60 s), stop the group.
cat >"$work/cold.sh" <<'SH'
#!/usr/bin/env bash
url=$1; shift
setsid "$@" >/dev/null 2>&1 &
pid=$!
ok=1
end=$((SECONDS + 60))
while [ "$SECONDS" -lt "$end" ]; do
	if [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$url")" = 200 ]; then ok=0; break; fi
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

# --- 2. throughput ------------------------------------------------------------
for ((i = 1; i <= users; i++)); do echo "GET http://127.0.0.1:$port/api/flags/premium?user=u$i"; done >"$work/flags.targets"
attack() { # attack RATE DURATION OUT
	"$vegeta" attack -targets "$work/flags.targets" -rate "$1" -workers "$conc" -max-workers "$conc" \
		-duration "$2" -timeout 10s -max-body 0 -output "$3"
}
# summary FILE: "rps p50_ms p99_ms max_ms success codes"
summary() {
	"$vegeta" report -type json "$1" | jq -r '[
		(.throughput * 10 | round / 10),
		(.latencies["50th"] / 1e6 * 100 | round / 100),
		(.latencies["99th"] / 1e6 * 100 | round / 100),
		(.latencies.max / 1e6 * 100 | round / 100),
		.success,
		(.status_codes | to_entries | map("\(.key):\(.value)") | join(","))
	] | map(tostring) | join(" ")'
}
# load NAME DIR CMD...: start CMD in DIR in its own process group, wait for
# the first 200 from /healthz (at most 60 s), load it, stop the group.
load() {
	local name=$1 dir=$2
	shift 2
	(cd "$dir" && exec setsid "$@" >"$work/$name.log" 2>&1) &
	grp=$!
	local ok=""
	for _ in $(seq 600); do
		if [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ]; then ok=1; break; fi
		kill -0 "$grp" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$ok" ] || { echo "$name gave no 200 on /healthz: $(tail -n 5 "$work/$name.log")" >&2; exit 2; }
	attack 0 "$warmup" "$work/warm.bin"
	attack 0 "$duration" "$work/$name-sat.bin"
	attack "$rate" "$duration" "$work/$name-paced.bin"
	stop_group
	local kind
	for kind in sat paced; do
		"$vegeta" report "$work/$name-$kind.bin" >"$out/dev-$name-$kind.txt"
	done
}
load edgeconf "$work/p" "$work/edgeconf" dev -c "$work/p/cloudflare-config.yaml" --listen "127.0.0.1:$port"
load wrangler "$work/w" "$wrangler" dev --env '' --ip 127.0.0.1 --port "$port" --show-interactive-dev-session=false
: >"$work/table"
for name in edgeconf wrangler; do
	read -r s_rps s_p50 s_p99 s_max s_ok s_codes < <(summary "$work/$name-sat.bin")
	read -r p_rps p_p50 p_p99 _ p_ok p_codes < <(summary "$work/$name-paced.bin")
	if [[ $s_ok != 1 || $p_ok != 1 || $s_codes != 200:* || $p_codes != 200:* || $s_codes == *,* || $p_codes == *,* ]]; then
		echo "$name dev: not every answer was a 200 (saturation $s_codes, paced $p_codes; see $out/dev-$name-*.txt)" >&2
		exit 2
	fi
	printf '%-14s %9s %8s %8s %8s %8s %8s %8s\n' "$name dev" "$s_rps" "$s_p50" "$s_p99" "$s_max" "$p_rps" "$p_p50" "$p_p99" >>"$work/table"
done

median() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(r[int(sys.argv[2])]["median"])' "$work/h.json" "$1"; }
ours=$(median 0)
theirs=$(median 1)
ratio=$(awk -v a="$theirs" -v b="$ours" 'BEGIN { printf "%.1f", a / b }')

echo
echo "cold start to first 200 from /healthz, median: edgeconf dev $(awk -v s="$ours" 'BEGIN{printf "%.0f ms", s*1000}'), wrangler dev $(awk -v s="$theirs" 'BEGIN{printf "%.0f ms", s*1000}'); edgeconf is ${ratio}x faster (target >= 5x)"
echo
echo "GET /api/flags/premium?user=u1..u$users, $conc concurrent clients (vegeta $(go version -m "$vegeta" | awk '$1 == "mod" { print $3 }')); saturation: $duration closed loop; paced: $rate req/s for $duration"
printf '%-14s %9s %8s %8s %8s %8s %8s %8s\n' server "req/s" "p50 ms" "p99 ms" "max ms" "pace/s" "p50 ms" "p99 ms"
cat "$work/table"
echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v r="$ratio" 'BEGIN { exit !(r < 5) }' && exit 1
exit 0
