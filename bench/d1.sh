#!/usr/bin/env bash
# bench/d1.sh: edgeconf's D1 commands versus wrangler's, as whole processes,
# and cached versus uncached reads through the emulator.
#
# 1. `edgeconf d1 query DB "SQL" --local` versus
#    `wrangler d1 execute quantum-db --local --command "SQL"` on the same
#    table (1,000 rows, one aggregate query). Target: edgeconf >= 100x faster.
#    A reference row runs edgeconf built with the startupfloor tag, which
#    exits before main: what every command pays before any work of its own.
# 2. `edgeconf d1 migrations apply DB --local` versus
#    `wrangler d1 migrations apply quantum-db --local` of the same 50-file
#    folder into an empty database (hyperfine --prepare deletes the state
#    before each run). Target: edgeconf >= 20x faster.
# 3. BenchmarkRead_Emulator (d1/cache): a read through D1's REST API versus
#    the same read answered from the KV cache, both on the emulator.
#
# Environment (all optional):
#   RUNS=10 WARMUP=2       hyperfine's --runs and --warmup for the queries
#   MIGRATION_RUNS=3       --runs for the 50-migration apply
#   BENCH_OUT=bench/out    where d1-*.json and d1-*.md are written
#   EDGECONF=path          an already built binary instead of building one
#
# Exit status: 0 when both targets are met, 1 when one is missed, 2 when a
# tool is missing or a command fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
runs="${RUNS:-10}"
warmup="${WARMUP:-2}"
mruns="${MIGRATION_RUNS:-3}"
out="${BENCH_OUT:-$repo/bench/out}"

die() {
	echo "bench/d1.sh: $*" >&2
	exit 2
}

wrangler="$repo/tools/node_modules/.bin/wrangler"
[[ -x $wrangler ]] || die "wrangler is missing: run make tools (npm ci in tools/)"
command -v node >/dev/null || die "node is missing (wrangler needs Node.js >= 20.3)"
command -v hyperfine >/dev/null || die "hyperfine is missing: apt-get install -y hyperfine (or make tools-bench as root)"
if [[ -n ${EDGECONF:-} ]]; then
	edgeconf="$EDGECONF"
else
	edgeconf="$repo/bin/edgeconf"
	make -C "$repo" --no-print-directory build >/dev/null || die "make build failed"
fi
mkdir -p "$out"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >cloudflare-config.yaml <<'YAML'
owner: bench
domain: example.com
cloudflare:
  worker: { name: bench, main: index.js, compatibilityDate: "2025-01-01" }
  d1Databases: [ { binding: DB, name: quantum-db } ]
YAML
cat >wrangler.toml <<'TOML'
name = "bench"
compatibility_date = "2025-01-01"
[[d1_databases]]
binding = "DB"
database_name = "quantum-db"
database_id = "00000000-0000-0000-0000-000000000001"
TOML
unset CLOUDFLARE_API_TOKEN CLOUDFLARE_API_KEY CLOUDFLARE_EMAIL EDGECONF_STATE_DIR EDGECONF_CONFIG
export WRANGLER_SEND_METRICS=false WRANGLER_HIDE_BANNER=true WRANGLER_LOG_PATH="$work/logs" CI=true
quote() { printf '%q ' "$@"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(go version | cut -d' ' -f3-)," \
	"node $(node --version), wrangler $("$wrangler" --version 2>/dev/null | tail -n1), $(hyperfine --version)"

# --- 1. one query ------------------------------------------------------------
mkdir migrations
cat >migrations/0001_seed.sql <<'SQL'
CREATE TABLE events (id INTEGER PRIMARY KEY, kind TEXT, ms INTEGER);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000)
INSERT INTO events (kind, ms) SELECT 'k' || (i % 7), i % 97 FROM n;
SQL
"$edgeconf" d1 migrations apply DB --local >/dev/null 2>&1 || die "edgeconf migrations apply failed"
"$wrangler" d1 migrations apply quantum-db --local >/dev/null 2>&1 || die "wrangler migrations apply failed"
sql="SELECT kind, count(*) AS n, avg(ms) AS avg_ms FROM events GROUP BY kind ORDER BY kind"
query_e="$(quote "$edgeconf" d1 query DB "$sql" --local -o json)"
(cd "$repo" && CGO_ENABLED=0 go build -tags startupfloor -trimpath -ldflags='-s -w' -o "$work/edgeconf-floor" ./cmd/edgeconf) ||
	die "building the start-up floor failed"
floor="$(quote "$work/edgeconf-floor" d1 query DB "$sql" --local -o json)"
query_w="$(quote "$wrangler" d1 execute quantum-db --local --json --command "$sql")"
for cmd in "$query_e" "$query_w"; do
	output="$(eval "$cmd" 2>&1)" || { printf '%s\n' "$output" >&2; die "this command failed: $cmd"; }
done
hyperfine -N --style basic --warmup "$warmup" --runs "$runs" \
	--export-json "$out/d1-query.json" --export-markdown "$out/d1-query.md" \
	--command-name "edgeconf d1 query --local" "$query_e" \
	--command-name "wrangler d1 execute --local --command" "$query_w" \
	--command-name "edgeconf, exits before main (start-up floor)" "$floor"

# --- 2. fifty migrations -----------------------------------------------------
rm -rf migrations .edgeconf .wrangler
mkdir migrations
for i in $(seq 1 50); do
	n="$(printf '%04d' "$i")"
	printf 'CREATE TABLE t%s (id INTEGER PRIMARY KEY, v TEXT);\nCREATE INDEX t%s_v ON t%s (v);\nINSERT INTO t%s (v) VALUES (%s);\n' \
		"$i" "$i" "$i" "$i" "'m$i'" >"migrations/${n}_step_$i.sql"
done
apply_e="$(quote "$edgeconf" d1 migrations apply DB --local)"
apply_w="$(quote "$wrangler" d1 migrations apply quantum-db --local)"
hyperfine -N --style basic --runs "$mruns" \
	--export-json "$out/d1-migrations.json" --export-markdown "$out/d1-migrations.md" \
	--prepare "rm -rf $work/.edgeconf" --command-name "edgeconf d1 migrations apply --local (50)" "$apply_e" \
	--prepare "rm -rf $work/.wrangler" --command-name "wrangler d1 migrations apply --local (50)" "$apply_w"

# Both end with the same 50 rows in d1_migrations.
rows_e="$("$edgeconf" d1 query DB "SELECT count(*) FROM d1_migrations" --local -o csv 2>/dev/null | tail -n1)"
[[ $rows_e == 50 ]] || die "edgeconf applied $rows_e migrations, not 50"

# --- 3. cached versus uncached ------------------------------------------------
(cd "$repo" && go test -run '^$' -bench 'BenchmarkRead_Emulator' -benchtime 200x -count 5 ./d1/cache/) | tee "$out/d1-cache.txt"

# --- ratios -----------------------------------------------------------------
node - "$out/d1-query.json" 100 "$out/d1-migrations.json" 20 <<'JS'
const fs = require("fs");
const args = process.argv.slice(2);
let ok = true;
for (let i = 0; i < args.length; i += 2) {
  const results = JSON.parse(fs.readFileSync(args[i], "utf8")).results;
  const [ours, theirs] = results; // any further row is a reference
  const ms = (s) => (s * 1000).toFixed(2).padStart(9) + " ms";
  for (const r of results) {
    console.log(`${r.command.padEnd(48)} median ${ms(r.median)}  (min ${ms(r.min)}, max ${ms(r.max)}, ${r.times.length} runs)`);
  }
  const ratio = theirs.median / ours.median;
  const pass = ratio >= Number(args[i + 1]);
  ok = ok && pass;
  console.log(`ratio of medians: ${ratio.toFixed(1)}x (target >= ${args[i + 1]}x): ${pass ? "PASS" : "MISS"}`);
  if (results[2]) {
    const budget = theirs.median / Number(args[i + 1]);
    console.log(`the target leaves ${ms(budget).trim()} per run; the start-up floor takes ${ms(results[2].median).trim()} of it`);
  }
}
process.exitCode = ok ? 0 : 1;
JS
