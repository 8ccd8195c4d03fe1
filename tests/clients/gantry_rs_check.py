"""globus-sdk against Gantry as a Globus resource server: a native-app PKCE sign-in at
Globus Auth for Gantry's scope, then Gantry's API called with the token. When the
session does not meet Gantry's policy, the SDK's GARE parser must recognise the error.

usage: gantry_rs_check.py GANTRY_URL NATIVE_CLIENT_ID GANTRY_CLIENT_ID USER PASSWORD
(GLOBUS_SDK_SERVICE_URL_AUTH points at Globus Auth.) Prints one JSON document.
"""
import json
import os
import sys

import globus_sdk
from globus_sdk import gare

sys.path.insert(0, os.path.dirname(__file__))
from globus_login import sign_in  # noqa: E402

gantry_url, native_id, gantry_id, user, password = sys.argv[1:6]
scope = f"https://auth.globus.org/scopes/{gantry_id}/all"


class GantryClient(globus_sdk.BaseClient):
    """Gantry's REST API, called the way any Globus resource server is."""

    service_name = "gantry"

    def __init__(self, token):
        super().__init__(base_url=gantry_url, authorizer=globus_sdk.AccessTokenAuthorizer(token))


native = globus_sdk.NativeAppAuthClient(native_id)
native.oauth2_start_flow([scope])
url = native.oauth2_get_authorize_url()
code = sign_in(url, user, password)
tokens = native.oauth2_exchange_code_for_tokens(code)
token = tokens.by_resource_server[gantry_id]["access_token"]
out = {"pkce": "code_challenge_method=S256" in url}
try:
    me = GantryClient(token).get("/api/v1/me")
    out["status"] = 200
    out["username"] = me["username"]
except globus_sdk.GlobusAPIError as e:
    out["status"] = e.http_status
    g = gare.to_gare(e)
    out["gare"] = g is not None
    if g is not None:
        p = g.authorization_parameters
        out["required_policies"] = p.session_required_policies
        out["required_domains"] = p.session_required_single_domain
        out["session_message"] = p.session_message
print(json.dumps(out))
