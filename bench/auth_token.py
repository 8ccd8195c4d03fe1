"""Gets a Globus access token for Gantry's scope from a running `gantry demo`, the way
`gantry login --globus` does (native app, PKCE), signing in through the login form.
usage: auth_token.py GANTRY_URL USER PASSWORD  -> prints the token"""
import base64
import hashlib
import os
import sys

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "clients"))
from globus_login import sign_in  # noqa: E402

gantry, user, password = sys.argv[1:4]
info = requests.get(f"{gantry}/api/v1/auth").json()["globus"]
auth, client, scope, rs = info["auth_url"], info["native_client_id"], info["scope"], info["resource_server"]
verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
redirect = f"{auth}/v2/web/auth-code"
url = requests.Request("GET", f"{auth}/v2/oauth2/authorize", params={
    "client_id": client, "redirect_uri": redirect, "scope": scope, "response_type": "code", "state": "bench",
    "code_challenge": challenge, "code_challenge_method": "S256"}).prepare().url
code = sign_in(url, user, password)
t = requests.post(f"{auth}/v2/oauth2/token", data={"grant_type": "authorization_code", "code": code,
    "redirect_uri": redirect, "client_id": client, "code_verifier": verifier}).json()
tok = next(x for x in [t, *t.get("other_tokens", [])] if x["resource_server"] == rs)
print(tok["access_token"])
