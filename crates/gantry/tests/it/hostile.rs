//! Hostile clients against a real server: each test reproduces an attack and checks that
//! it no longer works, bounded in count and time, on loopback only.

use crate::harness::{Backend, TestServer, http};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Reads until the server closes the connection (or `limit` passes); returns what came.
async fn until_closed(t: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    timeout(limit, async {
        loop {
            match t.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
}

/// Point 1, slowloris: connections that never finish their request head are closed after
/// `header_read_secs`, idle keep-alive connections too, and while twice as many of them as
/// the server serves at once are open, an ordinary request is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_request_heads_are_cut_off_and_do_not_starve_others() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.limits.header_read_secs = 1;
        c.limits.max_connections = 16;
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stalled = vec![];
    for _ in 0..32 {
        let mut t = TcpStream::connect(&addr).await.unwrap();
        t.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
        stalled.push(t);
    }
    let start = Instant::now();
    let r = timeout(Duration::from_secs(10), http().get(format!("{}/v2/", s.url)).send())
        .await
        .expect("an ordinary request is answered while the attack runs")
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(start.elapsed() < Duration::from_secs(8), "took {:?}", start.elapsed());
    for t in stalled.iter_mut().take(4) {
        assert!(until_closed(t, Duration::from_secs(5)).await.is_some(), "a stalled request head is closed");
    }
    // A keep-alive connection that asks nothing more is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let got = until_closed(&mut idle, Duration::from_secs(5)).await.expect("an idle keep-alive connection is closed");
    assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 401"), "it was answered first");
}

/// Point 2, slow bodies: an upload that stops sending is cut off after `body_idle_secs`;
/// what arrived is kept, and the session can be resumed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_body_is_cut_off_and_keeps_what_came() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.limits.body_idle_secs = 1).await;
    let tok = s.user("alice").await;
    let c = http();
    let r = c.post(format!("{}/v2/alice/x/blobs/uploads/", s.url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let path = loc.strip_prefix(&s.url).unwrap_or(&loc).to_string();
    let mut t = TcpStream::connect(s.url.trim_start_matches("http://")).await.unwrap();
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Type: application/octet-stream\r\nContent-Length: 100000000\r\n\r\n"
    );
    t.write_all(head.as_bytes()).await.unwrap();
    t.write_all(b"abc").await.unwrap();
    let start = Instant::now();
    let got = until_closed(&mut t, Duration::from_secs(8)).await.expect("the stalled upload ends");
    assert!(start.elapsed() < Duration::from_secs(6), "took {:?}", start.elapsed());
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("3 bytes kept"), "{text}");
    let r = c.get(format!("{}{path}", s.url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-2", "the bytes that came are kept for a resume");
}

/// Point 2, many uploads: a user may hold `uploads_per_user` sessions; the next one is a
/// 429 that says the limit and how to free one, and cancelling one makes room.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_sessions_per_user_are_capped() {
    let s = TestServer::start_with(Backend::Sqlite, |c| c.limits.uploads_per_user = 3).await;
    let (alice, bob) = (s.user("alice").await, s.user("bob").await);
    let c = http();
    let start = |tok: String, repo: &'static str| {
        let c = c.clone();
        let url = format!("{}/v2/{repo}/x/blobs/uploads/", s.url);
        async move { c.post(url).bearer_auth(tok).send().await.unwrap() }
    };
    let mut open = vec![];
    for _ in 0..3 {
        let r = start(alice.clone(), "alice").await;
        assert_eq!(r.status(), 202);
        open.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    let r = start(alice.clone(), "alice").await;
    assert_eq!(r.status(), 429);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["errors"][0]["code"], "TOOMANYREQUESTS", "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("3 uploads") && msg.contains("DELETE"), "{msg}");
    assert_eq!(start(bob.clone(), "bob").await.status(), 202, "others are not affected");
    let url = if open[0].starts_with("http") { open[0].clone() } else { format!("{}{}", s.url, open[0]) };
    assert_eq!(c.delete(url).bearer_auth(&alice).send().await.unwrap().status(), 204);
    assert_eq!(start(alice.clone(), "alice").await.status(), 202, "a cancelled session makes room");
}

/// Point 2, starvation: uploads whose clients send nothing hold no thread of the blocking
/// pool, so with more of them than the pool has threads, blobs are still served.
#[test]
fn stalled_uploads_do_not_hold_the_blocking_pool() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = TestServer::start_with(Backend::Sqlite, |c| c.limits.body_idle_secs = 120).await;
        let tok = s.user("alice").await;
        let c = http();
        let data = b"a blob that must stay reachable".to_vec();
        let digest = crate::harness::sha256(&data);
        let r = c
            .post(format!("{}/v2/alice/x/blobs/uploads/?digest={digest}", s.url))
            .bearer_auth(&tok)
            .header("content-type", "application/octet-stream")
            .body(data.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let addr = s.url.trim_start_matches("http://").to_string();
        let mut stalled = vec![];
        for _ in 0..16 {
            let r = c.post(format!("{}/v2/alice/x/blobs/uploads/", s.url)).bearer_auth(&tok).send().await.unwrap();
            let loc = r.headers()["location"].to_str().unwrap().to_string();
            let path = loc.strip_prefix(&s.url).unwrap_or(&loc).to_string();
            let mut t = TcpStream::connect(&addr).await.unwrap();
            let head = format!(
                "PATCH {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100000000\r\n\r\nx"
            );
            t.write_all(head.as_bytes()).await.unwrap();
            stalled.push(t);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let get = c.get(format!("{}/v2/alice/x/blobs/{digest}", s.url)).bearer_auth(&tok).send();
        let r = timeout(Duration::from_secs(10), get).await.expect("the blob is served while uploads stall").unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().as_ref(), data.as_slice());
        drop(stalled);
    });
}

/// Point 6, open redirect: after a password sign-in, `next` leads only to a path of this
/// server; tabs, line breaks and backslashes (which browsers drop or rewrite) never lead
/// elsewhere, and never make a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_never_redirects_off_the_server() {
    use crate::harness::{Browser, hidden};
    let s = TestServer::start(Backend::Sqlite).await;
    gantry::admin::create_user(&s.state, "eve", false, Some("a password for eve")).await.unwrap();
    for (next, to) in [
        ("/\t/evil.example/x", "/"),
        ("/\n/x", "/"),
        ("/\\evil.example", "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/collections/demo?tab=1", "/collections/demo?tab=1"),
    ] {
        let mut b = Browser::new();
        let (_, page, _) = b.get(&format!("{}/login?next={}", s.url, gantry_domain::url::escape(next))).await;
        let csrf = hidden(&page, "csrf");
        let form = [("username", "eve"), ("password", "a password for eve"), ("csrf", &csrf), ("next", next)];
        let (st, _, loc) = b.post(&format!("{}/login", s.url), &form).await;
        assert_eq!((st.as_u16(), loc.as_deref()), (303, Some(to)), "next={next:?}");
    }
}

/// Point 10, clickjacking and sniffing: pages, API answers and errors carry the
/// hardening headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_hardening_headers() {
    let s = TestServer::start(Backend::Sqlite).await;
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
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.data_dir = data.clone();
        c.database_url = Some(format!("sqlite://{}/gantry.db?mode=rwc", data.display()));
    })
    .await;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "an existing, looser data directory is made private");
    assert_eq!(mode(&data.join("token.key")), 0o600);
    let row = sqlx::query("SELECT COUNT(*) AS n FROM server_keys").fetch_one(s.state.store().pool()).await.unwrap();
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
    let s = TestServer::start(Backend::Sqlite).await;
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
    use crate::harness::{Browser, hidden};
    let s = TestServer::start(Backend::Sqlite).await;
    gantry::admin::create_user(&s.state, "eve", false, Some("eve's real password")).await.unwrap();
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
            let (_, page, _) = b.get(&format!("{url}/login")).await;
            let csrf = hidden(&page, "csrf");
            let (st, page, _) = b
                .post(&format!("{url}/login"), &[("username", user), ("password", pw), ("csrf", &csrf), ("next", "/")])
                .await;
            (b, st.as_u16(), page)
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

/// Point 11, the built-in Globus Auth: a client anyone can make (an instance of the CLI's
/// template, as Globus allows) learns nothing about other clients' tokens and cannot
/// revoke them; revoking needs client authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_made_client_cannot_introspect_or_revoke_others_tokens() {
    use crate::globus::{GATEWAY, GATEWAY_SECRET, GlobusServer, user_tokens};
    let g = GlobusServer::start().await;
    let c = http();
    let tokens = user_tokens(
        &g,
        "alice@uni.edu",
        "alice-pass",
        "openid email urn:globus:auth:scope:transfer.api.globus.org:all",
    )
    .await;
    let access = tokens["access_token"].as_str().unwrap().to_string();
    let made: serde_json::Value = c
        .post(format!("{}/v2/api/clients", g.url))
        .json(&serde_json::json!({"client": {"template_id": "95fdeba8-fac2-42bd-a357-e068d82ff78e", "name": "rogue"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rogue = made["client"]["id"].as_str().unwrap().to_string();
    let secret = made["included"]["client_credential"]["secret"].as_str().unwrap().to_string();
    let introspect = |id: String, secret: String| {
        let (c, url, access) = (c.clone(), format!("{}/v2/oauth2/token/introspect", g.url), access.clone());
        async move {
            let r = c
                .post(url)
                .basic_auth(id, Some(secret))
                .form(&[("token", access.as_str()), ("include", "identity_set_detail")]);
            r.send().await.unwrap().json::<serde_json::Value>().await.unwrap()
        }
    };
    let seen = introspect(rogue.clone(), secret.clone()).await;
    assert_eq!(seen, serde_json::json!({"active": false}), "nothing about a token issued to another client");
    let r = c
        .post(format!("{}/v2/oauth2/token/revoke", g.url))
        .basic_auth(&rogue, Some(&secret))
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r =
        c.post(format!("{}/v2/oauth2/token/revoke", g.url)).form(&[("token", access.as_str())]).send().await.unwrap();
    assert_eq!(r.status(), 401, "revoking needs a client");
    let own = introspect(g.client_id(GATEWAY), GATEWAY_SECRET.to_string()).await;
    assert_eq!(own["active"], true, "the token survived: {own}");
    assert_eq!(own["identity_set_detail"][0]["username"], "alice@uni.edu", "its own client still sees it");
}

/// Point 14, trusted numbers: a manifest whose declared sizes are not those of the stored
/// blobs is refused (no made-up or wrapped totals), and a chunk whose body is not as long
/// as its Content-Range is a 416 that keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_sizes_must_be_the_real_ones() {
    use crate::ocikit::{OCI_MANIFEST, Oci, error_code, manifest};
    use reqwest::Method;
    let s = TestServer::start(Backend::Sqlite).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let cd = o.blob("alice/x", config).await;
    let ld = o.blob("alice/x", b"layer").await;
    for layers in [vec![(ld.as_str(), 123_000_000_000usize)], vec![(ld.as_str(), 4)]] {
        let r = o.put_manifest("alice/x", "v1", &manifest(&cd, config.len(), &layers, None), OCI_MANIFEST).await;
        assert_eq!(r.status(), 400, "{layers:?}");
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
    let m = String::from_utf8(manifest(&cd, config.len(), &[(&ld, 5), (&ld, 5)], None)).unwrap();
    let wrapped = m.replace("\"size\":5", &format!("\"size\":{}", i64::MAX));
    let r = o.put_manifest("alice/x", "v1", wrapped.as_bytes(), OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
    let good = manifest(&cd, config.len(), &[(&ld, 5)], None);
    assert_eq!(o.put_manifest("alice/x", "v1", &good, OCI_MANIFEST).await.status(), 201);

    // A chunk of 5 bytes sent (without Content-Length) as bytes 0-9.
    let r = o.req(Method::POST, "/v2/alice/x/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let body = reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(
        b"12345",
    ))]));
    let r = o
        .req(Method::PATCH, &loc)
        .header("content-type", "application/octet-stream")
        .header("content-range", "0-9")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416, "{}", r.text().await.unwrap());
    let r = o.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!((r.status().as_u16(), r.headers()["range"].to_str().unwrap()), (204, "0-0"), "nothing was kept");
}

/// Point 12, links in a shared directory: rules are checked where a path's links lead, so
/// `pub/link -> ../private` shows and sends nothing of `private/`, and deleting the link
/// removes the link, never its target.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_do_not_widen_access_rules() {
    use crate::globus::{GlobusServer, user_token};
    use serde_json::{Value, json};
    const TRANSFER: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
    let g = GlobusServer::start().await;
    let guest = g.config.endpoints.iter().find(|e| e.host_endpoint.is_some()).unwrap().clone();
    std::fs::create_dir_all(guest.root.join("pub")).unwrap();
    std::fs::create_dir_all(guest.root.join("private")).unwrap();
    std::fs::write(guest.root.join("private/secret.txt"), "secret").unwrap();
    std::fs::write(guest.root.join("pub/open.txt"), "open").unwrap();
    std::os::unix::fs::symlink("../private", guest.root.join("pub/link")).unwrap();
    let c = http();
    let api = |p: &str| format!("{}/v0.10/{p}", g.url);
    let alice = user_token(&g, "alice@uni.edu", "alice-pass", TRANSFER).await;
    let bob_id = g.config.identity_by_username("bob@uni.edu").unwrap().id.clone();
    let rule = json!({"DATA_TYPE": "access", "principal_type": "identity", "principal": bob_id, "path": "/pub/", "permissions": "rw"});
    let r = c.post(api(&format!("endpoint/{}/access", guest.id))).bearer_auth(&alice).json(&rule).send().await.unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let bob = user_token(&g, "bob@uni.edu", "bob-pass", TRANSFER).await;
    let ls = |path: &str| {
        let url = api(&format!("operation/endpoint/{}/ls?path={}", guest.id, gantry_domain::url::escape(path)));
        let (c, bob) = (c.clone(), bob.clone());
        async move { c.get(url).bearer_auth(bob).send().await.unwrap() }
    };
    assert_eq!(ls("/~/pub/").await.status(), 200);
    assert_eq!(ls("/~/pub/link/").await.status(), 403, "the link leads where bob has no rule");
    let send = json!({"DATA_TYPE": "transfer", "source_endpoint": guest.id, "destination_endpoint": guest.id,
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/pub/link/secret.txt", "destination_path": "/~/pub/got.txt"}]});
    let r = c.post(api("transfer")).bearer_auth(&bob).json(&send).send().await.unwrap();
    assert_eq!(r.status(), 403, "{}", r.text().await.unwrap());
    let del = json!({"DATA_TYPE": "delete", "endpoint": guest.id, "recursive": true, "DATA": [{"DATA_TYPE": "delete_item", "path": "/~/pub/link"}]});
    let r = c.post(api("delete")).bearer_auth(&bob).json(&del).send().await.unwrap();
    assert_eq!(r.status(), 202, "bob may delete what is in pub/, the link too");
    let task = r.json::<Value>().await.unwrap()["task_id"].as_str().unwrap().to_string();
    let mut status = Value::Null;
    for _ in 0..100 {
        let t: Value =
            c.get(api(&format!("task/{task}"))).bearer_auth(&bob).send().await.unwrap().json().await.unwrap();
        status = t["status"].clone();
        if status != "ACTIVE" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "SUCCEEDED");
    assert!(std::fs::symlink_metadata(guest.root.join("pub/link")).is_err(), "the link is gone");
    assert_eq!(std::fs::read_to_string(guest.root.join("private/secret.txt")).unwrap(), "secret", "its target is not");
}

/// Point 16, terminal escapes: `gantry inspect` shows what others pushed with its control
/// and bidi characters escaped, and dataset file names with them are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_escapes_what_would_drive_the_terminal() {
    let s = TestServer::start(Backend::Sqlite).await;
    let tok = s.user("alice").await;
    let cli = crate::cli::Cli::new(&s.url);
    cli.login(&tok).await;
    let def = "Bootstrap: docker\nFrom: alpine\n\n%post\n    echo \u{1b}]0;owned\u{7}\u{1b}[2J\n";
    let labels = r#"{"maintainer":"lab\u202etxt.exe","\u001b[31mred":"x"}"#;
    let sif = crate::clients::make_sif_with(cli.home.path(), "evil.sif", b"payload", def, labels).await;
    cli.ok(&["push", sif.to_str().unwrap(), "alice/evil:1"]).await;
    let human = cli.ok(&["inspect", "alice/evil:1"]).await;
    assert!(!human.contains('\u{1b}') && !human.contains('\u{7}') && !human.contains('\u{202e}'), "{human:?}");
    assert!(human.contains("echo \\u{1b}]0;owned\\u{7}") && human.contains("lab\\u{202e}txt.exe"), "{human}");
    // The JSON stays exact, for programs.
    let json = cli.ok(&["inspect", "alice/evil:1", "--json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["labels"]["maintainer"], "lab\u{202e}txt.exe");
    // A dataset file whose name hides its extension is refused.
    let dir = cli.path("ds");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("report\u{202e}fdp.exe"), b"x").unwrap();
    let (ok, out, err) = cli.run(&["push", dir.to_str().unwrap(), "alice/ds:1"]).await;
    assert!(!ok, "{out}");
    assert!(err.contains("control or bidi"), "{err}");
}

/// Point 13, unbounded state: the server collects garbage on its own, and device
/// sign-ins are bounded per address and in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_state_is_collected_and_device_sign_ins_are_bounded() {
    let s = TestServer::start_with(Backend::Sqlite, |c| {
        c.gc_interval_secs = 1;
        c.gc_grace_secs = 0;
        c.limits.device_logins_per_address = 3;
        c.limits.pending_device_logins = 5;
    })
    .await;
    let tok = s.user("alice").await;
    let o = crate::ocikit::Oci::as_user(&s.url, "alice", &tok);
    let orphan = o.blob("alice/x", b"a blob no manifest will ever reference").await;
    let url = format!("/v2/alice/x/blobs/{orphan}");
    let mut gone = false;
    for _ in 0..40 {
        if o.req(reqwest::Method::HEAD, &url).send().await.unwrap().status() == 404 {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the unreferenced blob was collected without anyone running gc");
    let start = |ip: &str| {
        let c = reqwest::Client::builder().local_address(ip.parse::<std::net::IpAddr>().unwrap()).build().unwrap();
        let url = format!("{}/api/v1/device/authorize", s.url);
        async move { c.post(url).json(&serde_json::json!({"client_name": "laptop"})).send().await.unwrap().status() }
    };
    for _ in 0..3 {
        assert_eq!(start("127.0.0.4").await, 200);
    }
    assert_eq!(start("127.0.0.4").await, 429, "one address starts only so many");
    assert_eq!(start("127.0.0.5").await, 200);
    assert_eq!(start("127.0.0.6").await, 200);
    assert_eq!(start("127.0.0.7").await, 429, "and only so many wait in all");
}

/// Point 15, device approval: the name a program gives itself is shown as untrusted,
/// escaped text, and an approved CLI token expires (90 days unless chosen otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_approval_shows_the_name_as_untrusted_and_tokens_expire() {
    use crate::harness::{Browser, hidden};
    let s = TestServer::start(Backend::Sqlite).await;
    gantry::admin::create_user(&s.state, "erin", false, Some("erin's password")).await.unwrap();
    let c = http();
    let name = "<script>alert(1)</script> Official Gantry Admin";
    let d: serde_json::Value = c
        .post(format!("{}/api/v1/device/authorize", s.url))
        .json(&serde_json::json!({"client_name": name}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = d["user_code"].as_str().unwrap().to_string();
    let mut b = Browser::new();
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    b.post(
        &format!("{}/login", s.url),
        &[("username", "erin"), ("password", "erin's password"), ("csrf", &csrf), ("next", "/")],
    )
    .await;
    let (_, page, _) = b.get(&format!("{}/device?code={code}", s.url)).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&#60;script&#62;alert(1)") && page.contains("Gantry cannot check"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (st, _, _) =
        b.post(&format!("{}/device", s.url), &[("csrf", &csrf), ("user_code", &code), ("decision", "approve")]).await;
    assert_eq!(st.as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t: serde_json::Value = c
        .post(format!("{}/api/v1/device/token", s.url))
        .json(&serde_json::json!({"device_code": d["device_code"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = t["token"].as_str().unwrap();
    let list: serde_json::Value =
        c.get(format!("{}/api/v1/tokens", s.url)).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let expires = list["tokens"][0]["expires"].as_str().unwrap_or_default().to_string();
    assert!(!expires.is_empty(), "the CLI token expires: {list}");
}

/// Point 4, search: labels are searched by the database, so the limit counts matching
/// images only, and a label with or without a value finds exactly what carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_search_is_done_by_the_database() {
    use crate::ocikit::{OCI_MANIFEST, Oci};
    let s = TestServer::start(Backend::Sqlite).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let cd = o.blob("alice/x", config).await;
    let ld = o.blob("alice/x", b"layer").await;
    for i in 0..30 {
        let mut m: serde_json::Value =
            serde_json::from_slice(&crate::ocikit::manifest(&cd, config.len(), &[(&ld, 5)], None)).unwrap();
        m["annotations"] = serde_json::json!({"team": if i == 3 { "optics" } else { "other" }, "run": i.to_string()});
        let r = o.put_manifest("alice/x", &format!("t{i}"), &serde_json::to_vec(&m).unwrap(), OCI_MANIFEST).await;
        assert_eq!(r.status(), 201);
    }
    let search = |q: &str| {
        let url = format!("{}/api/v1/search?{q}", s.url);
        let tok = tok.clone();
        async move { crate::harness::json_of(&url, Some(&tok)).await }
    };
    let hits = |v: &serde_json::Value| v["images"].as_array().map(|a| a.len()).unwrap_or(0);
    let v = search("label=team=optics&limit=1").await;
    assert_eq!(hits(&v), 1, "{v}");
    assert_eq!(v["images"][0]["tag"], "t3", "{v}");
    assert_eq!(hits(&search("label=team&limit=100").await), 30);
    assert_eq!(hits(&search("label=team=nobody").await), 0);
    assert_eq!(hits(&search("label=run=29&q=alice/x").await), 1);
}
