//! Garbage collection: removes what nothing references once the grace period is over,
//! keeps everything else, and is safe while pushes run.

use crate::harness::{Backend, TestServer, sha256};
use crate::ocikit::{OCI_MANIFEST, Oci, manifest};
use gantry_domain::Digest;
use reqwest::Method;

async fn backdate_blob(s: &TestServer, digest: &str, secs: i64) {
    sqlx::query("UPDATE blobs SET touched_at = touched_at - $1 WHERE digest = $2")
        .bind(secs)
        .bind(digest)
        .execute(s.state.store().pool())
        .await
        .unwrap();
}

async fn on_disk(s: &TestServer, d: &str) -> bool {
    s.state.registry.blobs().size(&Digest::parse(d).unwrap()).await.unwrap().is_some()
}

async fn collects_only_garbage(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let (m1, _) = o.image("lab/keep", "v1", b"kept layer").await;
    let (m2, _) = o.image("lab/drop", "v1", b"dropped layer").await;
    let orphan_old = o.blob("lab/keep", b"uploaded, never referenced, old").await;
    let orphan_new = o.blob("lab/keep", b"uploaded, never referenced, new").await;
    // Delete the second image: its layer is now garbage.
    assert_eq!(o.req(Method::DELETE, &format!("/v2/lab/drop/manifests/{m2}")).send().await.unwrap().status(), 202);
    let dropped = sha256(b"dropped layer");
    for d in [&orphan_old, &dropped, &sha256(b"kept layer")] {
        backdate_blob(&s, d, 7200).await;
    }
    // A stale upload session with staged bytes.
    let r = o.req(Method::POST, "/v2/lab/keep/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    o.req(Method::PATCH, &loc).body(b"half".to_vec()).send().await.unwrap();
    let up_id = loc.rsplit('/').next().unwrap().to_string();
    sqlx::query("UPDATE uploads SET updated_at = updated_at - 999999999 WHERE id = $1")
        .bind(&up_id)
        .execute(s.state.store().pool())
        .await
        .unwrap();

    let report = s.state.gc.run(3600).await.unwrap();
    assert_eq!(report.blobs_removed, 2, "{report:?}");
    assert_eq!(report.uploads_removed, 1);
    assert!(!on_disk(&s, &orphan_old).await && !on_disk(&s, &dropped).await);
    assert!(on_disk(&s, &orphan_new).await, "inside the grace period");
    assert!(on_disk(&s, &sha256(b"kept layer")).await, "referenced, however old");
    assert_eq!(o.req(Method::HEAD, &format!("/v2/lab/keep/blobs/{orphan_old}")).send().await.unwrap().status(), 404);
    assert_eq!(o.req(Method::GET, &loc).send().await.unwrap().status(), 404);
    assert!(!s.state.registry.blobs().staged_ids().await.unwrap().contains(&up_id));
    let r = o.req(Method::GET, &format!("/v2/lab/keep/manifests/{m1}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // A removed blob can be pushed again.
    o.blob("lab/keep", b"dropped layer").await;
    assert!(on_disk(&s, &dropped).await);
}

async fn safe_while_pushing(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    // Old garbage for the collector to find while pushes run.
    for i in 0..20u32 {
        let d = o.blob("lab/junk", format!("junk {i}").as_bytes()).await;
        backdate_blob(&s, &d, 7200).await;
    }
    let st = s.state.clone();
    let gc = tokio::spawn(async move {
        let mut removed = 0;
        for _ in 0..40 {
            removed += st.gc.run(60).await.unwrap().blobs_removed;
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        removed
    });
    // Pushes that share blobs with each other while the collector runs.
    let mut pushers = vec![];
    for w in 0..4u32 {
        let o = o.clone();
        pushers.push(tokio::spawn(async move {
            for i in 0..10u32 {
                let cfg = format!("{{\"w\":{w},\"i\":{i}}}").into_bytes();
                let shared = format!("shared layer {}", i % 3).into_bytes();
                let c = o.blob("lab/busy", &cfg).await;
                let l = o.blob("lab/busy", &shared).await;
                let m = manifest(&c, cfg.len(), &[(&l, shared.len())], None);
                let r = o.put_manifest("lab/busy", &format!("w{w}-{i}"), &m, OCI_MANIFEST).await;
                assert_eq!(r.status(), 201, "a push failed while GC ran");
            }
        }));
    }
    for p in pushers {
        p.await.unwrap();
    }
    assert_eq!(gc.await.unwrap(), 20, "all old garbage removed, nothing else");
    // Every pushed image is whole.
    for w in 0..4 {
        for i in 0..10 {
            let r = o.req(Method::GET, &format!("/v2/lab/busy/manifests/w{w}-{i}")).send().await.unwrap();
            let m: serde_json::Value = r.json().await.unwrap();
            let l = m["layers"][0]["digest"].as_str().unwrap();
            let r = o.req(Method::GET, &format!("/v2/lab/busy/blobs/{l}")).send().await.unwrap();
            assert_eq!(sha256(&r.bytes().await.unwrap()), l);
        }
    }
    // With no grace at all a push may lose its race with the collector, but then it
    // fails cleanly: no manifest ever names a missing blob.
    let st = s.state.clone();
    let gc = tokio::spawn(async move {
        for _ in 0..30 {
            st.gc.run(0).await.unwrap();
        }
    });
    for i in 0..15u32 {
        let data = format!("racy {i}").into_bytes();
        let c = o.blob("lab/racy", b"{}").await;
        let l = o.blob("lab/racy", &data).await;
        let m = manifest(&c, 2, &[(&l, data.len())], None);
        let r = o.put_manifest("lab/racy", &format!("r{i}"), &m, OCI_MANIFEST).await;
        if r.status() != 201 {
            assert_eq!(crate::ocikit::error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
        }
    }
    gc.await.unwrap();
    let tags: serde_json::Value =
        o.req(Method::GET, "/v2/lab/racy/tags/list").send().await.unwrap().json().await.unwrap();
    for t in tags["tags"].as_array().unwrap() {
        let m: serde_json::Value = o
            .req(Method::GET, &format!("/v2/lab/racy/manifests/{}", t.as_str().unwrap()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for l in m["layers"].as_array().unwrap().iter().chain(std::iter::once(&m["config"])) {
            let d = l["digest"].as_str().unwrap();
            assert_eq!(
                o.req(Method::HEAD, &format!("/v2/lab/racy/blobs/{d}")).send().await.unwrap().status(),
                200,
                "{d}"
            );
            assert!(on_disk(&s, d).await);
        }
    }
}

crate::both_backends!(collects_only_garbage, safe_while_pushing);
