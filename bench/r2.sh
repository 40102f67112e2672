#!/usr/bin/env bash
# bench/r2.sh: uploading and downloading a 1 GiB file to an S3 server on
# loopback (versitygw, the server of the R2 tests) with `edgeconf r2 put|get
# --remote` versus rclone and the AWS CLI (Debian packages), interleaved in
# the same run, medians of RUNS runs, peak RSS from /usr/bin/time -v.
# Target: edgeconf at least as fast as the faster peer in both directions.
#
# Environment (all optional): RUNS=3, SIZE_MIB=1024, BENCH_OUT=bench/out,
# EDGECONF=path of a built binary, AWS=/usr/bin/aws, TIMEOUT=480 (seconds).
# The 1 GiB files live in a temporary folder that is removed at the end.
# Exit status: 0 target met, 1 missed, 2 a tool is missing or a command fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
out="${BENCH_OUT:-$repo/bench/out}"
size_mib="${SIZE_MIB:-1024}"

die() {
	echo "bench/r2.sh: $*" >&2
	exit 2
}

versitygw="$repo/bin/versitygw"
[[ -x $versitygw ]] || die "versitygw is missing: make tools (GOBIN=\$PWD/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
aws="${AWS:-/usr/bin/aws}"
[[ -x $aws ]] || die "the AWS CLI is missing at $aws: apt-get install -y awscli"
command -v rclone >/dev/null || die "rclone is missing: apt-get install -y rclone"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing: apt-get install -y time"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
avail_mib="$(df -Pm "$tmp" | awk 'NR == 2 { print $4 }')"
((avail_mib >= 4 * size_mib)) || die "$tmp has $avail_mib MiB free; the benchmark needs $((4 * size_mib)) MiB (df -h $tmp)"

if [[ -n ${EDGECONF:-} ]]; then
	edgeconf="$EDGECONF"
else
	edgeconf="$repo/bin/edgeconf"
	(cd "$repo" && go build -o "$edgeconf" ./cmd/edgeconf) || die "go build ./cmd/edgeconf failed"
fi
(cd "$here" && go build -o "$tmp/r2bench" ./r2) || die "go build ./r2 (bench module) failed"

status=0
timeout --signal=INT "${TIMEOUT:-480}" "$tmp/r2bench" -edgeconf "$edgeconf" -versitygw "$versitygw" -aws "$aws" \
	-runs "${RUNS:-3}" -size-mib "$size_mib" -out "$out" -work "$tmp" || status=$?
case $status in
0 | 1) exit "$status" ;;
124) die "the benchmark took longer than ${TIMEOUT:-480} s" ;;
*) exit 2 ;;
esac
