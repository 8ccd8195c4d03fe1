//! The rest of globus-sdk's surface, method by method, against the built-in service:
//! `tests/clients/globus_sdk_surface.py` drives the real SDK and reports what it saw;
//! this test prepares the endpoints and judges the report.

use crate::clients::{python, repo_root, run};
use crate::globus::{GlobusServer, NATIVE};
use serde_json::{Value, json};
use tokio::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_surface() {
    let g = GlobusServer::start().await;
    let cluster = g.config.endpoints[0].clone();
    let tree = cluster.root.join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("a.txt"), "a").unwrap();
    std::fs::write(tree.join("b.bin"), vec![7u8; 300]).unwrap();
    std::fs::write(tree.join("c.txt"), vec![1u8; 20]).unwrap();
    std::fs::write(tree.join("sub/d.txt"), "dd").unwrap();
    std::fs::create_dir_all(cluster.root.join("many")).unwrap();
    for i in 0..1005 {
        std::fs::write(cluster.root.join(format!("many/f{i:04}")), i.to_string()).unwrap();
    }
    let ids: serde_json::Map<String, Value> =
        g.config.identities.iter().map(|i| (i.username.clone(), json!(i.id))).collect();
    let setup = json!({"native": g.client_id(NATIVE), "cluster": cluster.id,
        "changed_file": tree.join("c.txt"), "ids": ids, "group": g.config.groups[0].id,
        "policy": g.config.policies[0].id, "gateway": g.client_id(crate::globus::GATEWAY)});
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python());
    g.globus_env(&mut cmd, home.path());
    let out = run(cmd.arg(repo_root().join("tests/clients/globus_sdk_surface.py")).arg(setup.to_string())).await;
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {out}"));

    // ls: orderby, OR'd filters, AND'd clauses, !~, lists, paging, a bad orderby.
    assert_eq!(v["ls_orderby_size_desc"], json!(["b.bin", "c.txt", "a.txt"]), "{v}");
    assert_eq!(v["ls_orderby_name_desc"], json!(["sub", "c.txt", "b.bin", "a.txt"]));
    assert_eq!(v["ls_filter_or"], json!(["a.txt", "c.txt", "sub"]));
    assert_eq!(v["ls_filter_and"], json!(["a.txt", "c.txt"]));
    assert_eq!(v["ls_filter_not_glob"], json!(["b.bin", "sub"]));
    assert_eq!(v["ls_filter_list"], json!(["a.txt", "b.bin"]));
    assert_eq!(v["ls_page"], json!(["b.bin", "c.txt"]));
    assert_eq!(v["ls_bad_orderby"]["status"], 400, "{}", v["ls_bad_orderby"]);

    // A recursive copy with one missing item skipped, then a size sync.
    assert_eq!(v["first_status"], "SUCCEEDED");
    assert_eq!(v["first_skipped_errors_count"], 1);
    assert_eq!(
        v["first_successful"],
        json!(["/~/copy/a.txt", "/~/copy/b.bin", "/~/copy/c.txt", "/~/copy/sub/d.txt"]),
        "files only, no directories, no skipped errors"
    );
    assert_eq!(v["first_skipped"], json!([["/~/missing.txt", "FILE_NOT_FOUND"]]));
    assert_eq!(v["skipped_paginated"], json!(["/~/missing.txt"]));
    assert_eq!(v["second_files_skipped"], 3, "three files were already in sync");
    assert_eq!(v["second_successful"], json!(["/~/copy/c.txt"]), "only the changed file was copied");
    assert_eq!(std::fs::read(cluster.root.join("copy/c.txt")).unwrap().len(), 24);
    assert_eq!(v["bob_cannot_read_alices_task"]["status"], 404);
    assert_eq!((v["many_pages"].as_u64(), v["many_total"].as_u64()), (Some(2), Some(1005)));
    assert_eq!(v["many_distinct"], 1005);
    assert_eq!(v["task_list_label"], json!([true]));

    // Roles.
    assert_eq!(v["alice_roles"], json!(["administrator"]), "the owner is an administrator");
    assert_eq!(v["bob_roles_before"], json!([]));
    assert_eq!(v["bob_role_list_before"]["status"], 403);
    assert_eq!(v["bob_acl_before"]["status"], 403);
    assert_eq!(v["role_created"], json!(["access_manager", true]));
    assert_eq!(v["role_duplicate"]["status"], 409);
    assert_eq!(v["role_bad_principal"]["status"], 400);
    assert_eq!(v["role_list"], json!(["access_manager", "activity_monitor"]));
    assert_eq!(v["role_get"], "access_manager");
    assert_eq!(v["bob_roles"], json!(["access_manager"]), "bob is not in the group");
    assert_eq!(v["bob_search_roles"], json!([["access_manager"]]));
    assert_eq!(v["bob_made_rule"], "Created", "an access manager manages access rules");
    assert_eq!(v["rule_notify_email"], "carol@lab.gov");
    assert_eq!(v["bob_cannot_grant_roles"]["status"], 403, "only administrators manage roles");
    assert_eq!(v["role_deleted"], "Deleted");
    assert_eq!(v["role_gone"]["status"], 404);
    assert_eq!(v["bob_acl_after"]["status"], 403, "the role is gone, and with it the right");
    assert_eq!(v["group_role_kept"], true);

    // The endpoint manager API.
    // carol monitors the cluster through her group, administers the archive she owns,
    // and the cluster's role reaches the guest collection it hosts.
    let guest = g.config.endpoints.iter().find(|e| e.host_endpoint.is_some()).unwrap().display_name.clone();
    let mut want = vec!["Lab Archive".to_string(), "University Cluster".to_string(), guest];
    want.sort();
    assert_eq!(v["em_monitored"], json!(want), "{v}");
    assert_eq!(v["em_needs_endpoint"]["status"], 400);
    assert_eq!(v["em_task_id_alone"]["status"], 400);
    assert_eq!((v["em_pages"].as_u64(), v["em_all_tasks"].as_bool()), (Some(2), Some(true)), "last_key paging");
    assert_eq!(v["em_owner_string"], "alice@uni.edu");
    assert_eq!(v["em_by_id"].as_array().unwrap().len(), 1);
    assert_eq!(v["em_completed_range"], 0);
    assert_eq!(v["em_get_endpoint"], json!(["activity_monitor"]));
    assert_eq!(v["em_hosted"], json!([true]), "the guest collection the cluster hosts");
    assert_eq!(v["em_hosted_needs_admin"]["status"], 403);
    assert_eq!(v["em_acl_list"], true);
    assert_eq!(v["em_acl_needs_access_role"]["status"], 403);
    assert_eq!(v["em_get_task"], "surface copy");
    assert!(v["em_events"].as_array().unwrap().contains(&json!("SUCCEEDED")), "{}", v["em_events"]);
    assert_eq!((v["em_successful"].as_u64(), v["em_skipped"].as_u64()), (Some(4), Some(1)));
    assert_eq!(v["em_not_for_strangers"]["status"], 404, "bob held no role yet");
    assert_eq!(v["monitor_cannot_pause"]["status"], 403);
    assert_eq!(v["monitor_cannot_cancel"]["status"], 403);
    assert_eq!(v["rule_defaults"], json!([true, true, true, false]));
    assert_eq!(v["held"], json!(["ACTIVE", true, 0]), "a pause rule holds the task");
    assert_eq!(v["held_pause_info"], json!(["disk maintenance"]));
    assert_eq!(v["held_em_pause_info"], "pause_info");
    assert_eq!(v["held_listed_paused"], json!([true]));
    assert_eq!(v["rules_listed"], json!([true]));
    assert_eq!(v["ls_paused"]["status"], 409);
    assert_eq!(v["rule_updated"], "disk maintenance, ls too");
    assert_eq!(v["admin_pause"], "PauseAccepted");
    assert_eq!(v["rule_gone"]["status"], 404);
    assert_eq!(v["still_held"], json!(["ACTIVE", true]), "paused by id until resumed");
    assert_eq!(v["resumed"], "SUCCEEDED");
    assert_eq!(std::fs::read(cluster.root.join("held/sub/d.txt")).unwrap(), b"dd");
    assert_eq!(v["cancel_status"], true);
    assert_eq!(v["canceled"], json!(["FAILED", "quota exceeded", true]));
    assert!(!cluster.root.join("doomed").exists(), "the canceled task never ran");
    assert_eq!(v["my_effective_rules"], json!(["hold"]));
    assert_eq!(v["my_effective_rules_after"], json!([]));
    assert_eq!((v["servers"].clone(), v["server"].clone()), (json!([1]), json!("server")));
    assert_eq!(v["no_server"]["status"], 404);

    // Groups.
    assert_eq!(v["g_created"], json!(["admin"]), "the creator administers the new group");
    assert_eq!(v["g_renamed"], "Surface Laboratory");
    assert_eq!(v["g_policies"], true);
    assert_eq!(v["g_add"], json!(["active"]));
    assert_eq!(v["g_prefs"], false);
    assert_eq!(v["g_remove"], json!(["removed"]));
    assert_eq!(v["g_add_refused"], json!(["ADD_NOT_ALLOWED"]), "bob asked to be invited");
    assert_eq!(v["g_invite"], json!(["invited"]));
    assert_eq!(v["g_invited_listed"], json!([true]));
    assert_eq!(v["g_accept"], json!(["active"]));
    assert_eq!(v["g_join_invited"], json!(["active"]));
    assert_eq!(v["g_join_uninvited"], json!(["FORBIDDEN"]), "carol was not invited: she asks to join");
    assert_eq!(v["g_request"], json!(["pending"]));
    assert_eq!(v["g_member_cannot_approve"], json!(["FORBIDDEN"]));
    assert_eq!(v["g_approve"], json!(["active"]));
    assert_eq!(v["g_change_role"], json!(["manager"]));
    assert_eq!(v["g_manager_cannot_promote"], json!(["FORBIDDEN"]));
    assert_eq!(v["g_manager_cannot_remove_admin"], json!(["FORBIDDEN"]));
    assert_eq!(v["g_last_admin"], json!(["LAST_ADMIN"]));
    assert_eq!(v["g_batch"], json!(["change_role"]), "alice is in already: that add is an error");
    assert_eq!(
        v["g_members"],
        json!([
            ["alice@lab.gov", "member", "removed"],
            ["alice@uni.edu", "admin", "active"],
            ["bob@uni.edu", "member", "active"],
            ["carol@lab.gov", "manager", "active"]
        ])
    );
    assert_eq!(v["g_fields"], "optics");
    assert_eq!(v["g_ls_before"]["status"], 403);
    assert_eq!(v["g_ls_member"], 1005, "the group's rule lets carol read");
    assert_eq!(v["g_ls_after_leaving"]["status"], 403, "and leaving the group takes it away");
    assert_eq!(v["g_sub_parent"], true);
    assert_eq!(v["g_sub_refused"]["status"], 403);
    assert_eq!(v["g_delete_with_child"]["status"], 409);
    assert_eq!(v["g_delete_refused"]["status"], 404, "bob cannot see the private subgroup");
    assert_eq!(v["g_deleted"], true);
    assert_eq!(v["g_gone"]["status"], 404);
    assert_eq!(v["g_unknown_action"]["status"], 400);

    // Guest collections made through the API.
    assert_eq!(v["share_code"], "Created");
    assert_eq!(v["share_ls"], json!(["a.txt", "b.bin", "c.txt", "sub"]), "the share's root is the host folder");
    assert_eq!(v["share_of_share"]["status"], 400);
    assert_eq!(v["share_needs_rw"]["status"], 403, "carol may only read /tree/");
    assert_eq!(v["share_listed"], json!([true]));
    assert_eq!(v["share_list_needs_admin"]["status"], 403);
    assert_eq!(v["my_shares"], json!(["Alice share"]));
    assert_eq!(v["share_renamed"], "Alice renamed share");
    assert_eq!(v["share_update_refused"]["status"], 403);
    assert_eq!(v["bob_reads_carols_share"], 1005);
    assert_eq!(v["bob_after_carol_lost_access"]["status"], 403, "a share gives no more than its owner has");
    assert_eq!(v["share_delete_refused"]["status"], 403);
    assert_eq!(v["share_deleted"], "Deleted");
    assert_eq!(v["share_gone"]["status"], 404);

    // Auth lookups.
    assert_eq!(v["idp_by_domain"], json!(["National Example Laboratory"]));
    assert_eq!(v["idp_by_id"], json!([["uni.edu"]]));
    assert_eq!(v["identities_by_username"], json!([true]));
    assert_eq!(v["identities_by_id"], json!(["bob@uni.edu"]));
    assert_eq!(v["userinfo"], "bob@uni.edu");
    assert_eq!(v["policies"], json!(["Laboratory high assurance"]));
    assert_eq!(v["policy"], true);

    // Consents.
    let gw_scope = format!("https://auth.globus.org/scopes/{}/all", g.client_id(crate::globus::GATEWAY));
    let want = vec![
        gw_scope,
        "urn:globus:auth:scope:auth.globus.org:view_consents".to_string(),
        "urn:globus:auth:scope:transfer.api.globus.org:all".to_string(),
    ];
    let got: Vec<String> = serde_json::from_value(v["consent_scopes"].clone()).unwrap();
    assert!(want.iter().all(|w| got.contains(w)), "{got:?} lacks some of {want:?}");
    assert_eq!(v["consent_clients"], true);
    assert_eq!(v["consent_refresh"], true);
    assert_eq!(v["forest_meets_dependency"], true, "the SDK's ConsentForest reads the dependency path");
    assert_eq!(v["forest_lacks_groups"], true, "Groups was never allowed as a dependency of the gateway");
    assert_eq!(v["consents_of_another"]["status"], 403);
    assert_eq!(v["consents_without_scope"]["status"], 403);

    let e = &v["unknown_route"];
    assert_eq!((e["status"].as_u64(), e["code"].as_str()), (Some(404), Some("ClientError.NotFound")), "{e}");
    assert_eq!(e["request_id"].as_str().map(str::len), Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_cli_groups() {
    use crate::globus::{globus, globus_login};
    let g = GlobusServer::start().await;
    let (alice, bob, carol) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    globus_login(&g, alice.path(), "alice@uni.edu", "alice-pass").await;
    globus_login(&g, bob.path(), "bob@uni.edu", "bob-pass").await;
    globus_login(&g, carol.path(), "carol@lab.gov", "carol-pass").await;
    let ok = |(code, out): (i32, String)| {
        assert_eq!(code, 0, "{out}");
        out
    };
    let out =
        ok(globus(&g, alice.path(), &["group", "create", "CLI Lab", "--description", "from the CLI", "-F", "json"])
            .await);
    let gid = serde_json::from_str::<Value>(&out).unwrap()["id"].as_str().unwrap().to_string();
    ok(globus(&g, alice.path(), &["group", "update", &gid, "--name", "CLI Laboratory"]).await);
    ok(globus(&g, alice.path(), &["group", "set-policies", &gid, "--visibility", "authenticated", "--join-requests"])
        .await);
    ok(globus(&g, alice.path(), &["group", "member", "add", &gid, "bob@uni.edu", "--role", "manager"]).await);
    ok(globus(&g, alice.path(), &["group", "member", "invite", &gid, "alice@lab.gov"]).await);
    // carol asks to join; bob, a manager, approves.
    ok(globus(&g, carol.path(), &["group", "join", &gid, "--request"]).await);
    let out = ok(globus(&g, bob.path(), &["group", "member", "list", &gid, "-F", "json"]).await);
    let statuses: Vec<(String, String)> = serde_json::from_str::<Value>(&out).unwrap()["memberships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["username"].as_str().unwrap().to_string(), m["status"].as_str().unwrap().to_string()))
        .collect();
    assert!(statuses.contains(&("carol@lab.gov".into(), "pending".into())), "{statuses:?}");
    assert!(statuses.contains(&("alice@lab.gov".into(), "invited".into())), "{statuses:?}");
    ok(globus(&g, bob.path(), &["group", "member", "approve", &gid, "carol@lab.gov"]).await);
    let out = ok(globus(&g, carol.path(), &["group", "list"]).await);
    assert!(out.contains("CLI Laboratory"), "{out}");
    ok(globus(&g, carol.path(), &["group", "leave", &gid]).await);
    let out = ok(globus(&g, carol.path(), &["group", "list"]).await);
    assert!(!out.contains("CLI Laboratory"), "{out}");
    // The manager removes no administrator; the administrator removes the manager.
    let (code, out) = globus(&g, bob.path(), &["group", "member", "remove", &gid, "alice@uni.edu"]).await;
    assert_ne!(code, 0, "{out}");
    ok(globus(&g, alice.path(), &["group", "member", "remove", &gid, "bob@uni.edu"]).await);
    let (code, _) = globus(&g, bob.path(), &["group", "delete", &gid]).await;
    assert_ne!(code, 0, "only administrators delete a group");
    ok(globus(&g, alice.path(), &["group", "delete", &gid]).await);
    let (code, _) = globus(&g, alice.path(), &["group", "show", &gid]).await;
    assert_ne!(code, 0, "the group is gone");
}

/// The Transfer commands of the CLI that the other tests do not drive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_cli_transfer_commands() {
    use crate::globus::{globus, globus_login};
    let g = GlobusServer::start().await;
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    globus_login(&g, alice.path(), "alice@uni.edu", "alice-pass").await;
    globus_login(&g, bob.path(), "bob@uni.edu", "bob-pass").await;
    let cluster = g.config.endpoints[0].clone();
    std::fs::create_dir_all(cluster.root.join("d")).unwrap();
    std::fs::write(cluster.root.join("d/f.txt"), "hello").unwrap();
    let ep = |p: &str| format!("{}:{p}", cluster.id);
    let ok = |(code, out): (i32, String)| {
        assert_eq!(code, 0, "{out}");
        out
    };
    let json_of = |out: String| -> Value { serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")) };

    // stat, rm, get-identities, generate-submission-id, api.
    let v = json_of(ok(globus(&g, alice.path(), &["stat", &ep("/~/d/f.txt"), "-F", "json"]).await));
    assert_eq!((v["name"].as_str(), v["size"].as_u64()), (Some("f.txt"), Some(5)), "{v}");
    let out = ok(globus(&g, alice.path(), &["get-identities", "bob@uni.edu"]).await);
    assert!(out.contains(&g.config.identities.iter().find(|i| i.username == "bob@uni.edu").unwrap().id), "{out}");
    let sid = ok(globus(&g, alice.path(), &["task", "generate-submission-id"]).await);
    assert_eq!(sid.trim().len(), 36, "{sid}");
    let v =
        json_of(ok(globus(&g, alice.path(), &["api", "transfer", "get", &format!("/endpoint/{}", cluster.id)]).await));
    assert_eq!(v["my_effective_roles"], json!(["administrator"]));
    let v = json_of(ok(globus(
        &g,
        alice.path(),
        &["api", "auth", "get", "/v2/api/identities", "-Q", "usernames=bob@uni.edu"],
    )
    .await));
    assert_eq!(v["identities"][0]["username"], "bob@uni.edu", "{v}");
    let v = json_of(ok(globus(&g, alice.path(), &["api", "groups", "get", "/v2/groups/my_groups"]).await));
    assert_eq!(v[0]["name"], "Beamline Users", "{v}");

    // A transfer, renamed by `task update`, then shown with its successful transfers.
    let v = json_of(ok(globus(&g, alice.path(), &["transfer", &ep("/~/d/"), &ep("/~/e/"), "-r", "-F", "json"]).await));
    let task = v["task_id"].as_str().unwrap().to_string();
    ok(globus(&g, alice.path(), &["task", "wait", &task, "--timeout", "60"]).await);
    ok(globus(&g, alice.path(), &["task", "update", &task, "--label", "relabelled"]).await);
    let out = ok(globus(&g, alice.path(), &["task", "show", &task, "--successful-transfers"]).await);
    assert!(out.contains("/~/e/f.txt"), "{out}");
    let out = ok(globus(&g, alice.path(), &["task", "show", &task, "--skipped-errors"]).await);
    assert!(!out.contains("f.txt"), "{out}");
    let v = json_of(ok(globus(&g, alice.path(), &["task", "show", &task, "-F", "json"]).await));
    assert_eq!(v["label"], "relabelled");
    ok(globus(&g, alice.path(), &["rm", &ep("/~/e/f.txt")]).await);
    assert!(!cluster.root.join("e/f.txt").exists());

    // Roles: alice makes bob an access manager; bob then manages permissions.
    let v = json_of(ok(globus(
        &g,
        alice.path(),
        &[
            "endpoint",
            "role",
            "create",
            &cluster.id,
            "--identity",
            "bob@uni.edu",
            "--role",
            "access_manager",
            "-F",
            "json",
        ],
    )
    .await));
    let role = v["id"].as_str().unwrap().to_string();
    let out = ok(globus(&g, alice.path(), &["endpoint", "role", "list", &cluster.id]).await);
    assert!(out.contains("access_manager"), "{out}");
    let out = ok(globus(&g, alice.path(), &["endpoint", "role", "show", &cluster.id, &role]).await);
    assert!(out.contains("access_manager"), "{out}");
    let v = json_of(ok(globus(
        &g,
        bob.path(),
        &[
            "endpoint",
            "permission",
            "create",
            &ep("/d/"),
            "--permissions",
            "r",
            "--identity",
            "bob@uni.edu",
            "-F",
            "json",
        ],
    )
    .await));
    let rule = v["access_id"].as_str().unwrap().to_string();
    let out = ok(globus(&g, bob.path(), &["endpoint", "permission", "show", &cluster.id, &rule]).await);
    assert!(out.contains("/d/"), "{out}");
    ok(globus(&g, bob.path(), &["endpoint", "permission", "update", &cluster.id, &rule, "--permissions", "rw"]).await);
    let v = json_of(ok(
        globus(&g, bob.path(), &["endpoint", "permission", "show", &cluster.id, &rule, "-F", "json"]).await
    ));
    assert_eq!(v["permissions"], "rw");
    ok(globus(&g, bob.path(), &["endpoint", "permission", "delete", &cluster.id, &rule]).await);
    ok(globus(&g, alice.path(), &["endpoint", "role", "delete", &cluster.id, &role]).await);
    let (code, _) = globus(&g, bob.path(), &["endpoint", "permission", "list", &cluster.id]).await;
    assert_ne!(code, 0, "the role is gone");

    // Guest collections: made through `globus api`, then listed, updated, deleted.
    let body = json!({"DATA_TYPE": "shared_endpoint", "host_endpoint": cluster.id, "host_path": "/d/",
        "display_name": "CLI share"})
    .to_string();
    let v =
        json_of(ok(globus(&g, alice.path(), &["api", "transfer", "post", "/shared_endpoint", "--body", &body]).await));
    let share = v["id"].as_str().unwrap().to_string();
    let out = ok(globus(&g, alice.path(), &["endpoint", "my-shared-endpoint-list", &cluster.id]).await);
    assert!(out.contains(&share), "{out}");
    ok(globus(&g, alice.path(), &["endpoint", "update", &share, "--display-name", "CLI share renamed"]).await);
    let out = ok(globus(&g, alice.path(), &["endpoint", "show", &share]).await);
    assert!(out.contains("CLI share renamed"), "{out}");
    let (code, _) = globus(&g, bob.path(), &["endpoint", "delete", &share]).await;
    assert_ne!(code, 0, "only the owner deletes a guest collection");
    ok(globus(&g, alice.path(), &["endpoint", "delete", &share]).await);
    let (code, _) = globus(&g, alice.path(), &["endpoint", "show", &share]).await;
    assert_ne!(code, 0, "gone");

    // Bookmarks: show, rename, delete.
    ok(globus(&g, alice.path(), &["bookmark", "create", &ep("/~/d/"), "data"]).await);
    let out = ok(globus(&g, alice.path(), &["bookmark", "show", "data"]).await);
    assert!(out.contains(&cluster.id), "{out}");
    ok(globus(&g, alice.path(), &["bookmark", "rename", "data", "renamed"]).await);
    let out = ok(globus(&g, alice.path(), &["bookmark", "list"]).await);
    assert!(out.contains("renamed") && !out.contains("data "), "{out}");
    ok(globus(&g, alice.path(), &["bookmark", "delete", "renamed"]).await);
    let out = ok(globus(&g, alice.path(), &["bookmark", "list"]).await);
    assert!(!out.contains("renamed"), "{out}");

    // Group invitations declined and join requests rejected.
    let gid = g.config.groups[0].id.clone();
    ok(globus(&g, alice.path(), &["group", "member", "invite", &gid, "bob@uni.edu"]).await);
    ok(globus(&g, bob.path(), &["group", "invite", "decline", &gid]).await);
    ok(globus(&g, alice.path(), &["group", "member", "invite", &gid, "bob@uni.edu"]).await);
    ok(globus(&g, bob.path(), &["group", "invite", "accept", &gid]).await);
    let out = ok(globus(&g, bob.path(), &["group", "list"]).await);
    assert!(out.contains("Beamline Users"), "{out}");
    ok(globus(&g, alice.path(), &["group", "set-policies", &gid, "--visibility", "authenticated", "--join-requests"])
        .await);
    ok(globus(&g, bob.path(), &["group", "leave", &gid]).await);
    ok(globus(&g, bob.path(), &["group", "join", &gid, "--request"]).await);
    ok(globus(&g, alice.path(), &["group", "member", "reject", &gid, "bob@uni.edu"]).await);
    let v = json_of(ok(globus(&g, alice.path(), &["group", "member", "list", &gid, "-F", "json"]).await));
    let bob_status =
        v["memberships"].as_array().unwrap().iter().find(|m| m["username"] == "bob@uni.edu").unwrap()["status"].clone();
    assert_eq!(bob_status, "rejected");
}

/// `globus logout --delete-client` removes the CLI's client instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_cli_logout_deletes_its_client() {
    use crate::globus::{globus, globus_login};
    let g = GlobusServer::start().await;
    let home = tempfile::tempdir().unwrap();
    globus_login(&g, home.path(), "alice@uni.edu", "alice-pass").await;
    let db_path = g.dir.path().join("globus-local.db");
    let instances = || async {
        let db = gantry_globus_local::store::Db::open(&db_path).await.unwrap();
        db.list::<serde_json::Value>("client").await.unwrap().len()
    };
    let before = instances().await;
    assert!(before >= 1, "globus login made an instance of the CLI's client");
    let (code, out) = globus(&g, home.path(), &["logout", "--yes", "--delete-client"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(instances().await, before - 1, "the CLI's client instance is deleted");
}
