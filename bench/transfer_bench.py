"""Times Globus transfer tasks on the built-in service against cp and cp -r (see transfer.sh)."""
import os
import shutil
import subprocess
import sys
import time
import tomllib

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "clients"))
from globus_login import sign_in  # noqa: E402

base, data, size_mib, nfiles = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
RUNS = 7
cfg = tomllib.load(open(os.path.join(data, "globus-local.toml"), "rb"))
ep = next(e for e in cfg["endpoints"] if e["owner"] == "alice@uni.edu")
root = ep["root"]

# Sign in as alice with a client made from the CLI's template, as `globus login` does.
c = requests.post(f"{base}/v2/api/clients", json={"client": {"template_id": "95fdeba8-fac2-42bd-a357-e068d82ff78e", "name": "bench"}}).json()
cid, secret = c["included"]["client_credential"]["client"], c["included"]["client_credential"]["secret"]
redirect = f"{base}/v2/web/auth-code"
scope = "urn:globus:auth:scope:transfer.api.globus.org:all"
url = requests.Request("GET", f"{base}/v2/oauth2/authorize", params={"client_id": cid, "redirect_uri": redirect,
    "scope": scope, "response_type": "code", "state": "b"}).prepare().url
code = sign_in(url, "alice@uni.edu", "alice-pass")
tok = requests.post(f"{base}/v2/oauth2/token", auth=(cid, secret),
    data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}).json()["access_token"]
H = {"Authorization": f"Bearer {tok}"}


def globus_copy(src, dst, recursive):
    body = {"DATA_TYPE": "transfer", "source_endpoint": ep["id"], "destination_endpoint": ep["id"],
            "DATA": [{"DATA_TYPE": "transfer_item", "source_path": src, "destination_path": dst, "recursive": recursive}]}
    t0 = time.perf_counter()
    r = requests.post(f"{base}/v0.10/transfer", json=body, headers=H)
    r.raise_for_status()
    task = r.json()["task_id"]
    while True:
        t = requests.get(f"{base}/v0.10/task/{task}", headers=H).json()
        if t["status"] != "ACTIVE":
            break
        time.sleep(0.01)
    took = time.perf_counter() - t0
    assert t["status"] == "SUCCEEDED", t
    return took


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t0


def sync():
    subprocess.run(["sync"], check=True)

def settle(path):
    """Removes a copy and syncs, so that every run starts from the same state of the disk:
    on a filling disk, later runs are slower whoever makes them."""
    shutil.rmtree(path) if os.path.isdir(path) else os.unlink(path)
    sync()


# One big file.
big = os.path.join(root, "big.bin")
with open(big, "wb") as f:
    for _ in range(size_mib):
        f.write(os.urandom(1 << 20))
sync()
t_cp, t_g = [], []
for i in range(RUNS):
    t_cp.append(timed(["cp", big, os.path.join(root, "cp.bin")]))
    settle(os.path.join(root, "cp.bin"))
    t_g.append(globus_copy("/~/big.bin", "/~/g.bin", False))
    assert os.path.getsize(os.path.join(root, "g.bin")) == size_mib << 20
    settle(os.path.join(root, "g.bin"))
# Many small files.
small = os.path.join(root, "small")
os.makedirs(small)
for i in range(nfiles):
    with open(os.path.join(small, f"f{i:05}.txt"), "wb") as f:
        f.write(os.urandom(100 + i % 4000))
sync()
s_cp, s_g = [], []
for i in range(RUNS):
    s_cp.append(timed(["cp", "-r", small, os.path.join(root, "small-cp")]))
    settle(os.path.join(root, "small-cp"))
    s_g.append(globus_copy("/~/small/", "/~/small-g/", True))
    assert len(os.listdir(os.path.join(root, "small-g"))) == nfiles
    settle(os.path.join(root, "small-g"))

b_cp, b_g, m_cp, m_g = min(t_cp), min(t_g), min(s_cp), min(s_g)
print(f"{'measurement':<46} {'seconds':>8}")
print(f"{'cp of one ' + str(size_mib) + ' MiB file':<46} {b_cp:8.3f}")
print(f"{'Globus task, same file':<46} {b_g:8.3f}")
print(f"{'cp -r of ' + str(nfiles) + ' small files':<46} {m_cp:8.3f}")
print(f"{'Globus task, same files (recursive)':<46} {m_g:8.3f}")
print()
print(f"one large file:   Globus / cp throughput     {b_cp / b_g:.2f}   (target >= 0.8)")
print(f"many small files: Globus / cp -r throughput  {m_cp / m_g:.2f}   (target >= 0.5)")
