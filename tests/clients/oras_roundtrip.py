"""Push a SIF to Gantry with oras-py the way `apptainer push oras://` lays it out, then pull it back.

usage: oras_roundtrip.py HOST USER TOKEN REPO:TAG SIF OUTDIR
"""
import json
import os
import sys
import tempfile

import oras.client

host, user, token, ref, sif, outdir = sys.argv[1:7]
client = oras.client.OrasClient(hostname=host, insecure=True)
login = client.login(username=user, password=token, hostname=host)
assert login.get("Status") == "Login Succeeded", login

work = tempfile.mkdtemp()
os.chdir(os.path.dirname(os.path.abspath(sif)))
config = os.path.join(work, "config.json")
with open(config, "w") as f:
    json.dump({}, f)
res = client.push(
    target=f"{host}/{ref}",
    files=[f"{os.path.basename(sif)}:application/vnd.sylabs.sif.layer.v1.sif"],
    manifest_config=f"{config}:application/vnd.sylabs.sif.config.v1+json",
    disable_path_validation=True,
)
assert res.status_code == 201, (res.status_code, res.text)
files = client.pull(target=f"{host}/{ref}", outdir=outdir)
print(json.dumps({"pulled": files}))
