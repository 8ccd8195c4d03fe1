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
GROUPS = "urn:globus:auth:scope:groups.api.globus.org:all"
native.oauth2_start_flow(["openid", "profile", "email", TRANSFER, GROUPS, f"{GW_SCOPE}[{TRANSFER}]"], refresh_tokens=True)
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

# TransferClient and GroupsClient with the user's tokens.
tc = globus_sdk.TransferClient(authorizer=globus_sdk.AccessTokenAuthorizer(transfer["access_token"]))
found = list(tc.endpoint_search("archive"))
out["transfer_search"] = [e["display_name"] for e in found]
archive = found[0]["id"]
cluster = list(tc.endpoint_search("cluster", filter_scope="my-endpoints"))[0]["id"]
tc.operation_mkdir(cluster, "/~/from-sdk")
out["transfer_ls"] = [f["name"] for f in tc.operation_ls(cluster, path="/~/")]
out["transfer_tasks"] = tc.task_list()["total"]
gc = globus_sdk.GroupsClient(authorizer=globus_sdk.AccessTokenAuthorizer(tokens.by_resource_server["groups.api.globus.org"]["access_token"]))
out["my_groups"] = [g["name"] for g in gc.get_my_groups()]
# A high-assurance endpoint refuses a session that does not meet its policy, and the
# SDK's GARE parser reads the error as a re-authentication requirement.
bob = globus_sdk.NativeAppAuthClient(native_id)
bob.oauth2_start_flow([TRANSFER])
bob_tokens = bob.oauth2_exchange_code_for_tokens(sign_in(bob.oauth2_get_authorize_url(), "bob@uni.edu", "bob-pass"))
btc = globus_sdk.TransferClient(authorizer=globus_sdk.AccessTokenAuthorizer(bob_tokens.by_resource_server["transfer.api.globus.org"]["access_token"]))
try:
    btc.operation_ls(archive, path="/~/")
    out["ha_refused"] = False
except globus_sdk.TransferAPIError as e:
    out["ha_refused"] = True
    g = gare.to_gare(e)
    out["ha_gare_policies"] = list(g.authorization_parameters.session_required_policies or []) if g else None

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
