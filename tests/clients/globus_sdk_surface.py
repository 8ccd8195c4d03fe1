"""globus-sdk's TransferClient (and later GroupsClient, AuthClient) against the built-in
service, method by method, with users signed in through the real login form.

usage: globus_sdk_surface.py SETUP_JSON
SETUP_JSON names the native client, the endpoints and what the Rust test put in their
roots. Prints one JSON document of findings; the Rust test asserts on it.
"""
import json
import sys
import time

import globus_sdk

sys.path.insert(0, __import__("os").path.dirname(__file__))
from globus_login import sign_in  # noqa: E402

setup = json.loads(sys.argv[1])
TRANSFER = "urn:globus:auth:scope:transfer.api.globus.org:all"
GROUPS = "urn:globus:auth:scope:groups.api.globus.org:all"
out = {}


def tokens_of(username, password):
    c = globus_sdk.NativeAppAuthClient(setup["native"])
    c.oauth2_start_flow([TRANSFER, GROUPS, "openid", "profile", "email"])
    return c.oauth2_exchange_code_for_tokens(sign_in(c.oauth2_get_authorize_url(), username, password))


def clients(username, password):
    t = tokens_of(username, password).by_resource_server
    bearer = lambda rs: globus_sdk.AccessTokenAuthorizer(t[rs]["access_token"])  # noqa: E731
    return (globus_sdk.TransferClient(authorizer=bearer("transfer.api.globus.org")),
            globus_sdk.GroupsClient(authorizer=bearer("groups.api.globus.org")))


def wait(tc, task_id):
    assert tc.task_wait(task_id, timeout=60, polling_interval=1), f"task {task_id} did not finish"
    return tc.get_task(task_id)


def error_of(call):
    try:
        call()
        return None
    except globus_sdk.GlobusAPIError as e:
        return {"status": e.http_status, "code": e.code, "request_id": e.request_id}


alice_tc, alice_gc = clients("alice@uni.edu", "alice-pass")
bob_tc, bob_gc = clients("bob@uni.edu", "bob-pass")
cluster = setup["cluster"]

# ---- operation_ls: filters, orderby, paging ----
ls = lambda **kw: [f["name"] for f in alice_tc.operation_ls(cluster, path="/~/tree/", **kw)]  # noqa: E731
out["ls_orderby_size_desc"] = ls(orderby="size DESC", filter="type:file")
out["ls_orderby_name_desc"] = ls(orderby="name DESC")
out["ls_filter_or"] = ls(filter=[{"type": "dir"}, {"name": "~*.txt"}])
out["ls_filter_and"] = ls(filter="type:file/name:~*.txt")
out["ls_filter_not_glob"] = ls(filter="name:!~*.txt")
out["ls_filter_list"] = ls(filter="name:a.txt,b.bin")
out["ls_page"] = ls(orderby="name", limit=2, offset=1)
out["ls_bad_orderby"] = error_of(lambda: ls(orderby="colour"))

# ---- tasks: sync, skip_source_errors, successful transfers, skipped errors ----
td = globus_sdk.TransferData(source_endpoint=cluster, destination_endpoint=cluster, label="surface copy",
                             sync_level="size", skip_source_errors=True)
td.add_item("/~/tree/", "/~/copy/", recursive=True)
td.add_item("/~/missing.txt", "/~/copy/missing.txt")
first = wait(alice_tc, alice_tc.submit_transfer(td)["task_id"])
out["first_status"] = first["status"]
out["first_skipped_errors_count"] = first["subtasks_skipped_errors"]
out["first_successful"] = sorted(x["destination_path"] for x in alice_tc.task_successful_transfers(first["task_id"]))
out["first_skipped"] = [(x["source_path"], x["error_code"]) for x in alice_tc.task_skipped_errors(first["task_id"])]
out["skipped_paginated"] = [x["source_path"] for x in
                            alice_tc.paginated.task_skipped_errors(first["task_id"]).items()]
# The same again with sync_level=size: only the file changed in between is copied.
with open(setup["changed_file"], "ab") as f:
    f.write(b"more")
td2 = globus_sdk.TransferData(source_endpoint=cluster, destination_endpoint=cluster, sync_level="size")
td2.add_item("/~/tree/", "/~/copy/", recursive=True)
second = wait(alice_tc, alice_tc.submit_transfer(td2)["task_id"])
out["second_files_skipped"] = second["files_skipped"]
out["second_successful"] = [x["destination_path"] for x in
                            alice_tc.paginated.task_successful_transfers(second["task_id"]).items()]
out["bob_cannot_read_alices_task"] = error_of(lambda: bob_tc.task_successful_transfers(first["task_id"]))
# Paging over more than one page of successful transfers.
td3 = globus_sdk.TransferData(source_endpoint=cluster, destination_endpoint=cluster)
td3.add_item("/~/many/", "/~/many-copy/", recursive=True)
third = wait(alice_tc, alice_tc.submit_transfer(td3)["task_id"])
pages = list(alice_tc.paginated.task_successful_transfers(third["task_id"]))
out["many_pages"] = len(pages)
out["many_total"] = sum(len(p["DATA"]) for p in pages)
out["many_distinct"] = len({x["source_path"] for p in pages for x in p["DATA"]})
out["task_list_label"] = [t["task_id"] == first["task_id"] for t in
                          alice_tc.task_list(filter="label:~surface*/type:TRANSFER")]

# ---- roles: the owner is an administrator; an access manager manages access rules ----
ids = setup["ids"]
out["alice_roles"] = alice_tc.get_endpoint(cluster)["my_effective_roles"]
out["bob_roles_before"] = bob_tc.get_endpoint(cluster)["my_effective_roles"]
out["bob_role_list_before"] = error_of(lambda: bob_tc.endpoint_role_list(cluster))
out["bob_acl_before"] = error_of(lambda: bob_tc.endpoint_acl_list(cluster))
role = alice_tc.add_endpoint_role(cluster, {"DATA_TYPE": "role", "principal_type": "identity",
                                             "principal": ids["bob@uni.edu"], "role": "access_manager"})
out["role_created"] = [role["role"], role["principal"] == ids["bob@uni.edu"]]
out["role_duplicate"] = error_of(lambda: alice_tc.add_endpoint_role(
    cluster, {"principal_type": "identity", "principal": ids["bob@uni.edu"], "role": "access_manager"}))
out["role_bad_principal"] = error_of(lambda: alice_tc.add_endpoint_role(
    cluster, {"principal_type": "identity", "principal": "not-an-identity", "role": "activity_monitor"}))
group_role = alice_tc.add_endpoint_role(cluster, {"principal_type": "group", "principal": setup["group"],
                                                   "role": "activity_monitor"})
out["role_list"] = sorted(r["role"] for r in alice_tc.endpoint_role_list(cluster))
out["role_get"] = alice_tc.get_endpoint_role(cluster, role["id"])["role"]
out["bob_roles"] = bob_tc.get_endpoint(cluster)["my_effective_roles"]
out["bob_search_roles"] = [e["my_effective_roles"] for e in bob_tc.endpoint_search("University Cluster") if e["id"] == cluster]
rule = bob_tc.add_endpoint_acl_rule(cluster, {"DATA_TYPE": "access", "principal_type": "identity",
                                              "principal": ids["carol@lab.gov"], "path": "/tree/",
                                              "permissions": "r", "notify_email": "carol@lab.gov"})
out["bob_made_rule"] = rule["code"]
out["rule_notify_email"] = alice_tc.get_endpoint_acl_rule(cluster, rule["access_id"])["notify_email"]
out["bob_cannot_grant_roles"] = error_of(lambda: bob_tc.add_endpoint_role(
    cluster, {"principal_type": "identity", "principal": ids["bob@uni.edu"], "role": "administrator"}))
out["role_deleted"] = alice_tc.delete_endpoint_role(cluster, role["id"])["code"]
out["role_gone"] = error_of(lambda: alice_tc.get_endpoint_role(cluster, role["id"]))
out["bob_acl_after"] = error_of(lambda: bob_tc.endpoint_acl_list(cluster))
out["group_role_kept"] = [r["id"] for r in alice_tc.endpoint_role_list(cluster)] == [group_role["id"]]

# ---- the endpoint manager API ----
# carol monitors through her group's activity_monitor role; bob becomes activity manager.
carol_tc, carol_gc = clients("carol@lab.gov", "carol-pass")
out["em_not_for_strangers"] = error_of(lambda: bob_tc.endpoint_manager_get_task(first["task_id"]))
alice_tc.add_endpoint_role(cluster, {"principal_type": "identity", "principal": ids["bob@uni.edu"],
                                     "role": "activity_manager"})
out["em_monitored"] = sorted(e["display_name"] for e in carol_tc.endpoint_manager_monitored_endpoints())
out["em_needs_endpoint"] = error_of(lambda: carol_tc.endpoint_manager_task_list(filter_status="SUCCEEDED"))
out["em_task_id_alone"] = error_of(lambda: carol_tc.endpoint_manager_task_list(
    filter_task_id=first["task_id"], filter_endpoint=cluster))
listed = list(carol_tc.paginated.endpoint_manager_task_list(filter_endpoint=cluster, query_params={"limit": 2}))
out["em_pages"] = len(listed)
em_ids = [t["task_id"] for p in listed for t in p]
out["em_all_tasks"] = sorted(em_ids) == sorted([first["task_id"], second["task_id"], third["task_id"]])
out["em_owner_string"] = listed[0]["DATA"][0]["owner_string"]
out["em_by_id"] = [t["task_id"] for t in carol_tc.endpoint_manager_task_list(filter_task_id=[first["task_id"]])]
out["em_completed_range"] = len(list(carol_tc.endpoint_manager_task_list(
    filter_endpoint=cluster, filter_completion_time=("2000-01-01T00:00:00", "2001-01-01T00:00:00"))))
out["em_get_endpoint"] = carol_tc.endpoint_manager_get_endpoint(cluster)["my_effective_roles"]
out["em_hosted"] = [e["host_endpoint_id"] == cluster for e in alice_tc.endpoint_manager_hosted_endpoint_list(cluster)]
out["em_hosted_needs_admin"] = error_of(lambda: carol_tc.endpoint_manager_hosted_endpoint_list(cluster))
out["em_acl_list"] = len(list(alice_tc.endpoint_manager_acl_list(cluster))) > 0
out["em_acl_needs_access_role"] = error_of(lambda: carol_tc.endpoint_manager_acl_list(cluster))
out["em_get_task"] = carol_tc.endpoint_manager_get_task(first["task_id"])["label"]
out["em_events"] = [e["code"] for e in carol_tc.endpoint_manager_task_event_list(first["task_id"])]
out["em_successful"] = len(list(carol_tc.endpoint_manager_task_successful_transfers(first["task_id"])))
out["em_skipped"] = len(list(carol_tc.endpoint_manager_task_skipped_errors(first["task_id"])))
out["monitor_cannot_pause"] = error_of(lambda: carol_tc.endpoint_manager_create_pause_rule(
    {"DATA_TYPE": "pause_rule", "message": "no", "endpoint_id": cluster}))
out["monitor_cannot_cancel"] = error_of(lambda: carol_tc.endpoint_manager_cancel_tasks([first["task_id"]], "no"))

# A pause rule holds alice's new task until it is removed.
rule = bob_tc.endpoint_manager_create_pause_rule({"DATA_TYPE": "pause_rule", "message": "disk maintenance",
                                                  "endpoint_id": cluster, "identity_id": None, "start_time": None})
out["rule_defaults"] = [rule[k] for k in ("pause_task_transfer_read", "pause_task_transfer_write",
                                          "pause_task_delete", "pause_ls")]


def submit(src, dst):
    d = globus_sdk.TransferData(source_endpoint=cluster, destination_endpoint=cluster)
    d.add_item(src, dst, recursive=True)
    return alice_tc.submit_transfer(d)["task_id"]


held = submit("/~/tree/", "/~/held/")
time.sleep(2)
t = alice_tc.get_task(held)
out["held"] = [t["status"], t["is_paused"], t["files_transferred"]]
out["held_pause_info"] = [r["message"] for r in alice_tc.task_pause_info(held)["pause_rules"]]
out["held_em_pause_info"] = alice_tc and bob_tc.endpoint_manager_task_pause_info(held)["DATA_TYPE"]
out["held_listed_paused"] = [x["task_id"] == held for x in bob_tc.endpoint_manager_task_list(
    filter_status="ACTIVE", filter_is_paused=True)]
out["rules_listed"] = [r["id"] == rule["id"] for r in carol_tc.endpoint_manager_pause_rule_list(filter_endpoint=cluster)]
bob_tc.endpoint_manager_update_pause_rule(rule["id"], {"pause_ls": True, "message": "disk maintenance, ls too"})
out["ls_paused"] = error_of(lambda: alice_tc.operation_ls(cluster, path="/~/"))
out["rule_updated"] = bob_tc.endpoint_manager_get_pause_rule(rule["id"])["message"]
# Paused by id too: removing the rule leaves it paused until resumed.
out["admin_pause"] = bob_tc.endpoint_manager_pause_tasks([held], "held by hand")["code"]
bob_tc.endpoint_manager_delete_pause_rule(rule["id"])
out["rule_gone"] = error_of(lambda: bob_tc.endpoint_manager_get_pause_rule(rule["id"]))
time.sleep(1.5)
t = alice_tc.get_task(held)
out["still_held"] = [t["status"], t["is_paused"]]
bob_tc.endpoint_manager_resume_tasks([held])
out["resumed"] = wait(alice_tc, held)["status"]
# An endpoint manager cancels a task of alice's, with a message she sees.
rule2 = bob_tc.endpoint_manager_create_pause_rule({"message": "hold", "endpoint_id": cluster})
doomed = submit("/~/tree/", "/~/doomed/")
c = bob_tc.endpoint_manager_cancel_tasks([doomed], "quota exceeded")
out["cancel_status"] = bob_tc.endpoint_manager_cancel_status(c["id"])["done"]
t = alice_tc.get_task(doomed)
out["canceled"] = [t["status"], t["canceled_by_admin_message"], t["canceled_by_admin"] == ids["bob@uni.edu"]]
out["my_effective_rules"] = [r["message"] for r in alice_tc.my_effective_pause_rule_list(cluster)]
bob_tc.endpoint_manager_delete_pause_rule(rule2["id"])
out["my_effective_rules_after"] = list(alice_tc.my_effective_pause_rule_list(cluster))
out["servers"] = [x["id"] for x in alice_tc.endpoint_server_list(cluster)]
out["server"] = alice_tc.get_endpoint_server(cluster, 1)["DATA_TYPE"]
out["no_server"] = error_of(lambda: alice_tc.get_endpoint_server(cluster, 2))

# ---- Groups: GroupsManager and GroupsClient ----
am, bm, cm = (globus_sdk.GroupsManager(x) for x in (alice_gc, bob_gc, carol_gc))
bob, carol = ids["bob@uni.edu"], ids["carol@lab.gov"]
alice = ids["alice@uni.edu"]
lab = am.create_group("Surface Lab", "made by the SDK")
gid = lab["id"]
out["g_created"] = [m["role"] for m in lab["my_memberships"]]
alice_gc.update_group(gid, {"name": "Surface Laboratory", "description": "renamed"})
out["g_renamed"] = alice_gc.get_group(gid)["name"]
am.set_group_policies(gid, is_high_assurance=False, group_visibility="authenticated",
                      group_members_visibility="members", join_requests=True, signup_fields=[])
out["g_policies"] = alice_gc.get_group_policies(gid)["join_requests"]
out["g_add"] = [m["status"] for m in am.add_member(gid, bob)["add"]]
# bob prefers invitations: once removed, he can be invited but not added again.
bob_gc.set_identity_preferences({"allow_add": False})
out["g_prefs"] = bob_gc.get_identity_preferences()["allow_add"]
out["g_remove"] = [m["status"] for m in am.remove_member(gid, bob)["remove"]]
out["g_add_refused"] = [e["code"] for e in am.add_member(gid, bob)["errors"]["add"]]
out["g_invite"] = [m["status"] for m in am.invite_member(gid, bob)["invite"]]
out["g_invited_listed"] = [g["id"] == gid for g in bob_gc.get_my_groups(statuses="invited")]
out["g_accept"] = [m["status"] for m in bm.accept_invite(gid, bob)["accept"]]
# An invited identity may also join outright; an uninvited one may not.
am.invite_member(gid, ids["alice@lab.gov"])
out["g_join_invited"] = [m["status"] for m in am.join(gid, ids["alice@lab.gov"])["join"]]
am.remove_member(gid, ids["alice@lab.gov"])
out["g_join_uninvited"] = [e["code"] for e in cm.join(gid, carol)["errors"]["join"]]
# carol asks to join; a member cannot approve, an administrator can.
out["g_request"] = [m["status"] for m in cm.request_join(gid, carol)["request_join"]]
out["g_member_cannot_approve"] = [e["code"] for e in bm.approve_pending(gid, carol)["errors"]["approve"]]
out["g_approve"] = [m["status"] for m in am.approve_pending(gid, carol)["approve"]]
out["g_change_role"] = [m["role"] for m in am.change_role(gid, carol, "manager")["change_role"]]
out["g_manager_cannot_promote"] = [e["code"] for e in cm.change_role(gid, bob, "admin")["errors"]["change_role"]]
out["g_manager_cannot_remove_admin"] = [e["code"] for e in cm.remove_member(gid, alice)["errors"]["remove"]]
out["g_last_admin"] = [e["code"] for e in am.leave(gid, alice)["errors"]["leave"]]
out["g_batch"] = sorted(k for k, v in alice_gc.batch_membership_action(
    gid, globus_sdk.BatchMembershipActions().change_roles("member", [bob]).add_members([alice], role="admin")).data.items()
    if k != "errors" and v)
members = alice_gc.get_group(gid, include="memberships")["memberships"]
out["g_members"] = sorted((m["username"], m["role"], m["status"]) for m in members)
carol_gc.set_membership_fields(gid, {"department": "optics"})
out["g_fields"] = carol_gc.get_membership_fields(gid).get("department")
# Transfer follows group membership: a rule for the group lets its active members in.
out["g_ls_before"] = error_of(lambda: carol_tc.operation_ls(cluster, path="/~/many/"))
alice_tc.add_endpoint_acl_rule(cluster, {"DATA_TYPE": "access", "principal_type": "group", "principal": gid,
                                         "path": "/many/", "permissions": "r"})
out["g_ls_member"] = carol_tc.operation_ls(cluster, path="/~/many/", limit=3)["total"]
cm.leave(gid, carol)
out["g_ls_after_leaving"] = error_of(lambda: carol_tc.operation_ls(cluster, path="/~/many/"))
# Subgroups need an administrator of the parent; deleting needs an administrator.
sub = am.create_group("Surface Sub", "child", parent_id=gid)
out["g_sub_parent"] = sub["parent_id"] == gid
out["g_sub_refused"] = error_of(lambda: bm.create_group("Bob's sub", "no", parent_id=gid))
out["g_delete_with_child"] = error_of(lambda: alice_gc.delete_group(gid))
out["g_delete_refused"] = error_of(lambda: bob_gc.delete_group(sub["id"]))
alice_gc.delete_group(sub["id"])
out["g_deleted"] = alice_gc.delete_group(gid)["id"] == gid
out["g_gone"] = error_of(lambda: alice_gc.get_group(gid))
out["g_unknown_action"] = error_of(lambda: alice_gc.post(f"/v2/groups/{setup['group']}", data={"promote": []}))

# ---- guest collections made through the API ----
share = alice_tc.create_shared_endpoint({"DATA_TYPE": "shared_endpoint", "host_endpoint": cluster,
                                         "host_path": "/tree/", "display_name": "Alice share"})
sid = share["id"]
out["share_code"] = share["code"]
out["share_ls"] = sorted(f["name"] for f in alice_tc.operation_ls(sid, path="/~/"))
out["share_of_share"] = error_of(lambda: alice_tc.create_shared_endpoint(
    {"DATA_TYPE": "shared_endpoint", "host_endpoint": sid, "host_path": "/", "display_name": "x"}))
out["share_needs_rw"] = error_of(lambda: carol_tc.create_shared_endpoint(
    {"DATA_TYPE": "shared_endpoint", "host_endpoint": cluster, "host_path": "/tree/", "display_name": "no"}))
out["share_listed"] = [sid in [e["id"] for e in alice_tc.get_shared_endpoint_list(cluster)]]
out["share_list_needs_admin"] = error_of(lambda: carol_tc.get_shared_endpoint_list(cluster))
out["my_shares"] = [e["display_name"] for e in alice_tc.my_shared_endpoint_list(cluster) if e["id"] == sid]
alice_tc.update_endpoint(sid, {"display_name": "Alice renamed share"})
out["share_renamed"] = alice_tc.get_endpoint(sid)["display_name"]
out["share_update_refused"] = error_of(lambda: bob_tc.update_endpoint(sid, {"display_name": "bob's"}))
# A share gives no more than its owner still has: carol shares a folder she may write,
# bob reads it through her share until carol loses her access.
grant = alice_tc.add_endpoint_acl_rule(cluster, {"DATA_TYPE": "access", "principal_type": "identity",
                                                 "principal": ids["carol@lab.gov"], "path": "/many/",
                                                 "permissions": "rw"})
cs = carol_tc.create_shared_endpoint({"DATA_TYPE": "shared_endpoint", "host_endpoint": cluster,
                                      "host_path": "/many/", "display_name": "Carol share"})["id"]
carol_tc.add_endpoint_acl_rule(cs, {"DATA_TYPE": "access", "principal_type": "identity",
                                    "principal": ids["bob@uni.edu"], "path": "/", "permissions": "r"})
out["bob_reads_carols_share"] = alice_tc and bob_tc.operation_ls(cs, path="/~/", limit=1)["total"]
alice_tc.delete_endpoint_acl_rule(cluster, grant["access_id"])
out["bob_after_carol_lost_access"] = error_of(lambda: bob_tc.operation_ls(cs, path="/~/"))
out["share_delete_refused"] = error_of(lambda: bob_tc.delete_endpoint(sid))
out["share_deleted"] = alice_tc.delete_endpoint(sid)["code"]
out["share_gone"] = error_of(lambda: alice_tc.get_endpoint(sid))

# ---- Auth: identities and identity providers ----
native_auth = globus_sdk.AuthClient(authorizer=globus_sdk.AccessTokenAuthorizer(
    tokens_of("bob@uni.edu", "bob-pass").by_resource_server["auth.globus.org"]["access_token"]))
out["idp_by_domain"] = [p["name"] for p in native_auth.get_identity_providers(domains=["lab.gov"])]
idp_id = native_auth.get_identity_providers(domains="uni.edu")["identity_providers"][0]["id"]
out["idp_by_id"] = [p["domains"] for p in native_auth.get_identity_providers(ids=[idp_id])]
out["identities_by_username"] = [i["id"] == ids["carol@lab.gov"] for i in
                                 native_auth.get_identities(usernames=["carol@lab.gov"])["identities"]]
out["identities_by_id"] = [i["username"] for i in native_auth.get_identities(ids=[ids["bob@uni.edu"]])["identities"]]
out["userinfo"] = native_auth.userinfo()["preferred_username"]
out["policies"] = [p["display_name"] for p in native_auth.get_policies()["policies"]]
out["policy"] = native_auth.get_policy(setup["policy"])["policy"]["high_assurance"]

# ---- Auth: consents, recorded on "Allow", read back as a forest ----
VIEW = "urn:globus:auth:scope:auth.globus.org:view_consents"
GW = f"https://auth.globus.org/scopes/{setup['gateway']}/all"
vc = globus_sdk.NativeAppAuthClient(setup["native"])
vc.oauth2_start_flow([VIEW, f"{GW}[{TRANSFER}]"], refresh_tokens=True)
vt = vc.oauth2_exchange_code_for_tokens(sign_in(vc.oauth2_get_authorize_url(), "bob@uni.edu", "bob-pass"))
bob_auth = globus_sdk.AuthClient(authorizer=globus_sdk.AccessTokenAuthorizer(
    vt.by_resource_server["auth.globus.org"]["access_token"]))
consents = bob_auth.get_consents(ids["bob@uni.edu"])
out["consent_scopes"] = sorted({c["scope_name"] for c in consents})
out["consent_clients"] = sorted({c["client"] for c in consents}) == [setup["native"]]
out["consent_refresh"] = all(c["allows_refresh"] for c in consents if c["scope_name"] == VIEW)
forest = consents.to_forest()
out["forest_meets_dependency"] = forest.meets_scope_requirements([f"{GW}[{TRANSFER}]"])
out["forest_lacks_groups"] = not forest.meets_scope_requirements([f"{GW}[{GROUPS}]"])
out["consents_of_another"] = error_of(lambda: bob_auth.get_consents(ids["carol@lab.gov"]))
out["consents_without_scope"] = error_of(lambda: native_auth.get_consents(ids["bob@uni.edu"]))

# ---- errors on unknown routes parse as Globus errors ----
out["unknown_route"] = error_of(lambda: alice_tc.get("/v0.10/no_such_route"))

print(json.dumps(out))
