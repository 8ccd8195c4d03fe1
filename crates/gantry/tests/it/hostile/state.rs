//! Unbounded state and trusted input: search, gc, sizes, device approval, terminal escapes.

use super::*;

/// Point 14, trusted numbers: a manifest whose declared sizes are not those of the stored
/// blobs is refused (no made-up or wrapped totals), and a chunk whose body is not as long
/// as its Content-Range is a 416 that keeps nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_sizes_must_be_the_real_ones() {
    use crate::ocikit::{OCI_MANIFEST, Oci, error_code, manifest};
    use reqwest::Method;
    let s = Served::start(&[]).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let (cd, ld, config_len) = config_and_layer(&o, "alice/x").await;
    for layers in [vec![(ld.as_str(), 123_000_000_000usize)], vec![(ld.as_str(), 4)]] {
        let r = o.put_manifest("alice/x", "v1", &manifest(&cd, config_len, &layers, None), OCI_MANIFEST).await;
        assert_eq!(r.status(), 400, "{layers:?}");
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
    let m = String::from_utf8(manifest(&cd, config_len, &[(&ld, 5), (&ld, 5)], None)).unwrap();
    let wrapped = m.replace("\"size\":5", &format!("\"size\":{}", i64::MAX));
    let r = o.put_manifest("alice/x", "v1", wrapped.as_bytes(), OCI_MANIFEST).await;
    assert_eq!(r.status(), 400);
    let good = manifest(&cd, config_len, &[(&ld, 5)], None);
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

/// Point 16, terminal escapes: `gantry inspect` shows what others pushed with its control
/// and bidi characters escaped, and dataset file names with them are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inspect_escapes_what_would_drive_the_terminal() {
    let s = Served::start(&[]).await;
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
    let s = Served::start(&[
        ("GANTRY_GC_INTERVAL_SECS", "1"),
        ("GANTRY_GC_GRACE_SECS", "0"),
        ("GANTRY_LIMITS_DEVICE_LOGINS_PER_ADDRESS", "3"),
        ("GANTRY_LIMITS_PENDING_DEVICE_LOGINS", "5"),
    ])
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
    let s = Served::start(&[]).await;
    s.user_with_password("erin", "erin's password").await;
    let c = http();
    let name = "<script>alert(1)</script> Official Gantry Admin";
    let d = post_json(&format!("{}/api/v1/device/authorize", s.url), serde_json::json!({"client_name": name})).await;
    let code = d["user_code"].as_str().unwrap().to_string();
    let mut b = Browser::new();
    password_sign_in(&mut b, &s.url, "erin", "erin's password", "/").await;
    let (_, page, _) = b.get(&format!("{}/device?code={code}", s.url)).await;
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&#60;script&#62;alert(1)") && page.contains("Gantry cannot check"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (st, _, _) =
        b.post(&format!("{}/device", s.url), &[("csrf", &csrf), ("user_code", &code), ("decision", "approve")]).await;
    assert_eq!(st.as_u16(), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t = post_json(&format!("{}/api/v1/device/token", s.url), serde_json::json!({"device_code": d["device_code"]}))
        .await;
    let token = t["token"].as_str().unwrap();
    let list: serde_json::Value =
        c.get(format!("{}/api/v1/tokens", s.url)).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let expires = list["tokens"][0]["expires"].as_str().unwrap_or_default().to_string();
    assert!(!expires.is_empty(), "the CLI token expires: {list}");
}

/// Point 4, search: labels and titles are searched by the database, so the limit counts
/// matching images only, and a label with or without a value finds exactly what carries it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_search_is_done_by_the_database() {
    use crate::ocikit::{OCI_MANIFEST, Oci};
    let s = Served::start(&[]).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let (cd, ld, config_len) = config_and_layer(&o, "alice/x").await;
    for i in 0..30 {
        let mut m: serde_json::Value =
            serde_json::from_slice(&crate::ocikit::manifest(&cd, config_len, &[(&ld, 5)], None)).unwrap();
        m["annotations"] = serde_json::json!({"team": if i == 3 { "optics" } else { "other" }, "run": i.to_string()});
        if i == 7 {
            m["annotations"]["org.opencontainers.image.title"] = "Beamline Alignment Tools".into();
        }
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
    // Free text reads titles too, with the database.
    let v = search("q=alignment").await;
    assert_eq!((hits(&v), v["images"][0]["tag"].as_str()), (1, Some("t7")), "{v}");
    assert_eq!(hits(&search("q=no+such+words").await), 0);
}
