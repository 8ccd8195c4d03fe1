#!/usr/bin/env bash
# Makes crates/gantry/assets/demo.sif, the small image `gantry demo` publishes, with
# Debian's siftool: a definition file, labels and a (blank) squashfs-typed partition.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/demo.def" <<'DEF'
Bootstrap: docker
From: alpine:3.20

%labels
    org.gantry.demo yes

%runscript
    echo "Hello from Gantry"
DEF
echo '{"org.label-schema.usage":"gantry demo image"}' >"$work/labels.json"
head -c 4096 /dev/zero >"$work/part.img"
siftool new "$work/demo.sif"
siftool add --datatype 1 "$work/demo.sif" "$work/demo.def"
siftool add --datatype 3 "$work/demo.sif" "$work/labels.json"
siftool add --datatype 4 --parttype 1 --partfs 1 --partarch 2 "$work/demo.sif" "$work/part.img"
cp "$work/demo.sif" crates/gantry/assets/demo.sif
siftool list crates/gantry/assets/demo.sif
