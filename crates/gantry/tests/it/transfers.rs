//! Sending images to Globus endpoints, end to end against the built-in Globus service:
//! connect Globus, push, transfer, and the access rules of Gantry's storage collection.

use crate::api::{push_dataset, push_sif};
use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer};
use crate::harness::{Backend, Browser, TestServer, hidden, http, sha256};
use crate::ocikit::Oci;
use gantry_app::config::TransferConfig;
use gantry_globus_local::config::{Endpoint, uuid_for};
use reqwest::StatusCode;
use serde_json::{Value, json};

crate::both_backends!(images_and_datasets_arrive_and_rules_come_and_go, restart_resumes_and_reconciles);

pub const REGISTRY: &str = "Gantry registry";

/// Gantry (with transfers) and the built-in Globus service, whose "Gantry registry"
/// collection is Gantry's exports directory, managed by Gantry's client.
pub struct Setup {
    pub s: TestServer,
    pub g: GlobusServer,
    pub storage: String,
}

/// Gantry and the built-in Globus service; with `faults`, Gantry reaches Transfer
/// through a proxy that injects failures.
pub async fn setup(b: Backend, faults: Option<&FaultProxy>) -> Setup {
    setup_with(b, faults, |_| {}).await
}

pub async fn setup_with(
    b: Backend,
    faults: Option<&FaultProxy>,
    tweak: impl FnOnce(&mut gantry_globus_local::GlobusConfig),
) -> Setup {
    setup_full(b, faults, tweak, |_| {}).await
}

/// [`setup_with`], and `config` changes Gantry's configuration.
pub async fn setup_full(
    b: Backend,
    faults: Option<&FaultProxy>,
    tweak: impl FnOnce(&mut gantry_globus_local::GlobusConfig),
    config_tweak: impl FnOnce(&mut gantry_server::Config),
) -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gantry_url = format!("http://{}", listener.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let exports = data.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let gw_username = format!("{}@clients.auth.globus.org", uuid_for("client", GATEWAY));
    let g = GlobusServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.clients
            .iter_mut()
            .find(|c| c.name == GATEWAY)
            .unwrap()
            .redirect_uris
            .push(format!("{gantry_url}/globus/callback"));
        c.endpoints.push(Endpoint {
            description: "Gantry's storage".into(),
            default_directory: "/".into(),
            ..Endpoint::at(REGISTRY, &gw_username, exports.clone())
        });
        tweak(c);
    })
    .await;
    let storage = uuid_for("endpoint", REGISTRY);
    let transfer_url = match faults {
        Some(f) => {
            *f.target.lock().unwrap() = g.url.clone();
            f.url.clone()
        }
        None => g.url.clone(),
    };
    let mut config = gantry_server::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data,
        log: "warn".into(),
        transfers: Some(TransferConfig {
            auth_url: g.url.clone(),
            transfer_url,
            client_id: g.client_id(GATEWAY),
            client_secret: Some(GATEWAY_SECRET.into()),
            client_secret_file: None,
            storage_collection: storage.clone(),
            max_concurrent: 2,
            poll_secs: 3,
            extra_scopes: vec![],
            app_url: g.url.clone(),
        }),
        ..Default::default()
    };
    config.database_url = Some(crate::harness::database_url(b, dir.path()).await);
    config_tweak(&mut config);
    let s = TestServer::start_listener(b, config, dir, listener).await;
    Setup { s, g, storage }
}

/// A local user signed in to Gantry in a browser, with Globus connected as `globus_user`.
pub async fn connected(s: &TestServer, g: &GlobusServer, user: &str, globus_user: &str, pw: &str) -> (Browser, String) {
    let hash = gantry_app::identity::passwords::hash_password("local-password").unwrap();
    s.state.store().create_user(user, Some(&hash), false).await.unwrap();
    let token = gantry::admin::create_token(&s.state, user, "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let mut b = Browser::new();
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    b.post(
        &format!("{}/login", s.url),
        &[("username", user), ("password", "local-password"), ("csrf", &csrf), ("next", "/")],
    )
    .await;
    let (st, _, loc) = b.get(&format!("{}/globus/connect?next=/connected", s.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let callback = crate::signin::at_globus(&mut b, &g.url, &loc.unwrap(), globus_user, pw).await;
    assert!(callback.starts_with(&format!("{}/globus/callback", s.url)), "{callback}");
    let (st, page, loc) = b.get(&callback).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/connected")), "{page}");
    (b, token)
}

/// Gantry's client's own Transfer token, to look at the storage collection's rules.
pub async fn rules(g: &GlobusServer, storage: &str) -> Vec<Value> {
    let tok = manager_token(g).await;
    let v = crate::harness::json_of(&format!("{}/v0.10/endpoint/{storage}/access_list", g.url), Some(&tok)).await;
    v["DATA"].as_array().cloned().unwrap_or_default()
}

/// A Transfer token of Gantry's own client (the manager of its collections).
pub async fn manager_token(g: &GlobusServer) -> String {
    let t: Value = http()
        .post(format!("{}/v2/oauth2/token", g.url))
        .basic_auth(g.client_id(GATEWAY), Some(GATEWAY_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "urn:globus:auth:scope:transfer.api.globus.org:all")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    t["access_token"].as_str().unwrap().to_string()
}

/// A Globus user's transfer tasks, as Transfer lists them.
pub async fn transfer_tasks(g: &GlobusServer, user: &str, pw: &str) -> Value {
    let tok = crate::globus::user_token(g, user, pw, "urn:globus:auth:scope:transfer.api.globus.org:all").await;
    crate::harness::json_of(&format!("{}/v0.10/task_list?filter=type:TRANSFER", g.url), Some(&tok)).await
}

pub async fn wait_done(s: &TestServer, token: &str, id: &str) -> Value {
    for _ in 0..300 {
        let v = crate::harness::json_of(&format!("{}/api/v1/transfers/{id}", s.url), Some(token)).await;
        if v["cleaned_up"] == true {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("transfer {id} did not end");
}

pub async fn post_transfer(s: &TestServer, token: &str, body: Value) -> (StatusCode, Value) {
    let r = http().post(format!("{}/api/v1/transfers", s.url)).bearer_auth(token).json(&body).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn images_and_datasets_arrive_and_rules_come_and_go(b: Backend) {
    let Setup { s, g, storage, .. } = setup(b, None).await;
    let cluster = g.config.endpoints[0].clone();
    let (_browser, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let st: Value = crate::harness::json_of(&format!("{}/api/v1/globus", s.url), Some(&alice)).await;
    assert_eq!((st["connected"].as_bool(), st["healthy"].as_bool()), (Some(true), Some(true)), "{st}");
    assert_eq!(st["username"], "alice@uni.edu");

    // Finding a destination with her Globus token.
    let found = crate::harness::json_of(
        &format!("{}/api/v1/globus/endpoints?q=cluster&scope=my-endpoints", s.url),
        Some(&alice),
    )
    .await;
    assert_eq!(found["endpoints"][0]["id"], cluster.id.as_str(), "{found}");
    let r = http()
        .post(format!("{}/api/v1/globus/endpoints/{}/mkdir", s.url, cluster.id))
        .bearer_auth(&alice)
        .json(&json!({"path": "/~/incoming/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let listing =
        crate::harness::json_of(&format!("{}/api/v1/globus/endpoints/{}/ls?path=/~/", s.url, cluster.id), Some(&alice))
            .await;
    assert!(listing["entries"].to_string().contains("incoming"), "{listing}");

    // A SIF and a dataset pushed to a private collection.
    let o = Oci::as_user(&s.url, "alice", &alice);
    let sif: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    push_sif(&o, "lab/tool", "1.0", &sif).await;
    let files: [(&str, &[u8]); 3] =
        [("run.log", b"log\n"), ("data/a.bin", &[1u8; 70_000]), ("data/deep/b.txt", b"bee")];
    push_dataset(&o, "lab/beam", "run42", &files).await;

    // The SIF: rule during the task, file identical after it, rule and export gone.
    let (code, tr) = post_transfer(
        &s,
        &alice,
        json!({"ref": "lab/tool:1.0", "endpoint_id": cluster.id, "path": "/~/incoming/", "label": "tool"}),
    )
    .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    assert_eq!(tr["status"], "ACTIVE", "{tr}");
    let during = rules(&g, &storage).await;
    assert_eq!(during.len(), 1, "{during:?}");
    assert_eq!(during[0]["permissions"], "r");
    assert_eq!(during[0]["principal"], uuid_for("identity", "alice@uni.edu"));
    let export_dir = s.data_dir().join("exports");
    assert_eq!(std::fs::read_dir(&export_dir).unwrap().count(), 1, "one export while it runs");
    let done = wait_done(&s, &alice, tr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["endpoint_name"], "University Cluster");
    assert_eq!(sha256(&std::fs::read(cluster.root.join("incoming/tool_1.0.sif")).unwrap()), sha256(&sif));
    assert!(rules(&g, &storage).await.is_empty(), "the rule is removed when the task ends");
    assert_eq!(std::fs::read_dir(&export_dir).unwrap().count(), 0, "the export is removed");
    assert!(done["events"].to_string().contains("SUCCEEDED"), "{done}");

    // The dataset arrives as a directory of its files.
    let (code, tr) =
        post_transfer(&s, &alice, json!({"ref": "lab/beam:run42", "endpoint_id": cluster.id, "path": "/~/incoming"}))
            .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    let done = wait_done(&s, &alice, tr["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    for (p, data) in files {
        assert_eq!(std::fs::read(cluster.root.join("incoming/beam").join(p)).unwrap(), data, "{p}");
    }
    let list = crate::harness::json_of(&format!("{}/api/v1/transfers", s.url), Some(&alice)).await;
    assert_eq!(list["transfers"].as_array().unwrap().len(), 2);

    // bob may not read the private image: no transfer and no rule for him.
    let (_bb, bob) = connected(&s, &g, "bob", "bob@uni.edu", "bob-pass").await;
    let (code, v) =
        post_transfer(&s, &bob, json!({"ref": "lab/tool:1.0", "endpoint_id": cluster.id, "path": "/~/"})).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");
    assert!(rules(&g, &storage).await.is_empty());
    // ...nor see alice's transfers.
    let r = http()
        .get(format!("{}/api/v1/transfers/{}", s.url, tr["id"].as_str().unwrap()))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Not connected: a clear error.
    let carl = s.user("carl").await;
    let (code, v) =
        post_transfer(&s, &carl, json!({"ref": "lab/tool:1.0", "endpoint_id": cluster.id, "path": "/~/"})).await;
    assert_eq!(code, StatusCode::NOT_FOUND, "carl cannot read it either: {v}");
    // An endpoint Globus does not know.
    let (code, v) = post_transfer(
        &s,
        &alice,
        json!({"ref": "lab/tool:1.0", "endpoint_id": "00000000-0000-0000-0000-000000000000", "path": "/~/"}),
    )
    .await;
    assert_eq!(code, StatusCode::NOT_FOUND, "{v}");
    // OCI images are not sent with Globus.
    o.image("lab/oci", "v1", b"layer").await;
    let (code, v) =
        post_transfer(&s, &alice, json!({"ref": "lab/oci:v1", "endpoint_id": cluster.id, "path": "/~/"})).await;
    assert_eq!(code, StatusCode::BAD_REQUEST, "{v}");

    // The per-user limit answers clearly (2 allowed; the third is refused).
    for _ in 0..2 {
        let (code, v) =
            post_transfer(&s, &alice, json!({"ref": "lab/tool:1.0", "endpoint_id": cluster.id, "path": "/~/again/"}))
                .await;
        assert_eq!(code, StatusCode::ACCEPTED, "{v}");
    }
    let (code, v) =
        post_transfer(&s, &alice, json!({"ref": "lab/tool:1.0", "endpoint_id": cluster.id, "path": "/~/again/"})).await;
    assert_eq!(code, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("under way"), "{v}");

    // Disconnect revokes the tokens: the next transfer asks to connect.
    let r = http().delete(format!("{}/api/v1/globus", s.url)).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let st = crate::harness::json_of(&format!("{}/api/v1/globus", s.url), Some(&alice)).await;
    assert_eq!(st["connected"], false);
}

async fn restart_resumes_and_reconciles(b: Backend) {
    let Setup { s, g, storage } = setup(b, None).await;
    let cluster = g.config.endpoints[0].clone();
    let (_browser, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let o = Oci::as_user(&s.url, "alice", &alice);
    let sif = vec![7u8; 100_000];
    push_sif(&o, "lab/tool", "2.0", &sif).await;
    let (code, tr) =
        post_transfer(&s, &alice, json!({"ref": "lab/tool:2.0", "endpoint_id": cluster.id, "path": "/~/"})).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{tr}");
    let id = tr["id"].as_str().unwrap().to_string();
    // A rule and an export that a crash left behind, owned by no transfer.
    let alice_id = uuid_for("identity", "alice@uni.edu");
    let globus = gantry_globus::Globus::new(http(), &g.url, &g.url);
    let manager: Value = http()
        .post(format!("{}/v2/oauth2/token", g.url))
        .basic_auth(g.client_id(GATEWAY), Some(GATEWAY_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "urn:globus:auth:scope:transfer.api.globus.org:all")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let stale = "0123456789abcdef0123456789abcdef";
    std::fs::create_dir_all(s.data_dir().join("exports").join(stale)).unwrap();
    globus
        .add_identity_rule(manager["access_token"].as_str().unwrap(), &storage, &alice_id, &format!("/{stale}/"), "r")
        .await
        .unwrap();
    assert_eq!(rules(&g, &storage).await.len(), 2);
    // Gantry stops before it looked at the task again, and starts again.
    let s = s.restart().await;
    let done = wait_done(&s, &alice, &id).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(std::fs::read(cluster.root.join("tool_2.0.sif")).unwrap(), sif);
    assert!(rules(&g, &storage).await.is_empty(), "the stale rule and the transfer's rule are gone");
    assert!(!s.data_dir().join("exports").join(stale).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_connects_searches_and_transfers() {
    let Setup { s, g, .. } = setup(Backend::Sqlite, None).await;
    let cluster = g.config.endpoints[0].clone();
    let (mut browser, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let o = Oci::as_user(&s.url, "alice", &alice);
    let sif = vec![3u8; 50_000];
    push_sif(&o, "lab/tool", "3.0", &sif).await;
    let cli = crate::cli::Cli::new(&s.url);
    cli.login(&alice).await;
    let out = cli.ok(&["globus", "status"]).await;
    assert!(out.contains("connected as alice@uni.edu") && out.contains("working"), "{out}");
    // Disconnect, then connect again from the command line through the browser.
    cli.ok(&["globus", "disconnect"]).await;
    assert!(cli.ok(&["globus", "status"]).await.contains("not connected"));
    let (child, url) = crate::cli_login::spawn_until(&cli, &["globus", "connect"], "/globus/connect").await;
    let (_, _, loc) = browser.get(&url).await;
    let callback = crate::signin::at_globus(&mut browser, &g.url, &loc.unwrap(), "alice@uni.edu", "alice-pass").await;
    browser.get(&callback).await;
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("connected to Globus"));

    let found = cli.ok(&["endpoints", "search", "cluster", "--scope", "my-endpoints", "--json"]).await;
    assert!(found.contains(&cluster.id), "{found}");
    std::fs::create_dir_all(cluster.root.join("from-cli")).unwrap();
    let ls = cli.ok(&["endpoints", "ls", &format!("{}:/~/", cluster.id)]).await;
    assert!(ls.contains("from-cli/"), "{ls}");
    let ls: Value =
        serde_json::from_str(&cli.ok(&["endpoints", "ls", &format!("{}:/~/", cluster.id), "--json"]).await).unwrap();
    assert!(ls["entries"].as_array().unwrap().iter().any(|e| e["name"] == "from-cli" && e["type"] == "dir"), "{ls}");
    let out = cli.ok(&["transfer", "lab/tool:3.0", &format!("{}:/~/from-cli/", cluster.id), "--wait"]).await;
    assert!(out.contains("SUCCEEDED"), "{out}");
    assert_eq!(std::fs::read(cluster.root.join("from-cli/tool_3.0.sif")).unwrap(), sif);
    let list: Value = serde_json::from_str(&cli.ok(&["tasks", "--json"]).await).unwrap();
    let id = list[0]["id"].as_str().unwrap().to_string();
    let shown = cli.ok(&["task", "show", &id]).await;
    assert!(shown.contains("lab/tool:3.0") && shown.contains("SUCCEEDED"), "{shown}");
    let (ok, _, err) = cli.run(&["task", "cancel", &id]).await;
    assert!(!ok && err.contains("ended already"), "{err}");
}

/// A proxy in front of Transfer that fails requests in turn: 500, 429 with Retry-After,
/// a connection dropped before the answer, 502 after Globus did the work, an answer cut
/// short; every other request passes.
pub struct FaultProxy {
    pub url: String,
    target: std::sync::Arc<std::sync::Mutex<String>>,
    pub injected: std::sync::Arc<std::sync::atomic::AtomicU32>,
}

impl FaultProxy {
    pub async fn start() -> FaultProxy {
        use axum::body::Body;
        use axum::response::{IntoResponse, Response};
        use std::sync::atomic::{AtomicU32, Ordering};
        let target = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let injected = std::sync::Arc::new(AtomicU32::new(0));
        let count = std::sync::Arc::new(AtomicU32::new(0));
        let (t2, i2) = (target.clone(), injected.clone());
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (target, injected, count) = (t2.lock().unwrap().clone(), i2.clone(), count.clone());
            async move {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let fault = if n % 2 == 0 { None } else { Some((n / 2) % 5) };
                if fault.is_some() {
                    injected.fetch_add(1, Ordering::SeqCst);
                }
                match fault {
                    Some(0) => return (StatusCode::INTERNAL_SERVER_ERROR, "{}").into_response(),
                    Some(1) => return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "0")], "{}").into_response(),
                    Some(2) => panic!("injected fault: the connection drops before an answer"),
                    _ => {}
                }
                let (parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap();
                let mut fwd = http().request(parts.method.clone(), format!("{target}{}", parts.uri));
                for h in ["authorization", "content-type"] {
                    if let Some(v) = parts.headers.get(h) {
                        fwd = fwd.header(h, v.clone());
                    }
                }
                let r = fwd.body(bytes).send().await.unwrap();
                let status = r.status();
                let body = r.bytes().await.unwrap();
                match fault {
                    // Globus did it, the answer is lost.
                    Some(3) => (StatusCode::BAD_GATEWAY, "{}").into_response(),
                    // The answer starts and is cut short.
                    Some(_) => {
                        let broken = futures::stream::iter(vec![
                            Ok(bytes::Bytes::from_static(b"{")),
                            Err(std::io::Error::other("injected: connection reset")),
                        ]);
                        Response::builder()
                            .status(status)
                            .header("content-type", "application/json")
                            .body(Body::from_stream(broken))
                            .unwrap()
                    }
                    None => Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Body::from(body))
                        .unwrap(),
                }
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        FaultProxy { url, target, injected }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_faults_lose_nothing() {
    let proxy = FaultProxy::start().await;
    let Setup { s, g, storage } = setup(Backend::Sqlite, Some(&proxy)).await;
    let cluster = g.config.endpoints[0].clone();
    let (_b, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let o = Oci::as_user(&s.url, "alice", &alice);
    let sif: Vec<u8> = (0..120_000u32).map(|i| (i % 13) as u8).collect();
    push_sif(&o, "lab/tool", "4.0", &sif).await;
    push_dataset(&o, "lab/set", "v1", &[("a.txt", b"aaa"), ("d/b.bin", &[9u8; 5000])]).await;
    let mut ids = vec![];
    for (r, path) in [("lab/tool:4.0", "/~/f1/"), ("lab/set:v1", "/~/f2/")] {
        let (code, v) = post_transfer(&s, &alice, json!({"ref": r, "endpoint_id": cluster.id, "path": path})).await;
        assert_eq!(code, StatusCode::ACCEPTED, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        let done = wait_done(&s, &alice, id).await;
        assert_eq!(done["status"], "SUCCEEDED", "{done}");
    }
    assert_eq!(std::fs::read(cluster.root.join("f1/tool_4.0.sif")).unwrap(), sif);
    assert_eq!(std::fs::read(cluster.root.join("f2/set/d/b.bin")).unwrap(), vec![9u8; 5000]);
    assert!(rules(&g, &storage).await.is_empty(), "no rule is left behind");
    assert!(proxy.injected.load(std::sync::atomic::Ordering::SeqCst) >= 5, "faults were injected");
    // Exactly one Globus task per transfer: retries never submitted twice.
    let tasks = transfer_tasks(&g, "alice@uni.edu", "alice-pass").await;
    assert_eq!(tasks["total"], 2, "{tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_refreshed_and_a_revoked_connection_asks_to_reconnect() {
    // Thirty-second tokens: Gantry refreshes any token with less than a minute left.
    let Setup { s, g, .. } = setup_with(Backend::Sqlite, None, |c| c.access_token_lifetime = Some(30)).await;
    let cluster = g.config.endpoints[0].clone();
    let (_b, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let user = s.state.store().user_by_name("alice").await.unwrap().unwrap();
    let before = s.state.store().globus_link(user.id).await.unwrap().unwrap();
    let old = s.state.sealer().open::<serde_json::Value>(user.id, &before.tokens).unwrap();
    let v = crate::harness::json_of(&format!("{}/api/v1/globus/endpoints?q=cluster", s.url), Some(&alice)).await;
    assert!(v["endpoints"].to_string().contains(&cluster.id), "{v}");
    let after = s.state.store().globus_link(user.id).await.unwrap().unwrap();
    let new = s.state.sealer().open::<serde_json::Value>(user.id, &after.tokens).unwrap();
    let access = |t: &Value| {
        std::iter::once(t)
            .chain(t["other_tokens"].as_array().into_iter().flatten())
            .find(|x| x["resource_server"] == "transfer.api.globus.org")
            .map(|x| x["access_token"].clone())
    };
    assert_ne!(access(&old), access(&new), "a fresh access token was obtained");
    assert_eq!(after.status.as_str(), "ok");

    // The user withdraws Gantry's access at Globus: the refresh token stops working.
    let refresh = new["refresh_token"].as_str().unwrap();
    // (Revoking needs the client the token was issued to: here, Gantry's.)
    let r = http()
        .post(format!("{}/v2/oauth2/token/revoke", g.url))
        .basic_auth(g.client_id(GATEWAY), Some(GATEWAY_SECRET))
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let r =
        http().get(format!("{}/api/v1/globus/endpoints?q=cluster", s.url)).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let v: Value = r.json().await.unwrap();
    assert!(v["error"]["message"].as_str().unwrap().contains("reconnect Globus"), "{v}");
    let st = crate::harness::json_of(&format!("{}/api/v1/globus", s.url), Some(&alice)).await;
    assert_eq!((st["healthy"].as_bool(), st["status"].as_str()), (Some(false), Some("reconnect")), "{st}");
}

/// Starts the real `gantry serve` on an existing data directory and configuration.
async fn serve_binary(data: &std::path::Path, db: &str, config: &std::path::Path) -> (tokio::process::Child, String) {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gantry"))
        .env("GANTRY_DATA_DIR", data)
        .env("GANTRY_DATABASE_URL", db)
        .env("GANTRY_LISTEN", "127.0.0.1:0")
        .env("GANTRY_LOG", "info")
        .arg("--config")
        .arg(config)
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut url = None;
    while let Some(l) = lines.next_line().await.unwrap() {
        if let Some(i) = l.find("listening on ") {
            url = Some(format!("http://{}", l[i + 13..].split_whitespace().next().unwrap()));
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url.expect("gantry serve starts"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_transfer_then_restart() {
    let Setup { mut s, g, storage } = setup(Backend::Sqlite, None).await;
    let cluster = g.config.endpoints[0].clone();
    let (_b, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    let sif: Vec<u8> = (0..200_000u32).map(|i| (i % 97) as u8).collect();
    push_sif(&Oci::as_user(&s.url, "alice", &alice), "lab/tool", "5.0", &sif).await;
    // The same data, served by the real binary from here on.
    let (data, db) = (s.data_dir(), s.config.database_url.clone().unwrap());
    s.stop().await;
    let config = data.parent().unwrap().join("gantry.toml");
    std::fs::write(
        &config,
        format!(
            "[transfers]\nauth_url = \"{g}\"\ntransfer_url = \"{g}\"\nclient_id = \"{id}\"\nclient_secret = \"{GATEWAY_SECRET}\"\n\
             storage_collection = \"{storage}\"\npoll_secs = 3\n",
            g = g.url,
            id = g.client_id(GATEWAY)
        ),
    )
    .unwrap();
    let (mut child, url) = serve_binary(&data, &db, &config).await;
    let r = http()
        .post(format!("{url}/api/v1/transfers"))
        .bearer_auth(&alice)
        .json(&json!({"ref": "lab/tool:5.0", "endpoint_id": cluster.id, "path": "/~/killed/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    // SIGKILL before the follower looked at the task: the rule is still there.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    assert_eq!(rules(&g, &storage).await.len(), 1);
    let (_child, url) = serve_binary(&data, &db, &config).await;
    let mut done = Value::Null;
    for _ in 0..300 {
        done = crate::harness::json_of(&format!("{url}/api/v1/transfers/{id}"), Some(&alice)).await;
        if done["cleaned_up"] == true {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(std::fs::read(cluster.root.join("killed/tool_5.0.sif")).unwrap(), sif);
    assert!(rules(&g, &storage).await.is_empty(), "the rule was removed after the restart");
    assert_eq!(std::fs::read_dir(data.join("exports")).unwrap().count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collection_that_needs_consent_gets_it_through_connect() {
    let Setup { s, g, .. } = setup_with(Backend::Sqlite, None, |c| c.endpoints[0].requires_data_access = true).await;
    let cluster = g.config.endpoints[0].clone();
    let (mut browser, alice) = connected(&s, &g, "alice", "alice@uni.edu", "alice-pass").await;
    push_sif(&Oci::as_user(&s.url, "alice", &alice), "lab/tool", "6.0", &[5u8; 1000]).await;
    let body = json!({"ref": "lab/tool:6.0", "endpoint_id": cluster.id, "path": "/~/"});
    let (code, v) = post_transfer(&s, &alice, body.clone()).await;
    assert_eq!(code, StatusCode::FORBIDDEN, "{v}");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("consent") && msg.contains("data_access"), "{msg}");
    // The message names the way to consent: connect again with that scope.
    let path = msg.split_whitespace().find(|w| w.starts_with("/globus/connect?")).unwrap();
    let (st, _, loc) = browser.get(&format!("{}{path}", s.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let authorize = loc.unwrap();
    assert!(authorize.contains("data_access"), "{authorize}");
    let callback = crate::signin::at_globus(&mut browser, &g.url, &authorize, "alice@uni.edu", "alice-pass").await;
    browser.get(&callback).await;
    let (code, v) = post_transfer(&s, &alice, body).await;
    assert_eq!(code, StatusCode::ACCEPTED, "{v}");
    let done = wait_done(&s, &alice, v["id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    // Bad scopes are refused.
    let (st, _, _) = browser.get(&format!("{}/globus/connect?scope=openid", s.url)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
}
