//! The facility: experiments synced from a real (built-in) user office after a user
//! office sign-in, seen only by their members (and administrators), favourites, search,
//! access the office takes away, the stale marker when the office is down, and the data
//! of a session served in place with Range, HEAD and ETag.

use crate::harness::{Backend, Browser, TestServer, hidden, http};
use gantry_app::config::{FacilityConfig, ProviderConfig};
use gantry_user_office_local::config::{Experiment, OfficeUser, Session};
use gantry_user_office_local::{Office, OfficeConfig};
use reqwest::StatusCode;
use serde_json::Value;

crate::both_backends!(members_see_their_experiments_and_their_data);

pub struct Facility {
    pub s: TestServer,
    pub office: Office,
    pub stop_office: tokio::sync::oneshot::Sender<()>,
    pub root: tempfile::TempDir,
}

pub fn office_config() -> OfficeConfig {
    let user = |u: &str| OfficeUser {
        username: u.into(),
        password: format!("{u}-office-pass"),
        name: format!("{u} at the facility"),
        email: format!("{u}@fac.example"),
        eaa_hash: Some(format!("eaa-{u}")),
        authorized: u == "alice",
    };
    let exp = |id: &str, subject: &str, members: &[&str]| Experiment {
        proposal_id: id.into(),
        subject: subject.into(),
        body: format!("about {subject}"),
        beam_line: "BL13".into(),
        uid: 1000,
        gid: 2000,
        members: members.iter().map(|m| m.to_string()).collect(),
        sessions: vec![Session::new(1, &format!("2026/{id}/s1"))],
    };
    OfficeConfig {
        name: "Test Light Source".into(),
        base_url: None,
        client_username: "gantry".into(),
        client_password: "office-client-secret".into(),
        users: vec![user("alice"), user("bob"), user("carol")],
        experiments: vec![
            exp("E1", "Lysozyme crystals", &["alice", "bob"]),
            exp("E2", "Battery cathodes", &["alice"]),
            exp("E3", "Carol's catalysts", &["carol"]),
        ],
    }
}

/// The built-in user office on loopback, its data under a datasets root, and Gantry
/// with `[facility]` and the office as a sign-in provider.
pub async fn facility(b: Backend, tweak: impl FnOnce(&mut gantry_server::Config)) -> Facility {
    facility_on(b, tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), tweak).await
}

/// [`facility`] on Gantry's listener bound beforehand.
pub async fn facility_on(
    b: Backend,
    gantry: tokio::net::TcpListener,
    tweak: impl FnOnce(&mut gantry_server::Config),
) -> Facility {
    let root = datasets_root();
    let (u, office, stop_office) = start_office().await;
    let root_path = root.path().to_path_buf();
    let s = TestServer::start_on(b, gantry, move |c| {
        c.providers.push(ProviderConfig::user_office(
            "office",
            "Test Light Source user office",
            &format!("{u}/api/login/"),
        ));
        c.facility = Some(facility_config(&u, root_path));
        tweak(c);
    })
    .await;
    Facility { s, office, stop_office, root }
}

/// A datasets root with a session of each experiment: `2026/ID/s1/raw/{scan.h5,sub/notes.txt}`.
pub fn datasets_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for id in ["E1", "E2", "E3"] {
        let raw = root.path().join(format!("2026/{id}/s1/raw"));
        std::fs::create_dir_all(raw.join("sub")).unwrap();
        std::fs::write(raw.join("scan.h5"), format!("{id} scan bytes: 0123456789")).unwrap();
        std::fs::write(raw.join("sub/notes.txt"), format!("{id} notes")).unwrap();
    }
    root
}

/// The built-in user office on loopback: its URL, its handle, and what stops it.
pub async fn start_office() -> (String, Office, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (stop_office, stopped) = tokio::sync::oneshot::channel::<()>();
    let (addr, office, fut) = gantry_user_office_local::start(office_config(), listener, async {
        let _ = stopped.await;
    })
    .unwrap();
    tokio::spawn(fut);
    (format!("http://{addr}"), office, stop_office)
}

/// `[facility]` for the office at `u` and data under `root`.
pub fn facility_config(u: &str, root: std::path::PathBuf) -> FacilityConfig {
    FacilityConfig {
        name: "Test Light Source".into(),
        experiments_url: format!("{u}/api/experiments/"),
        hash_url: Some(format!("{u}/api/umbrella/")),
        is_authorized_url: Some(format!("{u}/api/authorized/")),
        default_authorization: false,
        username: "gantry".into(),
        password: Some("office-client-secret".into()),
        password_file: None,
        datasets_root: root,
        output_root: None,
        sync_secs: 900,
        globus_collection: None,
        office_provider: Some("office".into()),
        umbrella_provider: None,
        eaa_hash_claim: "eaahash".into(),
        timeout_secs: 5,
        max_pages: 50,
    }
}

/// Signs in at Gantry with the user office's password form.
pub async fn office_sign_in(s: &TestServer, user: &str) -> Browser {
    let mut b = Browser::new();
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    let pw = format!("{user}-office-pass");
    let form = [("username", user), ("password", pw.as_str()), ("csrf", csrf.as_str())];
    let (st, page, _) = b.post(&format!("{}/login/office", s.url), &form).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{page}");
    b
}

/// GET with a bearer token: status and JSON body.
pub async fn get(url: &str, token: &str) -> (StatusCode, Value) {
    let r = http().get(url).bearer_auth(token).send().await.unwrap();
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

/// The experiment list once the sync after sign-in has written it.
pub async fn synced(s: &TestServer, token: &str, count: i64) -> Value {
    for _ in 0..100 {
        let (_, v) = get(&format!("{}/api/v1/experiments", s.url), token).await;
        if v["count"] == count && v["synced"].is_string() {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the experiments were not synced");
}

fn ids(v: &Value) -> Vec<String> {
    v["results"].as_array().unwrap().iter().map(|e| e["proposal_id"].as_str().unwrap().to_string()).collect()
}

async fn members_see_their_experiments_and_their_data(b: Backend) {
    let f = facility(b, |_| {}).await;
    let s = &f.s;
    office_sign_in(s, "alice").await;
    office_sign_in(s, "bob").await;
    let alice =
        gantry::admin::create_token(&s.state, "alice", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let bob = gantry::admin::create_token(&s.state, "bob", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let v = synced(s, &alice, 2).await;
    assert_eq!(ids(&v), ["E1", "E2"]);
    assert_eq!((v["facility_username"].as_str(), v["stale"].as_bool()), (Some("alice"), Some(false)), "{v}");
    let v = synced(s, &bob, 1).await;
    assert_eq!(ids(&v), ["E1"]);

    // One experiment: members only (404 for others, as for anything private), 401 anonymous.
    let (st, e) = get(&format!("{}/api/v1/experiments/E1", s.url), &bob).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(e["sessions"][0]["volumes"], serde_json::json!(["raw"]), "{e}");
    assert!(e.get("members").is_none(), "members are for administrators: {e}");
    assert_eq!(get(&format!("{}/api/v1/experiments/E2", s.url), &bob).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&format!("{}/api/v1/experiments/E3", s.url), &alice).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        http().get(format!("{}/api/v1/experiments", s.url)).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    // An administrator sees every synced experiment, with its members.
    s.state.store().create_user("root", None, true).await.unwrap();
    let root =
        gantry::admin::create_token(&s.state, "root", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let (_, v) = get(&format!("{}/api/v1/experiments", s.url), &root).await;
    assert_eq!(ids(&v), ["E1", "E2"]);
    let (_, e) = get(&format!("{}/api/v1/experiments/E1", s.url), &root).await;
    assert_eq!(e["members"], serde_json::json!(["alice", "bob"]));

    // Search, ordering, paging, favourites.
    let (_, v) = get(&format!("{}/api/v1/experiments?search=BATTERY", s.url), &alice).await;
    assert_eq!(ids(&v), ["E2"]);
    let (_, v) = get(&format!("{}/api/v1/experiments?ordering=-proposal_id&page_size=1&page=2", s.url), &alice).await;
    assert_eq!((ids(&v), v["count"].as_i64()), (vec!["E1".to_string()], Some(2)));
    let (st, v) = get(&format!("{}/api/v1/experiments?ordering=password", s.url), &alice).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    let fav = |token: &str, id: &str, on: bool| {
        let url = format!("{}/api/v1/experiments/{id}/favorite", s.url);
        let req = if on { http().put(url) } else { http().delete(url) };
        let t = token.to_string();
        async move { req.bearer_auth(t).send().await.unwrap().status() }
    };
    assert_eq!(fav(&alice, "E2", true).await, StatusCode::NO_CONTENT);
    assert_eq!(fav(&bob, "E2", true).await, StatusCode::NOT_FOUND, "not bob's");
    let (_, v) = get(&format!("{}/api/v1/experiments?favorite=true", s.url), &alice).await;
    assert_eq!(ids(&v), ["E2"]);
    assert_eq!(v["results"][0]["favorite"], true);

    // The data of a session, in place.
    let (st, l) = get(&format!("{}/api/v1/experiments/E1/sessions/1/files", s.url), &bob).await;
    assert_eq!(st, StatusCode::OK, "{l}");
    assert_eq!(l["entries"][0]["name"], "raw");
    let (_, l) = get(&format!("{}/api/v1/experiments/E1/sessions/1/files?path=raw", s.url), &bob).await;
    let names: Vec<&str> = l["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["sub", "scan.h5"], "folders first: {l}");
    let url = l["entries"][1]["download_url"].as_str().unwrap().to_string();
    assert_eq!(url, format!("{}/data/E1/1/raw/scan.h5", s.url));
    let r = http().get(&url).bearer_auth(&bob).header("range", "bytes=3-6").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()["content-range"], "bytes 3-6/25");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(r.headers()["content-disposition"].to_str().unwrap().contains("scan.h5"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"scan");
    let r = http().head(&url).bearer_auth(&bob).send().await.unwrap();
    assert_eq!((r.status(), r.headers()["content-length"].to_str().unwrap()), (StatusCode::OK, "25"));
    let r = http().get(&url).bearer_auth(&bob).header("if-none-match", &etag).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = http().get(&url).bearer_auth(&bob).header("range", "bytes=99-").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    // Not bob's experiment, not a path inside the session, not there: refused.
    let r = http().get(format!("{}/data/E2/1/raw/scan.h5", s.url)).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let (st, _) = get(&format!("{}/api/v1/experiments/E1/sessions/1/files?path=raw/../../../E2", s.url), &bob).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    std::os::unix::fs::symlink(
        f.root.path().join("2026/E2/s1/raw/scan.h5"),
        f.root.path().join("2026/E1/s1/raw/e2.h5"),
    )
    .unwrap();
    let r = http().get(format!("{}/data/E1/1/raw/e2.h5", s.url)).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "a link out of the session's data");
    let r = http().get(format!("{}/data/E1/1/raw/absent", s.url)).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(http().get(&url).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // The office renames E1 and adds a session to E2: the next sync shows both; E1's
    // unchanged then is not rewritten but is synced again all the same.
    f.office.set(|c| {
        c.experiments[0].subject = "Lysozyme crystals, again".into();
        c.experiments[1].sessions.push(Session::new(2, "2026/E2/s2"));
    });
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.state.facility.as_ref().unwrap().sync("alice").await.unwrap();
    let (_, e1) = get(&format!("{}/api/v1/experiments/E1", s.url), &alice).await;
    assert_eq!(e1["subject"], "Lysozyme crystals, again", "{e1}");
    let (_, e2) = get(&format!("{}/api/v1/experiments/E2", s.url), &alice).await;
    let numbers: Vec<i64> =
        e2["sessions"].as_array().unwrap().iter().map(|x| x["session_number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2], "{e2}");
    f.office.set(|c| c.experiments[1].sessions.truncate(1));
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    s.state.facility.as_ref().unwrap().sync("alice").await.unwrap();
    let (_, e2) = get(&format!("{}/api/v1/experiments/E2", s.url), &alice).await;
    assert_eq!(e2["sessions"].as_array().unwrap().len(), 1, "a session the office dropped goes: {e2}");
    let (_, e1_now) = get(&format!("{}/api/v1/experiments/E1", s.url), &alice).await;
    assert_eq!(e1_now["subject"], e1["subject"]);
    assert_ne!(e1_now["synced"], e1["synced"], "an unchanged experiment is synced again: {e1_now}");

    // The office takes bob off E1: the next sync takes his access away; alice keeps hers.
    f.office.set(|c| c.experiments[0].members.retain(|m| m != "bob"));
    s.state.facility.as_ref().unwrap().sync("bob").await.unwrap();
    assert_eq!(synced(s, &bob, 0).await["count"], 0);
    assert_eq!(get(&format!("{}/api/v1/experiments/E1", s.url), &bob).await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&format!("{}/api/v1/experiments/E1", s.url), &alice).await.0, StatusCode::OK);

    // The office goes down: what was synced is still served, marked stale.
    let _ = f.stop_office.send(());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(s.state.facility.as_ref().unwrap().sync("alice").await.is_err());
    let (_, v) = get(&format!("{}/api/v1/experiments", s.url), &alice).await;
    assert_eq!(ids(&v), ["E1", "E2"], "nothing lost: {v}");
    assert_eq!(v["stale"], true);
    assert!(v["sync_error"].as_str().unwrap().contains("cannot reach"), "{v}");
}

/// Every experiment route × {anonymous, member, another facility user, an unlinked user,
/// administrator, a member's read-only token}: only members and administrators get
/// anything, others a 404 (401 anonymous) that says nothing of what exists; writes need
/// a write token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permission_matrix_of_experiments() {
    let f = facility(Backend::Sqlite, |_| {}).await;
    let s = &f.s;
    office_sign_in(s, "alice").await;
    office_sign_in(s, "carol").await;
    let token = |u: &'static str, scope| {
        let st = s.state.clone();
        async move { gantry::admin::create_token(&st, u, "t", scope, None).await.unwrap() }
    };
    use gantry_domain::TokenScope::{Read, Write};
    let member = token("alice", Write).await;
    synced(s, &member, 2).await;
    let reader = token("alice", Read).await;
    let other = token("carol", Write).await;
    synced(s, &other, 1).await;
    s.state.store().create_user("dave", None, false).await.unwrap();
    let unlinked = token("dave", Write).await;
    s.state.store().create_user("root", None, true).await.unwrap();
    let admin = token("root", Write).await;

    #[derive(Clone, Copy, PartialEq)]
    enum Need {
        Read,
        Write,
    }
    let routes = [
        ("GET", "/api/v1/experiments/E2", Need::Read),
        ("GET", "/api/v1/experiments/E2/sessions/1/files", Need::Read),
        ("GET", "/api/v1/experiments/E2/sessions/1/files?path=raw/sub", Need::Read),
        ("GET", "/data/E2/1/raw/scan.h5", Need::Read),
        ("HEAD", "/data/E2/1/raw/sub/notes.txt", Need::Read),
        ("PUT", "/api/v1/experiments/E2/favorite", Need::Write),
        ("DELETE", "/api/v1/experiments/E2/favorite", Need::Write),
    ];
    let callers: [(&str, Option<&str>, bool, bool); 6] = [
        // name, token, sees E2, may write
        ("anonymous", None, false, false),
        ("member", Some(&member), true, true),
        ("member, read token", Some(&reader), true, false),
        ("another facility user", Some(&other), false, false),
        ("an unlinked user", Some(&unlinked), false, false),
        ("administrator", Some(&admin), true, true),
    ];
    for (method, path, need) in routes {
        for (who, tok, sees, writes) in callers {
            let mut req =
                http().request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", s.url));
            if let Some(t) = tok {
                req = req.bearer_auth(t);
            }
            let st = req.send().await.unwrap().status();
            let refused = match (tok, sees, need == Need::Write && !writes) {
                (None, _, _) => Some(StatusCode::UNAUTHORIZED),
                (_, false, _) => Some(StatusCode::NOT_FOUND),
                (_, true, true) => Some(StatusCode::FORBIDDEN),
                (_, true, false) => None,
            };
            match refused {
                Some(want) => assert_eq!(st, want, "{who}: {method} {path}"),
                None => assert!(st.is_success(), "{who}: {method} {path} answered {st}"),
            }
        }
    }
    // The listing: everyone signed in gets one, with only what they may see.
    for (who, tok, sees, _) in callers.into_iter().skip(1) {
        let (st, v) = get(&format!("{}/api/v1/experiments", s.url), tok.unwrap()).await;
        assert_eq!(st, StatusCode::OK, "{who}");
        assert_eq!(ids(&v).contains(&"E2".to_string()), sees, "{who}: {v}");
    }
}

/// What a broken or hostile user office can do to a sync.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Hostile {
    Good,
    Status500,
    NotJson,
    WrongShape,
    EndlessPages,
    NextElsewhere,
    Slow,
    BadRecords,
}

/// A user office that misbehaves as told, for alice only.
async fn hostile_office(mode: std::sync::Arc<std::sync::Mutex<Hostile>>) -> String {
    use axum::extract::{Query, State};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let here = base.clone();
    let good = serde_json::json!({"proposal_id": "E1", "subject": "Kept",
        "sessions": [{"session_number": 1, "data_set_path": {"raw": "2026/E1/s1/raw"}}]});
    let app = axum::Router::new()
        .route(
            "/api/experiments/alice/",
            axum::routing::get(move |State(m): State<std::sync::Arc<std::sync::Mutex<Hostile>>>, Query(q): Query<std::collections::HashMap<String, String>>| {
                let (here, good) = (here.clone(), good.clone());
                async move {
                    let mode = *m.lock().unwrap();
                    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
                    let page_of = |results: Value, next: Option<String>| {
                        axum::Json(serde_json::json!({"count": 1, "next": next, "previous": null, "results": results})).into_response()
                    };
                    match mode {
                        Hostile::Good => page_of(serde_json::json!([good]), None),
                        Hostile::Status500 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
                        Hostile::NotJson => "<html>maintenance</html>".into_response(),
                        Hostile::WrongShape => axum::Json(serde_json::json!({"results": "none"})).into_response(),
                        Hostile::EndlessPages => page_of(serde_json::json!([]), Some(format!("{here}/api/experiments/alice/?page={}", page + 1))),
                        Hostile::NextElsewhere => page_of(serde_json::json!([]), Some("http://127.0.0.2:9/api/experiments/alice/?page=2".into())),
                        Hostile::Slow => {
                            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                            page_of(serde_json::json!([good]), None)
                        }
                        Hostile::BadRecords => page_of(
                            serde_json::json!([
                                {"proposal_id": "E9", "subject": "Good too", "sessions": []},
                                {"proposal_id": "../E8", "subject": "x"},
                                {"proposal_id": "E7", "subject": 7},
                                {"proposal_id": "E6", "subject": "up", "sessions": [{"session_number": 1, "data_set_path": {"raw": "../../etc"}}]},
                                {"proposal_id": "E5", "subject": "abs", "sessions": [{"session_number": 1, "data_set_path": {"raw": "/etc"}}]},
                                "not an object"
                            ]),
                            None,
                        ),
                    }
                }
            }),
        )
        .with_state(mode);
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A user office that fails in every way a sync can meet: each failure is an error or
/// a skipped record with its reason, and nothing already synced is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_user_office_loses_nothing() {
    let mode = std::sync::Arc::new(std::sync::Mutex::new(Hostile::Good));
    let office = hostile_office(mode.clone()).await;
    let f = facility(Backend::Sqlite, |c| {
        let fc = c.facility.as_mut().unwrap();
        fc.experiments_url = format!("{office}/api/experiments/");
        fc.timeout_secs = 1;
        fc.max_pages = 20;
    })
    .await;
    let s = &f.s;
    let u = s.state.store().create_user("alice", None, false).await.unwrap();
    s.state.store().bind_facility_account(u.id, "alice", "operator").await.unwrap();
    let token =
        gantry::admin::create_token(&s.state, "alice", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    let fac = s.state.facility.as_ref().unwrap();
    assert_eq!(fac.sync("alice").await.unwrap().experiments, 1);
    for (m, why) in [
        (Hostile::Status500, "answered 500"),
        (Hostile::NotJson, "not JSON"),
        (Hostile::WrongShape, "without results"),
        (Hostile::EndlessPages, "kept sending pages"),
        (Hostile::NextElsewhere, "another server"),
        (Hostile::Slow, "cannot reach"),
    ] {
        *mode.lock().unwrap() = m;
        let e = fac.sync("alice").await.unwrap_err();
        assert!(e.message.contains(why), "{m:?}: {}", e.message);
        let (_, v) = get(&format!("{}/api/v1/experiments", s.url), &token).await;
        assert_eq!(ids(&v), ["E1"], "{m:?}: nothing lost");
        assert_eq!(v["stale"], true, "{m:?}");
        assert_eq!(v["results"][0]["subject"], "Kept");
    }
    // Records that do not read are skipped, each with its reason; the good ones are kept.
    *mode.lock().unwrap() = Hostile::BadRecords;
    let r = fac.sync("alice").await.unwrap();
    assert_eq!((r.experiments, r.skipped), (1, 5), "{r:?}");
    let (_, v) = get(&format!("{}/api/v1/experiments", s.url), &token).await;
    assert_eq!(ids(&v), ["E9"], "E1 is no longer alice's, E9 is: {v}");
    assert_eq!(v["stale"], false);
}

/// Umbrella: an OpenID Connect provider (the built-in service) whose ID token carries
/// the EAA hash; the office names the facility user behind it, and that is who the user
/// is at Gantry, whatever the browser sends. A hash the office does not know is refused
/// with a clear page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn umbrella_sign_in_binds_the_user_the_office_names() {
    use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gantry_url = format!("http://{}", listener.local_addr().unwrap());
    let g = GlobusServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.clients.iter_mut().find(|c| c.name == GATEWAY).unwrap().redirect_uris =
            vec![format!("{gantry_url}/auth/callback/umbrella")];
        for i in &mut c.identities {
            match i.username.as_str() {
                "alice@uni.edu" => i.claims.insert("eaahash".into(), "eaa-alice".into()),
                "bob@uni.edu" => i.claims.insert("eaahash".into(), "eaa-unknown".into()),
                _ => None,
            };
        }
    })
    .await;
    let (issuer, client) = (g.url.clone(), g.client_id(GATEWAY));
    let f = facility_on(Backend::Sqlite, listener, move |c| {
        c.providers.push(ProviderConfig {
            id: "umbrella".into(),
            kind: gantry_app::config::ProviderKind::Oidc,
            display_name: "Umbrella".into(),
            issuer: Some(issuer),
            client_id: Some(client),
            client_secret: Some(GATEWAY_SECRET.into()),
            client_secret_file: None,
            scopes: vec![],
            groups_url: None,
            url: None,
        });
        c.facility.as_mut().unwrap().umbrella_provider = Some("umbrella".into());
    })
    .await;
    let s = &f.s;
    // alice signed in with the office before: Umbrella reaches the same Gantry user.
    office_sign_in(s, "alice").await;
    let before: Vec<String> = s.state.store().list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    let mut b = Browser::new();
    let (_, _, loc) = b.get(&format!("{}/login/umbrella?next=%2F", s.url)).await;
    let callback = crate::signin::at_globus(&mut b, &g.url, &loc.unwrap(), "alice@uni.edu", "alice-pass").await;
    // Whatever the browser adds to the callback is not who it is.
    let (st, page, _) = b.get(&format!("{callback}&uid=bob&login=bob")).await;
    assert_eq!(st, StatusCode::SEE_OTHER, "{page}");
    let me = b.json(&format!("{}/api/v1/me", s.url)).await;
    assert_eq!(me["username"], "alice", "the office's user, not a new one: {me}");
    let after: Vec<String> = s.state.store().list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(before, after, "no second account");
    let v = b.json(&format!("{}/api/v1/experiments", s.url)).await;
    assert_eq!(v["facility_username"], "alice", "{v}");

    // An Umbrella identity the office does not know: a page that says so, no session.
    let mut bob = Browser::new();
    let (_, _, loc) = bob.get(&format!("{}/login/umbrella?next=%2F", s.url)).await;
    let callback = crate::signin::at_globus(&mut bob, &g.url, &loc.unwrap(), "bob@uni.edu", "bob-pass").await;
    let (st, page, _) = bob.get(&callback).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("does not know this Umbrella identity"), "{page}");
    assert!(bob.cookies.get("gantry_session").is_none_or(|c| c.is_empty()));
}

/// The pages: the list with search and favourites, an experiment with its sessions and
/// whether its member may launch resources, a session's data browser with download
/// links; not-members get 404 pages; the stale marker when the office is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_pages() {
    let f = facility(Backend::Sqlite, |_| {}).await;
    let s = &f.s;
    let mut alice = office_sign_in(s, "alice").await;
    let mut bob = office_sign_in(s, "bob").await;
    let token =
        gantry::admin::create_token(&s.state, "alice", "t", gantry_domain::TokenScope::Read, None).await.unwrap();
    synced(s, &token, 2).await;
    let (st, page, _) = alice.get(&format!("{}/experiments", s.url)).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("href=\"/experiments\">Experiments</a>"), "the header links them: {page}");
    assert!(page.contains("href=\"/experiments/E1\"") && page.contains("href=\"/experiments/E2\""), "{page}");
    assert!(!page.contains("id=\"stale\""), "{page}");
    let (_, found, _) = alice.get(&format!("{}/experiments?search=battery", s.url)).await;
    assert!(found.contains("href=\"/experiments/E2\"") && !found.contains("href=\"/experiments/E1\""), "{found}");
    // Favourites, with the session's CSRF token.
    let csrf = hidden(&page, "csrf");
    let (st, _, _) =
        alice.post(&format!("{}/experiments/E1/favorite", s.url), &[("csrf", "forged"), ("on", "true")]).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _, loc) =
        alice.post(&format!("{}/experiments/E1/favorite", s.url), &[("csrf", &csrf), ("on", "true")]).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/experiments")));
    let (_, favs, _) = alice.get(&format!("{}/experiments?favorite=true", s.url)).await;
    assert!(favs.contains("href=\"/experiments/E1\"") && !favs.contains("href=\"/experiments/E2\""), "{favs}");
    // One experiment: its sessions, and the office's word on launching.
    let (st, one, _) = alice.get(&format!("{}/experiments/E1", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{one}");
    assert!(one.contains("id=\"authorized\">allowed<"), "{one}");
    assert!(one.contains("href=\"/experiments/E1/sessions/1?path=raw\""), "{one}");
    let (_, one, _) = bob.get(&format!("{}/experiments/E1", s.url)).await;
    assert!(one.contains("id=\"authorized\">not allowed"), "bob may not launch: {one}");
    // The data browser.
    let (st, data, _) = bob.get(&format!("{}/experiments/E1/sessions/1?path=raw", s.url)).await;
    assert_eq!(st, StatusCode::OK, "{data}");
    assert!(data.contains(&format!("href=\"{}/data/E1/1/raw/scan.h5\" download>scan.h5<", s.url)), "{data}");
    assert!(data.contains("href=\"/experiments/E1/sessions/1?path=raw%2Fsub\">sub/<"), "{data}");
    let (_, sub, _) = bob.get(&format!("{}/experiments/E1/sessions/1?path=raw%2Fsub", s.url)).await;
    assert!(sub.contains("notes.txt") && sub.contains("id=\"path-bar\""), "{sub}");
    // Not bob's: a page that says so, as for anything private.
    let (st, _, _) = bob.get(&format!("{}/experiments/E2", s.url)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, _, _) = bob.get(&format!("{}/experiments/E2/sessions/1?path=raw", s.url)).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // Not signed in: sign in, and come back.
    let (st, _, loc) = Browser::new().get(&format!("{}/experiments/E1", s.url)).await;
    assert_eq!((st, loc.as_deref()), (StatusCode::SEE_OTHER, Some("/login?next=%2Fexperiments%2FE1")));
    // A local user without a facility account is told how to get one.
    s.state.store().create_user("dave", None, false).await.unwrap();
    let id = s.state.store().user_by_name("dave").await.unwrap().unwrap();
    let sid = s.state.sessions.start(&id, "password", None).await.unwrap();
    let mut dave = Browser::new();
    dave.cookies.insert("gantry_session".into(), sid);
    let (_, page, _) = dave.get(&format!("{}/experiments", s.url)).await;
    assert!(page.contains("id=\"not-linked\""), "{page}");
    // The office is down and a sync fails: the list is still there, said to be stale.
    let _ = f.stop_office.send(());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _ = s.state.facility.as_ref().unwrap().sync("alice").await;
    let (_, page, _) = alice.get(&format!("{}/experiments", s.url)).await;
    assert!(page.contains("id=\"stale\"") && page.contains("href=\"/experiments/E2\""), "{page}");
}

/// The command line: the list, one experiment, pulling a session (resumed, skipped when
/// unchanged, fetched again when the file changed); and an operator's CSV import that
/// gives a member access a sync does not take away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_shows_and_pulls_and_imports_add_members() {
    let f = facility(Backend::Sqlite, |_| {}).await;
    let s = &f.s;
    office_sign_in(s, "bob").await;
    let token =
        gantry::admin::create_token(&s.state, "bob", "t", gantry_domain::TokenScope::Write, None).await.unwrap();
    synced(s, &token, 1).await;
    let cli = crate::cli::Cli::new(&s.url);
    cli.login(&token).await;
    let v: Value = serde_json::from_str(&cli.ok(&["experiments", "--json"]).await).unwrap();
    assert_eq!(v.as_array().unwrap().iter().map(|e| e["proposal_id"].as_str().unwrap()).collect::<Vec<_>>(), ["E1"]);
    let table = cli.ok(&["experiments", "--search", "lyso"]).await;
    assert!(table.starts_with("PROPOSAL") && table.contains("Lysozyme crystals"), "{table}");
    let shown = cli.ok(&["experiment", "show", "E1"]).await;
    assert!(shown.contains("E1  Lysozyme crystals") && shown.contains("raw"), "{shown}");
    let (ok, _, err) = cli.run(&["experiment", "show", "E2"]).await;
    assert!(!ok && err.contains("no experiment"), "{err}");

    let out = cli.ok(&["experiment", "pull", "E1", "1", "-o", "e1"]).await;
    assert!(out.contains("2 files fetched"), "{out}");
    let served = f.root.path().join("2026/E1/s1/raw");
    assert_eq!(std::fs::read(cli.path("e1/raw/scan.h5")).unwrap(), std::fs::read(served.join("scan.h5")).unwrap());
    assert_eq!(std::fs::read(cli.path("e1/raw/sub/notes.txt")).unwrap(), b"E1 notes");
    let again = cli.ok(&["experiment", "pull", "E1", "1", "-o", "e1"]).await;
    assert!(again.contains("0 files fetched"), "unchanged files are not fetched again: {again}");
    // An interrupted download resumes from its .part file.
    std::fs::remove_file(cli.path("e1/raw/scan.h5")).unwrap();
    std::fs::write(cli.path("e1/raw/scan.h5.part"), b"E1 scan").unwrap();
    let resumed = cli.ok(&["experiment", "pull", "E1", "1", "-o", "e1", "--path", "raw/scan.h5"]).await;
    assert!(resumed.contains("1 files fetched, 18 B"), "only the rest is fetched: {resumed}");
    assert_eq!(std::fs::read(cli.path("e1/raw/scan.h5")).unwrap(), std::fs::read(served.join("scan.h5")).unwrap());
    // A file that changed at the facility is fetched again, whole (If-Range).
    std::fs::write(served.join("sub/notes.txt"), b"E1 notes, revised").unwrap();
    std::fs::write(cli.path("e1/raw/sub/notes.txt.part"), b"E1 no").unwrap();
    let changed = cli.ok(&["experiment", "pull", "E1", "1", "-o", "e1"]).await;
    assert!(changed.contains("1 files fetched"), "{changed}");
    assert_eq!(std::fs::read(cli.path("e1/raw/sub/notes.txt")).unwrap(), b"E1 notes, revised");

    // An operator imports bob into E2: he sees it, and the next sync keeps it.
    let (e, m) = s
        .state
        .facility
        .as_ref()
        .unwrap()
        .import("proposal,member,session,path\nE2,bob,1,2026/E2/s1/raw\n")
        .await
        .unwrap();
    assert_eq!((e, m), (1, 1));
    s.state.facility.as_ref().unwrap().sync("bob").await.unwrap();
    let (st, e2) = get(&format!("{}/api/v1/experiments/E2", s.url), &token).await;
    assert_eq!(st, StatusCode::OK, "{e2}");
    assert_eq!(e2["sessions"][0]["volumes"], serde_json::json!(["data"]));
    let (_, l) = get(&format!("{}/api/v1/experiments/E2/sessions/1/files?path=data", s.url), &token).await;
    assert!(l["entries"].to_string().contains("scan.h5"), "{l}");
    assert!(s.state.facility.as_ref().unwrap().import("E2,bob,1,../../etc").await.is_err());
}
