#!/usr/bin/env bash
# Registry benchmark, all in one run on the same 1 GiB file, on 127.0.0.1:
#   pull:  Gantry vs nginx serving the same file           (target: ratio >= 0.9)
#   push:  Gantry vs `sha256sum` of the file               (target: ratio >= 0.8)
#          Gantry vs Debian's docker-registry, same client (target: Gantry faster)
#   RSS:   Gantry's peak RSS while 16 clients pull 1 GiB each (target: <= 64 MiB)
# Needs: curl, nginx (nginx-light), docker-registry; installs them when missing.
# Usage: bench/registry.sh [SIZE_MIB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
runs=5

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --bin gantry -q
gantry=$(pwd)/target/release/gantry

work=$(mktemp -d /tmp/gantry-bench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; echo "no answer from $1" >&2; exit 1; }
best() { sort -g | head -n 1; }   # fastest of the runs
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mibs() { python3 -c "print(f'{$size_mib/$1:.0f}')"; }

file=$work/blob.bin
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$file"
digest=sha256:$(sha256sum "$file" | cut -d' ' -f1)
echo "file: $size_mib MiB, $digest"

# --- sha256sum baseline
t_sha=$(for _ in $(seq $runs); do /usr/bin/time -f %e sha256sum "$file" 2>&1 >/dev/null | tail -n1; done | best)

# --- Gantry
start_gantry() {
  gport=$(port)
  GANTRY_DATA_DIR=$work/gantry GANTRY_LISTEN=127.0.0.1:$gport GANTRY_LOG=warn "$gantry" serve >"$work/gantry.log" 2>&1 &
  gpid=$!; pids+=("$gpid")
  wait_http "http://127.0.0.1:$gport/v2/"
}
GANTRY_DATA_DIR=$work/gantry "$gantry" admin user create bench >/dev/null
token=$(GANTRY_DATA_DIR=$work/gantry "$gantry" admin token create --user bench)
start_gantry
gauth=(-u "bench:$token")

# Push: POST a session, PUT the whole file with the digest (same client for both registries).
push() { # base-url auth...
  local base=$1; shift
  local loc
  loc=$(curl -s -D - -o /dev/null -X POST "$@" "$base/v2/bench/blob/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
  case "$loc" in http*) ;; *) loc="$base$loc" ;; esac
  local sep='?'; case "$loc" in *\?*) sep='&' ;; esac
  curl -s -o /dev/null -w '%{time_total} %{http_code}\n' -X PUT -H 'Content-Type: application/octet-stream' \
    -T "$file" "$@" "$loc${sep}digest=$digest"
}
# The loop restarts Gantry, so it must not run in a subshell: times go to a file.
: >"$work/gpush.times"
for _ in $(seq $runs); do
  r=$(push "http://127.0.0.1:$gport" "${gauth[@]}"); [ "${r#* }" = 201 ] || { echo "gantry push failed: $r" >&2; exit 1; }
  echo "${r% *}" >>"$work/gpush.times"
  # Forget the blob so the next run uploads it again instead of finding it.
  kill "$gpid"; wait "$gpid" 2>/dev/null || true
  python3 - "$work/gantry/gantry.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM repo_blobs"); c.execute("DELETE FROM blobs"); c.commit()
PY
  rm -rf "$work/gantry/blobs/sha256"
  start_gantry
done
t_gpush=$(best <"$work/gpush.times")
# Leave one copy for the pull tests.
push "http://127.0.0.1:$gport" "${gauth[@]}" >/dev/null

# --- docker-registry (distribution 2.8), filesystem storage, no auth
rport=$(port)
cat >"$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$rport
log:
  level: error
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$rport/v2/"
t_rpush=$(for _ in $(seq $runs); do
  r=$(push "http://127.0.0.1:$rport"); [ "${r#* }" = 201 ] || { echo "registry push failed: $r" >&2; exit 1; }
  echo "${r% *}"
  curl -s -o /dev/null -X DELETE "http://127.0.0.1:$rport/v2/bench/blob/blobs/$digest"
  rm -rf "$work/registry/docker/registry/v2/blobs"
done | best)

# --- nginx serving the same bytes
nport=$(port)
mkdir -p "$work/www" "$work/nginx"
ln "$file" "$work/www/blob.bin"
cat >"$work/nginx/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server { listen 127.0.0.1:$nport; root $work/www; }
}
NGX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
wait_http "http://127.0.0.1:$nport/blob.bin"
pull() { curl -s -o /dev/null -w '%{time_total} %{http_code}\n' "$@"; }
t_nginx=$(for _ in $(seq $runs); do r=$(pull "http://127.0.0.1:$nport/blob.bin"); echo "${r% *}"; done | best)
t_gpull=$(for _ in $(seq $runs); do
  r=$(pull "${gauth[@]}" "http://127.0.0.1:$gport/v2/bench/blob/blobs/$digest"); [ "${r#* }" = 200 ] || { echo "gantry pull failed: $r" >&2; exit 1; }
  echo "${r% *}"; done | best)

# --- peak RSS of a fresh Gantry while 16 clients pull at once
kill "$gpid"; wait "$gpid" 2>/dev/null || true
start_gantry
cpids=()
for _ in $(seq 16); do curl -s -o /dev/null "${gauth[@]}" "http://127.0.0.1:$gport/v2/bench/blob/blobs/$digest" & cpids+=($!); done
for p in "${cpids[@]}"; do wait "$p"; done
rss_kib=$(awk '/VmHWM/{print $2}' "/proc/$gpid/status")

echo
printf '%-44s %8s %10s\n' "measurement" "seconds" "MiB/s"
printf '%-44s %8s %10s\n' "sha256sum of the file" "$t_sha" "$(mibs "$t_sha")"
printf '%-44s %8s %10s\n' "push to Gantry (curl POST + PUT)" "$t_gpush" "$(mibs "$t_gpush")"
printf '%-44s %8s %10s\n' "push to docker-registry 2.8 (same client)" "$t_rpush" "$(mibs "$t_rpush")"
printf '%-44s %8s %10s\n' "pull from nginx (curl)" "$t_nginx" "$(mibs "$t_nginx")"
printf '%-44s %8s %10s\n' "pull from Gantry (curl)" "$t_gpull" "$(mibs "$t_gpull")"
echo
echo "pull  Gantry / nginx throughput:            $(ratio "$t_nginx" "$t_gpull")   (target >= 0.9)"
echo "push  Gantry / sha256sum throughput:        $(ratio "$t_sha" "$t_gpush")   (target >= 0.8)"
echo "push  Gantry / docker-registry throughput:  $(ratio "$t_rpush" "$t_gpush")   (target > 1)"
echo "peak RSS of Gantry, 16 concurrent 1 GiB pulls: $((rss_kib / 1024)) MiB   (target <= 64)"
