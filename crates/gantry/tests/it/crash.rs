//! SIGKILL the server in the middle of uploads and pushes, restart it, resume, and
//! check that nothing partial or corrupt ever becomes visible.

use crate::harness::{Backend, database_url, sha256};
use crate::ocikit::{OCI_MANIFEST, Oci, manifest};
use crate::process::Served;
use reqwest::Method;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

async fn start(data: &Path, db: &str) -> Served {
    Served::start_in(data, db, &[]).await
}

async fn admin(data: &Path, db: &str, args: &[&str]) -> String {
    crate::process::admin(data, db, args, None).await
}

/// A request body that trickles out, so the server can be killed in the middle of it.
fn slow_body(data: Vec<u8>) -> reqwest::Body {
    let s = futures::stream::unfold((data, 0usize), |(d, at)| async move {
        if at >= d.len() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
        let end = (at + 32 * 1024).min(d.len());
        Some((Ok::<_, std::io::Error>(bytes::Bytes::copy_from_slice(&d[at..end])), (d, end)))
    });
    reqwest::Body::wrap_stream(s)
}

fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() { walk_files(&p, out) } else { out.push(p) }
        }
    }
}

/// Every stored blob file hashes to its name; every tagged manifest and each blob it
/// names can be read back whole and matches its digest.
async fn check_nothing_partial(data: &Path, url: &str, user: &str, token: &str) -> usize {
    let mut files = vec![];
    walk_files(&data.join("blobs"), &mut files);
    for f in &files {
        let name = f.file_name().unwrap().to_str().unwrap();
        assert_eq!(sha256(&std::fs::read(f).unwrap()), format!("sha256:{name}"), "corrupt blob file {}", f.display());
    }
    let o = Oci::as_user(url, user, token);
    let cat: Value = o.req(Method::GET, "/v2/_catalog").send().await.unwrap().json().await.unwrap();
    let mut manifests = 0;
    for repo in cat["repositories"].as_array().unwrap() {
        let repo = repo.as_str().unwrap();
        let tags: Value =
            o.req(Method::GET, &format!("/v2/{repo}/tags/list")).send().await.unwrap().json().await.unwrap();
        for t in tags["tags"].as_array().unwrap() {
            let r = o.req(Method::GET, &format!("/v2/{repo}/manifests/{}", t.as_str().unwrap())).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let d = r.headers()["docker-content-digest"].to_str().unwrap().to_string();
            let body = r.bytes().await.unwrap();
            assert_eq!(sha256(&body), d);
            let m: Value = serde_json::from_slice(&body).unwrap();
            for desc in std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()) {
                let bd = desc["digest"].as_str().unwrap();
                let r = o.req(Method::GET, &format!("/v2/{repo}/blobs/{bd}")).send().await.unwrap();
                assert_eq!(r.status(), 200, "{repo} {bd}");
                assert_eq!(sha256(&r.bytes().await.unwrap()), bd);
            }
            manifests += 1;
        }
    }
    manifests
}

async fn sigkill_mid_upload_then_resume(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let db = database_url(b, dir.path()).await;
    admin(&data_dir, &db, &["user", "create", "alice"]).await;
    let token = admin(&data_dir, &db, &["token", "create", "--user", "alice"]).await;

    // 1. Killed in the middle of a chunk.
    let p = start(&data_dir, &db).await;
    let o = Oci::as_user(&p.url, "alice", &token);
    let blob: Vec<u8> = (0..6_000_000u32).map(|i| (i * 31 % 256) as u8).collect();
    let d = sha256(&blob);
    let r = o.req(Method::POST, "/v2/lab/crash/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = o
        .req(Method::PATCH, &loc)
        .header("content-range", "0-999999")
        .body(blob[..1_000_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let o2 = o.clone();
    let loc2 = loc.clone();
    let rest = blob[1_000_000..].to_vec();
    let patch = tokio::spawn(async move {
        o2.req(Method::PATCH, &loc2)
            .header("content-range", format!("1000000-{}", 6_000_000 - 1))
            .body(slow_body(rest))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    p.sigkill().await;
    let _ = patch.await;

    // 2. Restart: the session survived; it reports only bytes it made durable.
    let p = start(&data_dir, &db).await;
    let o = Oci::as_user(&p.url, "alice", &token);
    let r = o.req(Method::GET, &loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let range = r.headers()["range"].to_str().unwrap().to_string();
    let have: usize = range.split_once('-').unwrap().1.parse::<usize>().unwrap() + 1;
    assert!(have >= 1_000_000 && have <= blob.len(), "{range}");
    assert_eq!(
        o.req(Method::HEAD, &format!("/v2/lab/crash/blobs/{d}")).send().await.unwrap().status(),
        404,
        "nothing visible yet"
    );
    // Resume from there and finish.
    let r = o
        .req(Method::PATCH, &loc)
        .header("content-range", format!("{have}-{}", blob.len() - 1))
        .body(blob[have..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = o.req(Method::PUT, &format!("{loc}?digest={d}")).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let r = o.req(Method::GET, &format!("/v2/lab/crash/blobs/{d}")).send().await.unwrap();
    assert_eq!(sha256(&r.bytes().await.unwrap()), d);
    // A whole image before the rounds, which every restart must still show.
    o.image("lab/before", "v1", &blob[..300_000]).await;

    // 3. Kill repeatedly while a client pushes images; after each restart nothing
    // partial is visible, and re-running the push completes it.
    let mut url = p.url.clone();
    let mut p = Some(p);
    for round in 0..3u32 {
        let o = Oci::as_user(&url, "alice", &token);
        let pusher = tokio::spawn(async move {
            for i in 0..50u32 {
                let layer: Vec<u8> = (0..400_000u32).map(|j| ((j + i * 7 + round) % 256) as u8).collect();
                let cfg = format!("{{\"round\":{round},\"i\":{i}}}").into_bytes();
                if o.push_blob(&format!("lab/r{round}"), &cfg).await.status() != 201 {
                    return;
                }
                let r = o
                    .req(Method::POST, &format!("/v2/lab/r{round}/blobs/uploads/?digest={}", sha256(&layer)))
                    .body(slow_body(layer.clone()))
                    .send()
                    .await;
                if r.map(|r| r.status() != 201).unwrap_or(true) {
                    return;
                }
                let m = manifest(&sha256(&cfg), cfg.len(), &[(&sha256(&layer), layer.len())], None);
                let _ = o.put_manifest(&format!("lab/r{round}"), &format!("t{i}"), &m, OCI_MANIFEST).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(150 + 170 * round as u64)).await;
        p.take().unwrap().sigkill().await;
        let _ = pusher.await;
        let np = start(&data_dir, &db).await;
        url = np.url.clone();
        let n = check_nothing_partial(&data_dir, &url, "alice", &token).await;
        assert!(n >= 1, "round {round}: the manifest pushed before the rounds is still there");
        p = Some(np);
    }
    // GC after the crashes removes the leftovers and keeps what is referenced.
    let report = admin(&data_dir, &db, &["gc", "--grace", "0"]).await;
    assert!(report.starts_with("removed "), "{report}");
    check_nothing_partial(&data_dir, &url, "alice", &token).await;
    // A push after all that goes through whole.
    let o = Oci::as_user(&url, "alice", &token);
    let (digest, _) = o.image("lab/after", "v1", &blob[..500_000]).await;
    let r = o.req(Method::GET, "/v2/lab/after/manifests/v1").send().await.unwrap();
    assert_eq!(r.headers()["docker-content-digest"], digest.as_str());
    p.take().unwrap().sigkill().await;
}

crate::both_backends!(sigkill_mid_upload_then_resume);
