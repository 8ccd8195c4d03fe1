"""Sign in to a running JupyterHub through the built-in Globus service, as a browser
would: the hub's login page, the service's login form and consent page, back to the
hub's callback. Then read the user's auth_state through the hub's REST API and use the
Transfer token it holds.

usage: jupyterhub_login.py HUB_URL SERVICE_TOKEN USERNAME PASSWORD
Prints one JSON document of findings; the Rust test asserts on it.
"""
import json
import os
import sys
from urllib.parse import urljoin

import requests

sys.path.insert(0, os.path.dirname(__file__))
from globus_login import form_of  # noqa: E402

hub, token, username, password = sys.argv[1:5]
out = {}
s = requests.Session()
r = s.get(f"{hub}/hub/oauth_login", allow_redirects=False)
out["login_redirect"] = r.status_code
authorize = r.headers["Location"]
out["authorize_has_pkce"] = "code_challenge=" in authorize
out["authorize_scopes"] = sorted(requests.utils.unquote(authorize.split("scope=")[1].split("&")[0]).replace("+", " ").split())
r = s.get(authorize, allow_redirects=False)
assert r.status_code == 200, (r.status_code, r.text)
f = form_of(r.text)
f["fields"].update(username=username, password=password)
r = s.post(urljoin(authorize, f["action"]), data=f["fields"], allow_redirects=False)
assert r.status_code == 200, (r.status_code, r.text)
f = form_of(r.text)
f["fields"]["decision"] = "allow"
r = s.post(urljoin(authorize, f["action"]), data=f["fields"], allow_redirects=False)
assert r.status_code in (302, 303), (r.status_code, r.text)
callback = r.headers["Location"]
out["callback_is_hub"] = callback.startswith(f"{hub}/hub/oauth_callback")
r = s.get(callback, allow_redirects=False)
out["callback_status"] = r.status_code
out["callback_body"] = r.text[:500] if r.status_code >= 400 else None
out["signed_in_cookie"] = any(c.name.startswith("jupyterhub-session") or c.name == "jupyterhub-hub-login"
                              for c in s.cookies)

api = requests.Session()
api.headers["Authorization"] = f"token {token}"
users = api.get(f"{hub}/hub/api/users").json()
assert isinstance(users, list), users
out["hub_users"] = sorted(u["name"] for u in users)
name = username.split("@")[0]
u = api.get(f"{hub}/hub/api/users/{name}").json()
state = u.get("auth_state") or {}
tokens = state.get("tokens", {})
out["auth_state_resource_servers"] = sorted(tokens)
out["globus_user"] = state.get("globus_user", {}).get("preferred_username")
transfer = tokens.get("transfer.api.globus.org", {}).get("access_token")
globus = authorize.split("/v2/")[0]
if transfer:
    r = requests.get(f"{globus}/v0.10/endpoint_search", params={"filter_scope": "my-endpoints"},
                     headers={"Authorization": f"Bearer {transfer}"})
    out["transfer_works"] = r.status_code == 200 and any(e["display_name"] == "University Cluster"
                                                         for e in r.json()["DATA"])
print(json.dumps(out))
