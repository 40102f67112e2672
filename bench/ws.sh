#!/usr/bin/env bash
# ws.sh — WebSocket client and relay benchmark (issue 7).
#
# Builds the programs of bench/ws/cmd and runs bench/ws/cmd/wsbench, which
# starts each part in its own process on 127.0.0.1:
#   (a) the relay holds N=9000 client<->upstream pairs (~18,000 sockets) with
#       0 failed dials;
#   (b) idle memory per relayed pair <= 2x one idle gorilla/websocket default
#       connection, measured the same way (VmRSS after GC) in the same run;
#   (c) 1,000 wsproxy clients echoing through squid with Basic auth: p50/p99;
#   (d) relay throughput with 64 KiB messages >= 0.5x a plain io.Copy relay.
# The whole script is bounded to 5 minutes. Exits 1 when a target is missed.
#
# Usage: bench/ws.sh                 (as root, squid is run as user proxy)
#        N=2000 CLIENTS=200 bench/ws.sh   (smaller and quicker)
set -euo pipefail

cd "$(dirname "$0")"
n=${N:-9000}
clients=${CLIENTS:-1000}

# One relay process holds 2 sockets per pair; raise the soft file limit to
# the hard one (20,000 here) for this script and its children.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
squid_pid=""
cleanup() {
	if [ -n "$squid_pid" ]; then
		kill "$squid_pid" 2>/dev/null || true
		wait "$squid_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT
chmod 755 "$work"

go build -o "$work/" ./ws/cmd/wsecho ./ws/cmd/wsrelay ./ws/cmd/wsload ./ws/cmd/wsbench

# squid with Basic auth, rendered from the reference configuration that the
# wsproxy tests use, on a free port.
squid_url=""
if command -v squid >/dev/null && command -v htpasswd >/dev/null; then
	dir="$work/squid"
	mkdir -m 755 "$dir"
	htpasswd -bc "$dir/squid.htpasswd" proxyuser proxypass 2>/dev/null
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed "s#@DIR@#$dir#g; s#@PORT@#$port#g" ../wsproxy/testdata/squid.conf.in >"$dir/squid.conf"
	if [ "$(id -u)" = 0 ] && id proxy >/dev/null 2>&1; then
		chown -R proxy "$dir"
	fi
	squid -N -f "$dir/squid.conf" >"$dir/out.log" 2>&1 &
	squid_pid=$!
	for _ in $(seq 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			squid_url="http://proxyuser:proxypass@127.0.0.1:$port"
			break
		fi
		sleep 0.05
	done
	if [ -z "$squid_url" ]; then
		echo "ws.sh: squid did not start:" >&2
		tail -20 "$dir/cache.log" >&2 || true
		exit 1
	fi
else
	echo "ws.sh: squid or htpasswd missing, (c) is skipped; install with: apt-get install squid apache2-utils" >&2
fi

echo "$(go version); $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); $(date -u +%Y-%m-%d); open files limit $(ulimit -n); load $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 280 "$work/wsbench" -bin "$work" -n "$n" -clients "$clients" -squid "$squid_url"
