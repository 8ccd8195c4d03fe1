"""globus-sdk against the built-in service: native-app PKCE login (through the real
login form), id_token verification, refresh, client credentials, dependent tokens,
introspection with session info and policy evaluations, and the GARE parser.

usage: globus_sdk_checks.py NATIVE_CLIENT_ID GATEWAY_CLIENT_ID GATEWAY_SECRET POLICY_ID
Prints one JSON document of findings; the Rust test asserts on it.
"""
import json
import os
import sys

import globus_sdk
from globus_sdk import gare

sys.path.insert(0, os.path.dirname(__file__))
from globus_login import sign_in  # noqa: E402

native_id, gw_id, gw_secret, policy_id = sys.argv[1:5]
TRANSFER = "urn:globus:auth:scope:transfer.api.globus.org:all"
GW_SCOPE = f"https://auth.globus.org/scopes/{gw_id}/all"
out = {}

# Native app, PKCE: openid + transfer + the gateway's scope with its dependency.
native = globus_sdk.NativeAppAuthClient(native_id)
native.oauth2_start_flow(["openid", "profile", "email", TRANSFER, f"{GW_SCOPE}[{TRANSFER}]"], refresh_tokens=True)
url = native.oauth2_get_authorize_url()
out["authorize_has_pkce"] = "code_challenge=" in url and "code_challenge_method=S256" in url
code = sign_in(url, "alice@lab.gov", "alice-lab-pass")
tokens = native.oauth2_exchange_code_for_tokens(code)
out["resource_servers"] = sorted(tokens.by_resource_server)
claims = tokens.decode_id_token()
out["id_token_username"] = claims["preferred_username"]
out["id_token_aud_is_client"] = claims["aud"] == native_id
transfer = tokens.by_resource_server["transfer.api.globus.org"]
refreshed = native.oauth2_refresh_token(transfer["refresh_token"])
out["refresh_works"] = refreshed.by_resource_server["transfer.api.globus.org"]["access_token"] != transfer["access_token"]

# A confidential client: client credentials, dependent tokens, introspection.
gw = globus_sdk.ConfidentialAppAuthClient(gw_id, gw_secret)
cc = gw.oauth2_client_credentials_tokens(requested_scopes=TRANSFER)
out["client_credentials_rs"] = sorted(cc.by_resource_server)
user_gw_token = tokens.by_resource_server[gw_id]["access_token"]
dep = gw.oauth2_get_dependent_tokens(user_gw_token)
out["dependent_rs"] = sorted(dep.by_resource_server)
intro = gw.oauth2_token_introspect(
    user_gw_token,
    include="session_info,identity_set,identity_set_detail",
    query_params={"authentication_policies": policy_id},
)
out["introspect_active"] = intro["active"]
out["introspect_username"] = intro["username"]
out["session_identities"] = sorted(intro["session_info"]["authentications"].keys())
out["identity_set_len"] = len(intro["identity_set"])
out["policy_evaluation"] = intro["policy_evaluations"][policy_id]["evaluation"]
out["inactive_after_revoke"] = None
gw.oauth2_revoke_token(cc.by_resource_server["transfer.api.globus.org"]["access_token"])
out["inactive_after_revoke"] = not gw.oauth2_token_introspect(cc.by_resource_server["transfer.api.globus.org"]["access_token"])["active"]
try:
    gw.oauth2_get_dependent_tokens("not-a-token")
    out["bad_dependent_refused"] = False
except globus_sdk.AuthAPIError as e:
    out["bad_dependent_refused"] = e.http_status in (400, 401, 403)

# The GARE parser recognises a re-authentication error shaped like the service's.
doc = {"code": "AuthorizationRequired", "authorization_parameters": {
    "session_message": "Sign in with your lab identity", "session_required_policies": [policy_id]}}
g = gare.to_gare(doc)
out["gare_policies"] = list(g.authorization_parameters.session_required_policies or [])
print(json.dumps(out))
