#!/usr/bin/env bash
# bench/deploy.sh: edgeconf's deployer against wrangler's, as whole
# processes, on the same emulator (edgeconf emulate, Workers not run).
#
# 1. A full deploy of a changed Worker: `edgeconf deploy` (build in memory,
#    plan, upload a version, deploy it at 100 %, no probes) versus
#    `wrangler deploy` of the same code and bindings. hyperfine --prepare
#    changes the code before each run so every run uploads. Target: edgeconf
#    >= 10x faster.
# 2. `edgeconf deploy --plan` on a configuration with 20 bindings (5 KV, 5 R2,
#    5 D1, 5 vars) that is deployed: its p50 (recorded, no target).
#
# Environment (all optional):
#   RUNS=10 WARMUP=1       hyperfine's --runs and --warmup
#   BENCH_OUT=bench/out    where deploy-*.json and deploy-*.md are written
#   EDGECONF=path          an already built binary instead of building one
#
# Exit status: 0 when the target is met, 1 when it is missed, 2 when a tool
# is missing or a command fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
runs="${RUNS:-10}"
warmup="${WARMUP:-1}"
out="${BENCH_OUT:-$repo/bench/out}"

die() {
	echo "bench/deploy.sh: $*" >&2
	exit 2
}

wrangler="$repo/tools/node_modules/.bin/wrangler"
[[ -x $wrangler ]] || die "wrangler is missing: run make tools (npm ci in tools/)"
command -v node >/dev/null || die "node is missing (wrangler needs Node.js >= 20.3)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install -y hyperfine (or make tools-bench as root)"
command -v jq >/dev/null || die "jq is missing: apt-get install -y jq"
if [[ -n ${EDGECONF:-} ]]; then
	edgeconf="$EDGECONF"
else
	edgeconf="$repo/bin/edgeconf"
	(cd "$repo" && go build -o "$edgeconf" ./cmd/edgeconf) || die "go build ./cmd/edgeconf failed"
fi
mkdir -p "$out"

work="$(mktemp -d)"
emu_pid=""
cleanup() {
	[[ -n $emu_pid ]] && kill "$emu_pid" 2>/dev/null && wait "$emu_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
unset EDGECONF_STATE_DIR EDGECONF_CONFIG CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true WRANGLER_LOG_PATH="$work/logs" CI=true
account=0123456789abcdef0123456789abcdef
token=bench-deploy-token

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(go version | cut -d' ' -f3-)," \
	"node $(node --version), wrangler $("$wrangler" --version 2>/dev/null | tail -n1), $(hyperfine --version)"

"$edgeconf" emulate --listen 127.0.0.1:0 --token "$token" --rate-limit -1 --no-workers >"$work/emu.out" 2>"$work/emu.err" &
emu_pid=$!
for _ in $(seq 1 100); do
	base="$(sed -n 's/^export CLOUDFLARE_API_BASE_URL=//p' "$work/emu.out")"
	[[ -n $base ]] && break
	sleep 0.1
done
[[ -n $base ]] || die "edgeconf emulate did not start: $(cat "$work/emu.err")"
export CLOUDFLARE_API_BASE_URL="$base" CLOUDFLARE_API_TOKEN="$token" CLOUDFLARE_ACCOUNT_ID="$account"
api() { curl -fsS -H "Authorization: Bearer $token" "$base/accounts/$account/$1"; }

# --- 1. a full deploy ---------------------------------------------------------
mkdir -p deploy && cd deploy
cat >index.js <<'JS'
export default { async fetch(req, env) { return new Response(await env.CONFIG.get("greeting") ?? "hello") } };
// change 0
JS
cat >cloudflare-config.yaml <<'YAML'
owner: bench
domain: example.com
cloudflare:
  worker: { name: bench-edgeconf, main: index.js, compatibilityDate: "2025-01-01" }
  kvNamespaces: [ { binding: CONFIG, title: bench-config } ]
  vars: { LOG_LEVEL: info }
YAML
"$edgeconf" deploy -q >/dev/null 2>"$work/first.err" || die "the first edgeconf deploy failed: $(cat "$work/first.err")"
ns_id="$(api storage/kv/namespaces | jq -r '.result[] | select(.title == "bench-config") | .id')"
cat >wrangler.toml <<TOML
name = "bench-wrangler"
main = "index.js"
compatibility_date = "2025-01-01"
workers_dev = false
kv_namespaces = [ { binding = "CONFIG", id = "$ns_id" } ]
[vars]
LOG_LEVEL = "info"
TOML
change="$work/change.sh"
printf '#!/bin/sh\necho "// change $(date +%%s%%N)" >> %q\n' "$work/deploy/index.js" >"$change"
chmod +x "$change"
deploy_e="$(printf '%q ' "$edgeconf" deploy -q)"
deploy_w="$(printf '%q ' "$wrangler" deploy)"
for cmd in "$deploy_e" "$deploy_w"; do
	"$change"
	output="$(eval "$cmd" 2>&1)" || { printf '%s\n' "$output" >&2; die "this command failed: $cmd"; }
done
hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
	--export-json "$out/deploy-full.json" --export-markdown "$out/deploy-full.md" \
	--prepare "$change" --command-name "edgeconf deploy (changed code)" "$deploy_e" \
	--prepare "$change" --command-name "wrangler deploy (changed code)" "$deploy_w"
# Both Workers end with the same bindings.
for w in bench-edgeconf bench-wrangler; do
	dep="$(api "workers/scripts/$w/deployments" | jq -r '.result.deployments[0].versions[0].version_id')"
	api "workers/scripts/$w/versions/$dep" | jq -c '[.result.resources.bindings[] | select(.type != "version_metadata") | {name, type}] | sort_by(.name)' >"$work/$w.bindings"
done
cmp -s "$work/bench-edgeconf.bindings" "$work/bench-wrangler.bindings" ||
	die "the two Workers' bindings differ: $(cat "$work/bench-edgeconf.bindings") vs $(cat "$work/bench-wrangler.bindings")"
cd "$work"

# --- 2. the plan of 20 bindings ---------------------------------------------
mkdir -p plan && cd plan
echo 'export default { fetch() { return new Response("plan") } };' >index.js
{
	echo "owner: bench"
	echo "domain: example.com"
	echo "cloudflare:"
	echo "  worker: { name: bench-plan, main: index.js, compatibilityDate: \"2025-01-01\" }"
	echo "  kvNamespaces:"
	for i in 1 2 3 4 5; do echo "    - { binding: KV$i, title: plan-kv-$i }"; done
	echo "  r2Buckets:"
	for i in 1 2 3 4 5; do echo "    - { binding: R2_$i, bucket: plan-bucket-$i }"; done
	echo "  d1Databases:"
	for i in 1 2 3 4 5; do echo "    - { binding: DB$i, name: plan-db-$i }"; done
	echo "  vars:"
	for i in 1 2 3 4 5; do echo "    VAR$i: value-$i"; done
} >cloudflare-config.yaml
"$edgeconf" deploy -q >/dev/null 2>"$work/plan.err" || die "the deploy of 20 bindings failed: $(cat "$work/plan.err")"
plan_e="$(printf '%q ' "$edgeconf" deploy --plan --detailed-exitcode -q)"
eval "$plan_e" >/dev/null || die "the plan after the deploy is not empty"
hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
	--export-json "$out/deploy-plan.json" --export-markdown "$out/deploy-plan.md" \
	--command-name "edgeconf deploy --plan (20 bindings, deployed)" "$plan_e"
cd "$work"

# --- ratio -----------------------------------------------------------------
node - "$out/deploy-full.json" 10 "$out/deploy-plan.json" <<'JS'
const fs = require("fs");
const [full, target, plan] = process.argv.slice(2);
const ms = (s) => (s * 1000).toFixed(1).padStart(9) + " ms";
const [ours, theirs] = JSON.parse(fs.readFileSync(full, "utf8")).results;
for (const r of [ours, theirs]) {
  console.log(`${r.command.padEnd(48)} median ${ms(r.median)}  (min ${ms(r.min)}, max ${ms(r.max)}, ${r.times.length} runs)`);
}
const ratio = theirs.median / ours.median;
const pass = ratio >= Number(target);
console.log(`ratio of medians: ${ratio.toFixed(1)}x (target >= ${target}x): ${pass ? "PASS" : "MISS"}`);
const p = JSON.parse(fs.readFileSync(plan, "utf8")).results[0];
console.log(`${p.command.padEnd(48)} p50 ${ms(p.median)}  (min ${ms(p.min)}, max ${ms(p.max)}, ${p.times.length} runs)`);
process.exitCode = pass ? 0 : 1;
JS
