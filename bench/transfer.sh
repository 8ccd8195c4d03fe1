#!/usr/bin/env bash
# Transfer benchmark of the built-in Globus service, in one run on the same disk:
#   one 1 GiB file           Globus task vs cp     (target: throughput ratio >= 0.8)
#   10,000 small files       Globus task vs cp -r  (target: ratio >= 0.5)
# Usage: bench/transfer.sh [SIZE_MIB] [N_FILES]   (defaults 1024 and 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
nfiles=${2:-10000}
cargo build --release --bin gantry -q
[ -x .venv/bin/python ] || { python3 -m venv .venv && .venv/bin/pip install -q -r tests/requirements.txt; }
work=$(mktemp -d /tmp/gantry-tbench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
./target/release/gantry globus-local --listen "127.0.0.1:$port" --data "$work/g" >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/jwk.json" && break; sleep 0.1; done
.venv/bin/python bench/transfer_bench.py "http://127.0.0.1:$port" "$work/g" "$size_mib" "$nfiles"
