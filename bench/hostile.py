#!/usr/bin/env python3
"""Hostile clients against running `gantry serve` processes, one binary after another:
how long an unrelated request takes to answer while each attack runs, and the server's
peak memory. Loopback only; every attack is bounded in count and time.

Usage: bench/hostile.py BINARY [BINARY...]   (run by bench/hostile.sh)
ATTACKS=1,2,3,4,5 chooses the attacks (all by default).
"""
import asyncio, json, os, re, socket, struct, subprocess, sys, tempfile, time, urllib.request, base64, hashlib

SLOW_HEADS = 3000      # point 1: connections that never finish their request head
STALLED_UPLOADS = 600  # point 2: PATCHes that send 1 byte of a declared 100 MB
USERS = 7              # ... spread over this many users (at most 100 uploads each)
BAD_LOGINS = 64        # point 5: concurrent wrong passwords
SIF_PUSHES = 4         # point 3: concurrent manifest PUTs of a crafted SIF
TAGGED = 3000          # point 4: tagged images with 40 labels each in a public collection
SEARCHES = 8           # ... searched by label by this many anonymous clients at once


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def rss_peak_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    return -1


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Server:
    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix="gantry-hostile.")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, GANTRY_DATA_DIR=self.dir, GANTRY_LISTEN=f"127.0.0.1:{self.port}", GANTRY_LOG="error")
        self.bin = binary
        self.tokens = {}
        for i in range(USERS):
            name = f"u{i}"
            subprocess.run([binary, "admin", "user", "create", name, "--password-stdin"], env=self.env, check=True,
                           input=b"a long enough password", capture_output=True)
            t = subprocess.run([binary, "admin", "token", "create", "--user", name], env=self.env, check=True,
                               capture_output=True).stdout.decode().strip()
            self.tokens[name] = t
        self.proc = subprocess.Popen([binary, "serve"], env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(self.url + "/v2/", timeout=1)
            except urllib.error.HTTPError:
                break
            except Exception:
                time.sleep(0.1)

    def auth(self, user="u0"):
        return "Basic " + base64.b64encode(f"{user}:{self.tokens[user]}".encode()).decode()

    def stop(self):
        self.proc.kill(); self.proc.wait()


def request(url, method="GET", body=None, headers=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def probe(s, path, auth=True, n=5):
    """Median and worst time of `n` unrelated GETs (10 s each at most; a timeout counts 10 s)."""
    times = []
    for _ in range(n):
        t0 = time.monotonic()
        try:
            request(s.url + path, headers={"Authorization": s.auth()} if auth else {}, timeout=10)
            times.append(time.monotonic() - t0)
        except Exception:
            times.append(10.0)
    times.sort()
    return times[len(times) // 2], times[-1]


def push_blob(s, data, repo="u0/bench"):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    st, _, _ = request(f"{s.url}/v2/{repo}/blobs/uploads/?digest={d}", "POST", data,
                       {"Authorization": s.auth(), "Content-Type": "application/octet-stream"})
    assert st == 201, st
    return d


async def slow_heads(s):
    conns = []
    for _ in range(SLOW_HEADS):
        try:
            # From another loopback address than the probes, as an attacker would be.
            r, w = await asyncio.open_connection("127.0.0.1", s.port, local_addr=("127.0.0.2", 0))
            w.write(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            conns.append(w)
        except OSError:
            break
    return conns


def attack_slowloris(s, blob):
    loop = asyncio.new_event_loop()
    conns = loop.run_until_complete(slow_heads(s))
    during = probe(s, f"/v2/u0/bench/blobs/{blob}")
    time.sleep(15)
    held = open_fds(s.proc.pid)
    after = probe(s, f"/v2/u0/bench/blobs/{blob}")
    for w in conns:
        w.close()
    loop.close()
    return {"opened": len(conns), "server fds after 15 s": held, "GET during (median, worst s)": during,
            "GET after 15 s": after}


async def stalled(s):
    conns = []
    per = STALLED_UPLOADS // USERS + 1
    for u in list(s.tokens)[:USERS]:
        for _ in range(per):
            if len(conns) >= STALLED_UPLOADS:
                break
            try:
                st, _, h = await asyncio.to_thread(request, f"{s.url}/v2/{u}/bench/blobs/uploads/", "POST", None,
                                                   {"Authorization": s.auth(u)})
            except Exception:
                # The server no longer answers new uploads: the attack has starved it.
                s.starved_at = len(conns)
                return conns
            if st != 202:
                continue
            loc = h["Location"]
            path = loc[len(s.url):] if loc.startswith("http") else loc
            r, w = await asyncio.open_connection("127.0.0.1", s.port, local_addr=("127.0.0.2", 0))
            w.write(f"PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {s.auth(u)}\r\n"
                    f"Content-Length: 100000000\r\n\r\nx".encode())
            conns.append(w)
    return conns


def attack_stalled_uploads(s, blob):
    loop = asyncio.new_event_loop()
    conns = loop.run_until_complete(stalled(s))
    time.sleep(1)
    during = probe(s, f"/v2/u0/bench/blobs/{blob}")
    for w in conns:
        w.close()
    loop.close()
    return {"stalled uploads": len(conns), "new uploads stopped answering after": getattr(s, "starved_at", None),
            "blob GET during (median, worst s)": during}


def bad_login(s):
    """One wrong password through the form (with its CSRF token)."""
    st, page, h = request(s.url + "/login", timeout=30)
    csrf = re.search(rb'name="csrf" value="([^"]+)"', page)
    cookie = "; ".join(c.split(";")[0] for c in h.get_all("Set-Cookie") or [])
    # A new name each time: no per-account lockout stops the hashing.
    user = "nobody" + os.urandom(4).hex()
    body = f"username={user}&password=wrong+guess&next=/&csrf={csrf.group(1).decode() if csrf else ''}".encode()
    try:
        request(s.url + "/login", "POST", body, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=30)
    except Exception:
        pass


def attack_bad_logins(s):
    import concurrent.futures
    stop = time.monotonic() + 8
    def loop():
        while time.monotonic() < stop:
            bad_login(s)
    with concurrent.futures.ThreadPoolExecutor(BAD_LOGINS) as ex:
        fs = [ex.submit(loop) for _ in range(BAD_LOGINS)]
        time.sleep(2)
        during = probe(s, "/v2/", n=9)
        for f in fs:
            f.result()
    return {"GET /v2/ during (median, worst s)": during}


def crafted_sif():
    """4096 definition-file descriptors, all over the same 256 KiB (a ~2.6 MB file)."""
    n, text = 4096, 256 * 1024
    desc_start, desc_len = 4096, 585
    data_at = desc_start + n * desc_len
    f = bytearray(data_at + text)
    f[:32] = b"#!/usr/bin/env run-singularity\n\0"
    f[32:42] = b"SIF_MAGIC\0"
    f[42:45] = b"01\0"
    f[45:48] = b"00\0"
    f[64:72] = struct.pack("<q", 1_700_000_000)
    f[88:96] = struct.pack("<q", n)
    f[96:104] = struct.pack("<q", desc_start)
    f[104:112] = struct.pack("<q", n * desc_len)
    f[112:120] = struct.pack("<q", data_at)
    f[120:128] = struct.pack("<q", text)
    for i in range(n):
        b = desc_start + i * desc_len
        f[b:b + 4] = struct.pack("<i", 0x4001)
        f[b + 4] = 1
        f[b + 5:b + 9] = struct.pack("<I", i + 1)
        f[b + 17:b + 25] = struct.pack("<q", data_at)
        f[b + 25:b + 33] = struct.pack("<q", text)
    f[data_at:] = (b"Bootstrap: docker\n" * (text // 18 + 1))[:text]
    return bytes(f)


def attack_sif(s):
    import concurrent.futures
    sif = crafted_sif()
    cfg = b"{}"
    cd, ld = push_blob(s, cfg, "u0/sif"), push_blob(s, sif, "u0/sif")
    before = rss_peak_mib(s.proc.pid)
    def put(i):
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.sylabs.sif.config.v1+json", "digest": cd, "size": len(cfg)},
             "layers": [{"mediaType": "application/vnd.sylabs.sif.layer.v1.sif", "digest": ld, "size": len(sif)}]}
        return request(f"{s.url}/v2/u0/sif/manifests/t{i}", "PUT", json.dumps(m).encode(),
                       {"Authorization": s.auth(), "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
                       timeout=60)[0]
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(SIF_PUSHES) as ex:
        codes = list(ex.map(put, range(SIF_PUSHES)))
    return {"PUT codes": codes, "seconds": round(time.monotonic() - t0, 2),
            "peak RSS MiB (before, after)": (before, rss_peak_mib(s.proc.pid))}


def attack_search(s):
    import concurrent.futures
    subprocess.run([s.bin, "admin", "collection", "create", "pub", "--public", "--owner", "u0"], env=s.env,
                   check=True, capture_output=True)
    cfg = b'{"architecture":"amd64","os":"linux"}'
    cd, ld = push_blob(s, cfg, "pub/many"), push_blob(s, b"layer", "pub/many")
    def put(i):
        m = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
             "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
             "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": 5}],
             "annotations": {f"label{k}": f"value {i} {k} " + "x" * 200 for k in range(40)}}
        return request(f"{s.url}/v2/pub/many/manifests/t{i}", "PUT", json.dumps(m).encode(),
                       {"Authorization": s.auth(), "Content-Type": "application/vnd.oci.image.manifest.v1+json"})[0]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = set(ex.map(put, range(TAGGED)))
    def search(_):
        t0 = time.monotonic()
        request(f"{s.url}/api/v1/search?label=nothing=here&limit=10", timeout=30)
        return time.monotonic() - t0
    one = search(0)
    with concurrent.futures.ThreadPoolExecutor(SEARCHES) as ex:
        fs = [ex.submit(lambda: [search(0) for _ in range(5)]) for _ in range(SEARCHES)]
        time.sleep(0.2)
        during = probe(s, "/v2/", n=9)
        for f in fs:
            f.result()
    return {"PUT codes": sorted(codes), "one label search s": round(one, 3),
            "GET /v2/ during searches (median, worst s)": during}


def main():
    for binary in sys.argv[1:]:
        print(f"== {binary}")
        for name, attack in [("3 SIF amplification", attack_sif), ("4 label search", attack_search),
                             ("5 bad logins", attack_bad_logins),
                             ("2 stalled uploads", attack_stalled_uploads), ("1 slowloris", attack_slowloris)]:
            if name.split()[0] not in os.environ.get("ATTACKS", "1,2,3,4,5").split(","):
                continue
            s = Server(binary)
            try:
                blob = push_blob(s, b"an unrelated blob")
                quiet = probe(s, f"/v2/u0/bench/blobs/{blob}")
                out = attack(s, blob) if attack in (attack_slowloris, attack_stalled_uploads) else attack(s)
                print(f"  {name}: quiet GET {quiet[0]:.3f}s; " + "; ".join(
                    f"{k}: {tuple(round(x, 3) for x in v) if isinstance(v, tuple) and all(isinstance(x, float) for x in v) else v}"
                    for k, v in out.items()), flush=True)
            finally:
                s.stop()


if __name__ == "__main__":
    main()
