#!/usr/bin/env bash
# The facility, in one run on 127.0.0.1:
#   sync:  Gantry syncing 10,000 experiments of 5 sessions each from the built-in user
#          office (paged by 100, into SQLite) vs a client that only reads and parses the
#          same 100 pages, for the first sync and for one where nothing changed
#          (prints the ratios)
#   serve: a 1 GiB experiment file from /data/… vs nginx serving the same file
#          (best of 5 each; target: ratio >= 0.9)
# Needs curl and nginx (nginx-light); installs them when missing.
# Usage: bench/facility.sh [EXPERIMENTS] [SIZE_MIB]   (defaults 10000 and 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
size_mib=${2:-1024}
need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need[@]}" >/dev/null
fi
cargo build --release --bin gantry -q
gantry=$(pwd)/target/release/gantry
work=$(mktemp -d /tmp/gantry-fbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

# The office: alice, a member of COUNT experiments with 5 sessions each; one 1 GiB file.
mkdir -p "$work/office" "$work/root/big"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/root/big/run.dat"
python3 - "$count" "$work/office/user-office.toml" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
out = ['name = "Bench Light Source"', 'client_username = "gantry"', 'client_password = "bench-secret"',
       '[[users]]', 'username = "alice"', 'password = "alice-office-pass"', 'authorized = true']
for i in range(n):
    out += ['[[experiments]]', f'proposal_id = "P{i:06d}"', f'subject = "Experiment {i}"', 'beam_line = "BL01"',
            'members = ["alice"]']
    for s in range(1, 6):
        out += ['[[experiments.sessions]]', f'session_number = {s}', 'start_date = "2026-01-01T00:00:00Z"',
                'end_date = "2026-01-02T00:00:00Z"', f'data_set_path = {{ raw = "{"big" if i == 0 else f"p{i}/s{s}"}" }}']
open(path, "w").write("\n".join(out) + "\n")
PY
oport=$(free_port)
"$gantry" user-office-local --listen "127.0.0.1:$oport" --data "$work/office" >"$work/office.log" 2>&1 &
pids+=($!)
office="http://127.0.0.1:$oport"
for _ in $(seq 100); do curl -sf -o /dev/null -u gantry:bench-secret "$office/api/experiments/alice/?page_size=1" && break; sleep 0.1; done

# Gantry with [facility] towards it.
gport=$(free_port)
cat >"$work/gantry.toml" <<TOML
listen = "127.0.0.1:$gport"
data_dir = "$work/gantry"
log = "warn"
[facility]
name = "Bench Light Source"
experiments_url = "$office/api/experiments/"
username = "gantry"
password = "bench-secret"
datasets_root = "$work/root"
max_pages = 1000
TOML
"$gantry" --config "$work/gantry.toml" admin user create alice >/dev/null
token=$("$gantry" --config "$work/gantry.toml" admin token create --user alice --scope read)

# Baseline: the same pages read by curl.
t0=$(now)
pages=$(python3 - "$office" <<'PY'
import base64, json, sys, urllib.request
url, n = sys.argv[1] + "/api/experiments/alice/?page_size=100", 0
auth = "Basic " + base64.b64encode(b"gantry:bench-secret").decode()
while url:
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": auth})) as r:
        url = json.load(r)["next"]
    n += 1
print(n)
PY
)
t1=$(now)
"$gantry" --config "$work/gantry.toml" admin experiments link alice alice
t2=$(now)
# Again, with nothing changed at the office (what every periodic sync mostly is).
"$gantry" --config "$work/gantry.toml" admin experiments sync --user alice >/dev/null
t3=$(now)
python3 - "$t0" "$t1" "$t2" "$t3" "$count" "$pages" <<'PY'
import sys
t0, t1, t2, t3, n, pages = map(float, sys.argv[1:])
print(f"sync of {int(n)} experiments x 5 sessions ({int(pages)} pages): reading them takes {t1-t0:.2f} s, "
      f"Gantry's first sync {t2-t1:.2f} s (ratio {(t2-t1)/(t1-t0):.2f}), "
      f"a sync with nothing changed {t3-t2:.2f} s (ratio {(t3-t2)/(t1-t0):.2f}) (Gantry's time / reading the pages)")
PY

# Serving: Gantry's /data URL vs nginx on the same file.
"$gantry" --config "$work/gantry.toml" serve >"$work/gantry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$gport/api/v1/auth" && break; sleep 0.1; done
nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGINX
daemon off; worker_processes 1; pid $work/nginx/pid; error_log $work/nginx/error.log;
events {}
http { access_log off; sendfile on; server { listen 127.0.0.1:$nport; root $work/root; } }
NGINX
nginx -c "$work/nginx/nginx.conf" &
pids+=($!)
sleep 0.5
# nginx's workers read the file as another user.
chmod a+rx "$work" "$work/root" "$work/root/big"; chmod a+r "$work/root/big/run.dat"
best() {
  local b=999999
  for _ in 1 2 3 4 5; do
    read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "$@")
    [ "$code" = 200 ] || { echo "GET $* answered $code" >&2; exit 1; }
    b=$(python3 -c "print(min($b,$t))")
  done
  echo "$b"
}
tg=$(best -H "Authorization: Bearer $token" "http://127.0.0.1:$gport/data/P000000/1/raw/run.dat")
tn=$(best "http://127.0.0.1:$nport/big/run.dat")
python3 - "$tg" "$tn" "$size_mib" <<'PY'
import sys
g, n, mib = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"serve {mib} MiB: Gantry {mib/g:.0f} MiB/s, nginx {mib/n:.0f} MiB/s; ratio {n/g:.2f} (target >= 0.9)")
PY
