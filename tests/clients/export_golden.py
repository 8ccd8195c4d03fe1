"""Export the response fixtures that globus-sdk ships (globus_sdk.testing) as golden JSON.

usage: export_golden.py OUTDIR
Writes OUTDIR/<service>.<method>.json with {"method", "path", "status", "json"} of each
fixture's default case (or its first case when there is no default).
"""
import json
import os
import sys

from globus_sdk.testing import get_response_set

SETS = [
    "auth.oauth2_client_credentials_tokens", "auth.oauth2_exchange_code_for_tokens", "auth.oauth2_get_dependent_tokens",
    "auth.oauth2_token_introspect", "auth.oauth2_revoke_token", "auth.get_identities", "auth.get_policy",
    "auth.create_native_app_instance", "auth.get_consents", "auth.get_identity_providers",
    "groups.get_my_groups", "groups.get_group", "groups.create_group", "groups.set_group_policies",
    "groups.delete_group",
    "transfer.get_endpoint", "transfer.get_submission_id", "transfer.submit_transfer", "transfer.submit_delete",
    "transfer.task_list", "transfer.cancel_task", "transfer.operation_mkdir", "transfer.operation_rename",
    "transfer.operation_stat", "transfer.endpoint_manager_task_list",
    "transfer.endpoint_manager_task_successful_transfers",
]

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name in SETS:
    rs = get_response_set(name)
    cases = list(rs.cases())
    case = "default" if "default" in cases else cases[0]
    r = rs.lookup(case)
    body = r.json
    with open(os.path.join(out, f"{name}.json"), "w") as f:
        json.dump({"method": r.method, "path": r.path, "status": r.status, "json": body}, f, indent=1, sort_keys=True, default=str)
print(len(SETS))
