#!/usr/bin/env bash
# Hostile clients, before and after: runs the attacks of docs/SECURITY.md (slow heads,
# stalled uploads, a crafted SIF, label search, password guessing)
# against `gantry serve` from each binary given (and this tree's release build), and
# prints how long an unrelated request takes while it runs and the server's peak RSS.
# Usage: bench/hostile.sh [OTHER_GANTRY_BINARY...]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin gantry -q
ulimit -n 20000 2>/dev/null || true
exec python3 bench/hostile.py "$@" "$(pwd)/target/release/gantry"
