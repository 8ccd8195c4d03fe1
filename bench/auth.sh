#!/usr/bin/env bash
# Authorised requests with a cached Globus token against the same route unauthenticated,
# in one run, with wrk: prints requests per second, p99 latency and the ratio.
#   target: authorised / anonymous throughput >= 0.8, authorised p99 < 5 ms
# Usage: bench/auth.sh [SECONDS] [CONNECTIONS]   (defaults 10 and 16)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-16}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release --bin gantry -q
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }
work=$(mktemp -d /tmp/gantry-abench.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gport=$(free_port); xport=$(free_port)
./target/release/gantry demo --listen "127.0.0.1:$gport" --globus-listen "127.0.0.1:$xport" --data "$work/demo" >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
url="http://127.0.0.1:$gport"
for _ in $(seq 200); do grep -q "Press Ctrl-C" "$work/log" && break; sleep 0.1; done
token=$(.venv/bin/python bench/auth_token.py "$url" carol@lab.gov carol-pass)
route="$url/api/v1/collections/demo"
# The token works (and is now in the cache).
curl -sf -H "Authorization: Bearer $token" "$url/api/v1/me" | grep -q carol@lab.gov
run() { wrk -t2 -c"$conns" -d"${secs}s" --latency "$@" "$route"; }
run >/dev/null # warm-up
anon=$(run)
authd=$(run -H "Authorization: Bearer $token")
rps() { awk '/^Requests\/sec/ {print $2}' <<<"$1"; }
p99() { awk '$1 == "99%" {print $2}' <<<"$1"; }
ms() { python3 -c 'import sys,re; v=sys.argv[1]; n=float(re.match(r"[\d.]+",v).group()); u=v[len(re.match(r"[\d.]+",v).group()):]; print(round(n*{"us":0.001,"ms":1,"s":1000}[u],3))' "$1"; }
ra=$(rps "$anon"); rb=$(rps "$authd")
printf '%-44s %12s %10s\n' "GET /api/v1/collections/demo ($conns connections)" "requests/s" "p99 ms"
printf '%-44s %12s %10s\n' "anonymous" "$ra" "$(ms "$(p99 "$anon")")"
printf '%-44s %12s %10s\n' "Globus bearer token (cached introspection)" "$rb" "$(ms "$(p99 "$authd")")"
python3 -c "import sys; print(f'authorised / anonymous throughput {float(sys.argv[2])/float(sys.argv[1]):.2f}   (target >= 0.8; p99 target < 5 ms)')" "$ra" "$rb"
