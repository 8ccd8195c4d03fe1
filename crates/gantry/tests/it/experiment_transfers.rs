//! Experiment data sent with Globus from the facility's own collection (rooted at the
//! datasets root): a whole session, a folder and a file arrive intact; the read rule for
//! the user's identity exists while the task runs and is gone after it; a rule the
//! facility gave is left alone, one shared by two transfers outlives the first; only
//! members may send, and paths never leave the session. Also from the web pages.

use crate::experiments::{datasets_root, facility_config, start_office};
use crate::globus::GlobusServer;
use crate::harness::{Backend, TestServer, hidden, http};
use crate::transfers::{
    FaultProxy, Setup, connected, manager_token, post_transfer, rules, setup_full, transfer_tasks, wait_done,
};
use gantry_app::facility::LinkedBy;
use gantry_globus_local::config::{Endpoint, uuid_for};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::both_backends!(sessions_folders_and_files_go_with_globus);

const FACILITY: &str = "Test Light Source data";

/// Links Gantry user `user` to facility account `user` and syncs their experiments.
async fn as_member(s: &TestServer, user: &str) {
    let f = s.state.facility().unwrap();
    let id = s.state.store().user_by_name(user).await.unwrap().unwrap().id;
    f.link(id, user, LinkedBy::Operator).await.unwrap();
    f.sync(user).await.unwrap();
}

async fn facility_rules(g: &GlobusServer) -> Vec<Value> {
    rules(g, &uuid_for("endpoint", FACILITY)).await
}

/// Gantry with transfers and a facility whose data are the "Test Light Source data"
/// collection of the built-in Globus service (managed by Gantry's client); with
/// `faults`, Gantry reaches Transfer through a proxy that injects failures.
async fn data_setup(b: Backend, faults: Option<&FaultProxy>) -> (Setup, Kept) {
    let root = datasets_root();
    let (office_url, _office, stop) = start_office().await;
    let gw = format!("{}@clients.auth.globus.org", uuid_for("client", crate::globus::GATEWAY));
    let root_path = root.path().to_path_buf();
    let setup = setup_full(
        b,
        faults,
        |c| {
            c.endpoints.push(Endpoint {
                description: "The facility's raw data".into(),
                default_directory: "/".into(),
                ..Endpoint::at(FACILITY, &gw, root_path.clone())
            })
        },
        |c| {
            let mut f = facility_config(&office_url, root_path.clone());
            f.globus_collection = Some(uuid_for("endpoint", FACILITY));
            c.facility = Some(f);
        },
    )
    .await;
    (setup, Kept(root, stop))
}

/// What must live as long as the test: the datasets root and the office.
struct Kept(#[allow(dead_code)] tempfile::TempDir, #[allow(dead_code)] tokio::sync::oneshot::Sender<()>);

/// The facility's own rule for `identity` on `path` (as its staff would give it).
async fn facility_rule(g: &GlobusServer, identity: &str, path: &str) -> String {
    let manager = manager_token(g).await;
    let v: Value = http()
        .post(format!("{}/v0.10/endpoint/{}/access", g.url, uuid_for("endpoint", FACILITY)))
        .bearer_auth(&manager)
        .json(&json!({"DATA_TYPE": "access", "principal_type": "identity", "principal": identity,
            "path": path, "permissions": "r"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_id"].as_str().unwrap().to_string()
}

async fn sessions_folders_and_files_go_with_globus(b: Backend) {
    let (Setup { s, g, storage }, _kept) = data_setup(b, None).await;
    let cluster = g.config.endpoints[0].clone();
    let (mut browser, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    as_member(&s, "alice").await;
    let alice_id = uuid_for("identity", "alice@uni.edu");
    let send = |body: Value| {
        let mut body = body;
        body["endpoint_id"] = json!(cluster.id);
        post_transfer(&s, &alice, body)
    };

    // A whole session: every volume arrives under ID-SESSION/, with a rule while it runs.
    let (code, tr) = send(json!({"experiment": "E1", "session": 1, "path": "/~/in/"})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    assert_eq!(
        (tr["ref"].as_str(), tr["experiment"].as_str(), tr["session"].as_i64()),
        (Some(""), Some("E1"), Some(1))
    );
    assert_eq!((tr["files"].as_i64(), tr["bytes_total"].as_i64()), (Some(2), Some(25 + 8)), "{tr}");
    let during = facility_rules(&g).await;
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!((during[0]["path"].as_str(), during[0]["permissions"].as_str()), (Some("/2026/E1/s1/raw/"), Some("r")));
    assert_eq!(during[0]["principal"], alice_id.as_str());
    assert!(rules(&g, &storage).await.is_empty(), "nothing is exported from Gantry's own storage");
    let done = wait_done(&s, &alice, tr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let arrived = cluster.root.join("in/E1-1/raw");
    assert_eq!(std::fs::read(arrived.join("scan.h5")).unwrap(), b"E1 scan bytes: 0123456789");
    assert_eq!(std::fs::read(arrived.join("sub/notes.txt")).unwrap(), b"E1 notes");
    assert!(facility_rules(&g).await.is_empty(), "the rule goes when the task ends");

    // A folder arrives as itself, a file as itself.
    let (code, tr) = send(json!({"experiment": "E1", "session": 1, "source_path": "raw/sub", "path": "/~/f/"})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    assert_eq!(facility_rules(&g).await[0]["path"], "/2026/E1/s1/raw/sub/", "the rule covers that folder only");
    assert_eq!(wait_done(&s, &alice, tr["id"].as_str().unwrap()).await["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(cluster.root.join("f/sub/notes.txt")).unwrap(), b"E1 notes");
    let (code, tr) = send(json!({"experiment": "E2", "session": 1, "source_path": "raw/scan.h5", "path": "/~/"})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    assert_eq!(wait_done(&s, &alice, tr["id"].as_str().unwrap()).await["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(cluster.root.join("scan.h5")).unwrap(), b"E2 scan bytes: 0123456789");
    assert!(facility_rules(&g).await.is_empty());

    // Two transfers of one folder share its rule: it outlives the first, not the second.
    let body = json!({"experiment": "E1", "session": 1, "source_path": "raw", "path": "/~/twice/"});
    let (c1, t1) = send(body.clone()).await;
    let (c2, t2) = send(body).await;
    assert_eq!((c1, c2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED), "{t1} {t2}");
    assert_eq!(facility_rules(&g).await.len(), 1, "one rule for both");
    let r = http()
        .post(format!("{}/api/v1/transfers/{}/cancel", s.url, t1["id"].as_str().unwrap()))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success() || r.status() == StatusCode::CONFLICT, "{}", r.status());
    let first = wait_done(&s, &alice, t1["id"].as_str().unwrap()).await;
    let second =
        crate::harness::json_of(&format!("{}/api/v1/transfers/{}", s.url, t2["id"].as_str().unwrap()), Some(&alice))
            .await;
    if second["cleaned_up"] == false {
        assert_eq!(facility_rules(&g).await.len(), 1, "the second still reads: {first}");
    }
    assert_eq!(wait_done(&s, &alice, t2["id"].as_str().unwrap()).await["status"], "SUCCEEDED");
    assert!(facility_rules(&g).await.is_empty(), "gone after both");

    // A rule the facility gave alice stays after Gantry's transfer.
    let standing = facility_rule(&g, &alice_id, "/2026/E2/s1/raw/").await;
    let (code, tr) = send(json!({"experiment": "E2", "session": 1, "path": "/~/e2/"})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    assert_eq!(wait_done(&s, &alice, tr["id"].as_str().unwrap()).await["status"], "SUCCEEDED");
    let left = facility_rules(&g).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["id"], standing.as_str(), "the facility's own rule is left alone");

    // Bad requests: clear errors, no rule.
    for (body, want) in [
        (json!({"experiment": "E1", "session": 1, "source_path": "../../E3/s1/raw", "path": "/~/"}), 404),
        (json!({"experiment": "E1", "session": 1, "source_path": "raw/../../../E3", "path": "/~/"}), 400),
        (json!({"experiment": "E1", "session": 1, "source_path": "raw/nothing", "path": "/~/"}), 404),
        (json!({"experiment": "E1", "session": 9, "path": "/~/"}), 404),
        (json!({"experiment": "E1", "path": "/~/"}), 400),
        (json!({"experiment": "E1", "session": 1, "ref": "lab/tool:1.0", "path": "/~/"}), 400),
        (json!({"session": 1, "path": "/~/"}), 400),
        (json!({"experiment": "E1", "session": 1, "path": "relative/"}), 400),
        (json!({"experiment": "E3", "session": 1, "path": "/~/"}), 404),
    ] {
        let (code, v) = send(body.clone()).await;
        assert_eq!(code.as_u16(), want, "{body}: {v}");
        assert!(v["error"]["message"].is_string(), "{v}");
    }
    assert_eq!(facility_rules(&g).await.len(), 1, "only the facility's own rule");

    // bob is a member of E1 only; carol of nothing here.
    let (mut bob_browser, bob) = connected(&s, &g, "bob", "bob@uni.edu", "bob-pass").await;
    as_member(&s, "bob").await;
    let (code, v) =
        post_transfer(&s, &bob, json!({"experiment": "E2", "session": 1, "endpoint_id": cluster.id, "path": "/~/"}))
            .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");
    let r = http()
        .get(format!("{}/api/v1/transfers/{}", s.url, tr["id"].as_str().unwrap()))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "nor does he see alice's transfers");

    // The command line sends a folder and waits for it.
    let cli = crate::cli::Cli::new(&s.url);
    cli.login(&alice).await;
    let target = format!("{}:/~/cli/", cluster.id);
    std::fs::create_dir_all(cluster.root.join("cli")).unwrap();
    let out = cli.ok(&["experiment", "send", "E1", "1", "--path", "raw/sub", &target, "--wait"]).await;
    assert!(out.contains("SUCCEEDED") && out.contains("E1 session 1: raw/sub"), "{out}");
    assert_eq!(std::fs::read(cluster.root.join("cli/sub/notes.txt")).unwrap(), b"E1 notes");
    let (ok, _, err) = cli.run(&["experiment", "send", "E3", "1", &target]).await;
    assert!(!ok && err.contains("no experiment"), "{err}");

    // The web pages: the session's page offers Globus, the transfer page sends it.
    let (st, page, _) = browser.get(&format!("{}/experiments/E1/sessions/1?path=raw%2Fsub", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("Send raw/sub with Globus"), "{page}");
    std::fs::create_dir_all(cluster.root.join("web")).unwrap();
    let (st, page, _) = browser
        .get(&format!("{}/transfer?experiment=E1&session=1&endpoint={}&path=%2F~%2Fweb%2F", s.url, cluster.id))
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("Transfer E1 session 1") && page.contains("E1-1/"), "{page}");
    let csrf = hidden(&page, "csrf");
    let form = [
        ("csrf", csrf.as_str()),
        ("experiment", "E1"),
        ("session", "1"),
        ("endpoint_id", cluster.id.as_str()),
        ("path", "/~/web/"),
        ("verify_checksum", "true"),
    ];
    let (st, page, loc) = browser.post(&format!("{}/transfer", s.url), &form).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{page}");
    let id = loc.unwrap().split("submitted=").nth(1).unwrap().to_string();
    let (_, tasks, _) = browser.get(&format!("{}/tasks", s.url)).await;
    assert!(tasks.contains("E1 session 1"), "{tasks}");
    assert_eq!(wait_done(&s, &alice, &id).await["status"], "SUCCEEDED");
    assert!(cluster.root.join("web/E1-1/raw/sub/notes.txt").is_file());
    let (_, task, _) = browser.get(&format!("{}/tasks/{id}", s.url)).await;
    assert!(
        task.contains("/experiments/E1/sessions/1")
            && task.contains("/transfer?experiment=E1&#38;session=1&#38;endpoint="),
        "{task}"
    );
    // bob gets no transfer page for E2.
    let (st, _, _) = bob_browser.get(&format!("{}/transfer?experiment=E2&session=1", s.url)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
}

/// Through a Transfer that fails every other request (and loses some answers after doing
/// the work, such as a rule it gave), every transfer of data succeeds once, and only the
/// facility's own rule is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_through_globus_faults_lose_nothing() {
    let proxy = FaultProxy::start().await;
    let (Setup { s, g, .. }, _kept) = data_setup(Backend::Sqlite, Some(&proxy)).await;
    let cluster = g.config.endpoints[0].clone();
    let (_b, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    as_member(&s, "alice").await;
    let standing = facility_rule(&g, &uuid_for("identity", "alice@uni.edu"), "/2026/E2/s1/raw/").await;
    let mut ids = vec![];
    for (e, source, path) in [("E1", "", "/~/a/"), ("E1", "raw/sub", "/~/b/"), ("E2", "raw/scan.h5", "/~/c/")] {
        std::fs::create_dir_all(cluster.root.join(&path[3..])).unwrap();
        let body =
            json!({"experiment": e, "session": 1, "source_path": source, "endpoint_id": cluster.id, "path": path});
        let (code, v) = post_transfer(&s, &alice, body).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
        if ids.len() == 2 {
            // At most two at a time.
            assert_eq!(wait_done(&s, &alice, &ids[0]).await["status"], "SUCCEEDED");
        }
    }
    for id in &ids {
        assert_eq!(wait_done(&s, &alice, id).await["status"], "SUCCEEDED");
    }
    assert_eq!(std::fs::read(cluster.root.join("a/E1-1/raw/sub/notes.txt")).unwrap(), b"E1 notes");
    assert_eq!(std::fs::read(cluster.root.join("b/sub/notes.txt")).unwrap(), b"E1 notes");
    assert_eq!(std::fs::read(cluster.root.join("c/scan.h5")).unwrap(), b"E2 scan bytes: 0123456789");
    let left: Vec<String> = facility_rules(&g).await.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, [standing], "no rule of Gantry's is left behind");
    assert!(proxy.injected.load(std::sync::atomic::Ordering::SeqCst) >= 5, "faults were injected");
    let tasks = transfer_tasks(&g, "alice@uni.edu", "alice-pass").await;
    assert_eq!(tasks["total"], 3, "one task per transfer: {tasks}");

    // A process that stopped between asking Globus for a rule and recording its id: the
    // row says a rule was asked for; the next look finds it as Gantry's, sends, removes it.
    let store = s.state.store();
    let mut row = store.transfer(&ids[1]).await.unwrap().unwrap();
    let mut items: Vec<Value> = serde_json::from_str(&row.sources).unwrap();
    items[0]["principal"] = json!(uuid_for("identity", "alice@uni.edu"));
    items[0]["rule"] = Value::Null;
    let given =
        facility_rule(&g, &uuid_for("identity", "alice@uni.edu"), items[0]["rule_path"].as_str().unwrap()).await;
    row.sources = serde_json::to_string(&items).unwrap();
    (row.id, row.path) = ("c".repeat(32), "/~/d/".into());
    (row.status, row.submission_id, row.task_id) = (gantry_domain::TransferStatus::Preparing, None, None);
    (row.cleaned, row.completed_at) = (false, None);
    std::fs::create_dir_all(cluster.root.join("d")).unwrap();
    let now = gantry_domain::time::now_unix();
    store.create_transfer(&row, "a-process-that-stopped", now - 1).await.unwrap();
    assert_eq!(wait_done(&s, &alice, &row.id).await["status"], "SUCCEEDED");
    assert_eq!(std::fs::read(cluster.root.join("d/sub/notes.txt")).unwrap(), b"E1 notes");
    let left: Vec<String> = facility_rules(&g).await.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert!(!left.contains(&given), "the rule asked for before the stop is removed: {left:?}");
}
