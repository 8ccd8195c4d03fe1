//! Access: redirects, the data directory, registry-token scopes, password throttling, headers.

use super::*;

/// Point 6, open redirect: after a password sign-in, `next` leads only to a path of this
/// server; tabs, line breaks and backslashes (which browsers drop or rewrite) never lead
/// elsewhere, and never make a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_redirects_off_the_server() {
    use crate::harness::Browser;
    let s = Served::start(&[]).await;
    s.user_with_password("eve", "a password for eve").await;
    for (next, to) in [
        ("/\t/evil.example/x", "/"),
        ("/\n/x", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/collections/demo?tab=1", "/collections/demo?tab=1"),
    ] {
        let (st, _, loc) = password_sign_in(&mut Browser::new(), &s.url, "eve", "a password for eve", next).await;
        assert_eq!((st, loc.as_deref()), (303, Some(to)), "next={next:?}");
    }
}

/// Point 10, clickjacking and sniffing: pages, API answers and errors carry the
/// hardening headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_hardening_headers() {
    let s = Served::start(&[]).await;
    for path in ["/", "/login", "/no/such/page", "/v2/", "/api/v1/me", "/api/v1/openapi.json"] {
        let r = http().get(format!("{}{path}", s.url)).send().await.unwrap();
        let h = r.headers();
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "same-origin", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
    }
}

/// Point 7, local readers: the data directory is its owner's only, the key file is 0600,
/// and the database holds no key that could sign a credential (registry tokens still work).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_is_private_and_the_database_holds_no_keys() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let db = format!("sqlite://{}/gantry.db?mode=rwc", data.display());
    let s = Served::start_in(&data, &db, &[]).await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "an existing, looser data directory is made private");
    assert_eq!(mode(&data.join("token.key")), 0o600);
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let row = sqlx::query("SELECT COUNT(*) AS n FROM server_keys").fetch_one(&pool).await.unwrap();
    assert_eq!(sqlx::Row::get::<i64, _>(&row, "n"), 0, "no signing key in the database");
    let tok = s.user("alice").await;
    let r = http()
        .get(format!("{}/v2/token?service=gantry&scope=repository:alice/x:pull,push", s.url))
        .basic_auth("alice", Some(&tok))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reg: serde_json::Value = r.json().await.unwrap();
    let r = http().get(format!("{}/v2/", s.url)).bearer_auth(reg["token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.status(), 200, "registry tokens signed with the derived key are accepted");
}

/// Point 8, least privilege: a registry token does what its scopes asked for, in the
/// repositories they named, and nothing outside `/v2` (no API token can be made with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_tokens_grant_only_what_was_asked() {
    use crate::ocikit::Oci;
    use reqwest::Method;
    let s = Served::start(&[]).await;
    let tok = s.user("alice").await;
    let owner = Oci::as_user(&s.url, "alice", &tok);
    owner.image("alice/x", "v1", b"x").await;
    owner.image("alice/y", "v1", b"y").await;
    let c = http();
    let token = |scope: &'static str| {
        let (c, url, tok) = (c.clone(), format!("{}/v2/token?service=gantry{scope}", s.url), tok.clone());
        async move {
            let r = c.get(url).basic_auth("alice", Some(tok)).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()["token"].as_str().unwrap().to_string()
        }
    };
    let pull_x = Oci::new(&s.url, Some(format!("Bearer {}", token("&scope=repository:alice/x:pull").await)));
    assert_eq!(pull_x.req(Method::GET, "/v2/alice/x/manifests/v1").send().await.unwrap().status(), 200);
    let r = pull_x.req(Method::GET, "/v2/alice/y/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 403, "another repository of the same owner");
    let r = pull_x.req(Method::POST, "/v2/alice/x/blobs/uploads/").send().await.unwrap();
    assert_eq!(r.status(), 403, "a pull token cannot push");
    let challenge = r.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.contains("scope=\"repository:alice/x:pull,push\""), "{challenge}");
    assert!(challenge.contains("error=\"insufficient_scope\""), "{challenge}");
    let r = pull_x.req(Method::DELETE, "/v2/alice/x/manifests/v1").send().await.unwrap();
    assert_eq!(r.status(), 403, "a pull token cannot delete");
    // Both scopes, asked for as two parameters.
    let both = token("&scope=repository:alice/x:pull,push&scope=repository:alice/y:pull").await;
    let both = Oci::new(&s.url, Some(format!("Bearer {both}")));
    assert_eq!(both.req(Method::POST, "/v2/alice/x/blobs/uploads/").send().await.unwrap().status(), 202);
    assert_eq!(both.req(Method::GET, "/v2/alice/y/manifests/v1").send().await.unwrap().status(), 200);
    assert_eq!(both.req(Method::POST, "/v2/alice/y/blobs/uploads/").send().await.unwrap().status(), 403);
    // No scope: a login check only.
    let none = Oci::new(&s.url, Some(format!("Bearer {}", token("").await)));
    assert_eq!(none.req(Method::GET, "/v2/").send().await.unwrap().status(), 200);
    assert_eq!(none.req(Method::GET, "/v2/alice/x/manifests/v1").send().await.unwrap().status(), 403);
    // Outside /v2 a registry token is refused: it cannot mint a permanent API token.
    let reg = token("&scope=repository:alice/x:pull,push").await;
    let r = c
        .post(format!("{}/api/v1/tokens", s.url))
        .bearer_auth(&reg)
        .json(&serde_json::json!({"name": "forever", "scope": "write"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = c.get(format!("{}/api/v1/me", s.url)).bearer_auth(&reg).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

/// Point 9, lockout abuse: failing on purpose for someone else's account (in any case,
/// with spaces) holds back only the address that failed, never the owner elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_hold_back_only_their_own_address() {
    use crate::harness::Browser;
    let s = Served::start(&[]).await;
    s.user_with_password("eve", "eve's real password").await;
    let from = |ip: &str| {
        crate::harness::init();
        let c = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .build()
            .unwrap();
        Browser { c, cookies: Default::default() }
    };
    let try_login = |b: &mut Browser, user: &'static str, pw: &'static str| {
        let url = s.url.clone();
        let b = std::mem::replace(b, Browser::new());
        async move {
            let mut b = b;
            let (st, page, _) = password_sign_in(&mut b, &url, user, pw, "/").await;
            (b, st, page)
        }
    };
    let mut mallory = from("127.0.0.2");
    for user in ["eve", "EVE ", " Eve", "eve", "eve"] {
        let (b, st, _) = try_login(&mut mallory, user, "guess").await;
        mallory = b;
        assert_eq!(st, 401);
    }
    let (b, st, page) = try_login(&mut mallory, "eve", "eve's real password").await;
    mallory = b;
    assert_eq!(st, 429, "the guessing address waits, whatever case it typed");
    assert!(page.contains("try again in"), "{page}");
    let mut owner = from("127.0.0.3");
    let (_, st, _) = try_login(&mut owner, "eve", "eve's real password").await;
    assert_eq!(st, 303, "the owner, elsewhere, signs in");
    drop(mallory);
}
