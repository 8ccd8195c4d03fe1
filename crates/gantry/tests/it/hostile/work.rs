//! Bounded work per request: SIF files made to be read many times over, and bursts of
//! password checks.

use super::*;

/// A SIF file whose 4096 definition-file descriptors all point at the same 256 KiB (about
/// 2.6 MB in all): a reader that reads every descriptor allocates 1 GiB for it.
fn overlapping_sif() -> Vec<u8> {
    const N: usize = 4096;
    const TEXT: usize = 256 * 1024;
    const DESC_START: usize = 4096;
    const DESC_LEN: usize = 585;
    let data_at = DESC_START + N * DESC_LEN;
    let mut f = vec![0u8; data_at + TEXT];
    let put = |f: &mut Vec<u8>, at: usize, v: i64| f[at..at + 8].copy_from_slice(&v.to_le_bytes());
    f[..32].copy_from_slice(b"#!/usr/bin/env run-singularity\n\0");
    f[32..42].copy_from_slice(b"SIF_MAGIC\0");
    f[42..45].copy_from_slice(b"01\0");
    f[45..48].copy_from_slice(b"00\0");
    put(&mut f, 64, 1_700_000_000);
    put(&mut f, 88, N as i64);
    put(&mut f, 96, DESC_START as i64);
    put(&mut f, 104, (N * DESC_LEN) as i64);
    put(&mut f, 112, data_at as i64);
    put(&mut f, 120, TEXT as i64);
    for i in 0..N {
        let b = DESC_START + i * DESC_LEN;
        f[b..b + 4].copy_from_slice(&0x4001i32.to_le_bytes()); // a definition file
        f[b + 4] = 1; // in use
        f[b + 5..b + 9].copy_from_slice(&(i as u32 + 1).to_le_bytes());
        put(&mut f, b + 17, data_at as i64);
        put(&mut f, b + 25, TEXT as i64);
    }
    let text = b"Bootstrap: docker\n".repeat(TEXT / 18 + 1);
    f[data_at..].copy_from_slice(&text[..TEXT]);
    f
}

/// Point 3, SIF amplification: four manifests naming the crafted SIF, put at once, are
/// read within a bounded amount of memory (it was 4 GiB), and the image still shows its
/// definition file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_sif_objects_are_read_once() {
    use crate::ocikit::Oci;
    let s = Served::start(&[]).await;
    let tok = s.user("alice").await;
    let o = Oci::as_user(&s.url, "alice", &tok);
    let sif = overlapping_sif();
    let (cd, ld) = (o.blob("alice/sif", b"{}").await, o.blob("alice/sif", &sif).await);
    let before = s.peak_rss_mib();
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.sylabs.sif.config.v1+json", "digest": cd, "size": 2},
        "layers": [{"mediaType": "application/vnd.sylabs.sif.layer.v1.sif", "digest": ld, "size": sif.len()}]});
    let body = serde_json::to_vec(&m).unwrap();
    let puts = (0..4).map(|i| {
        let (o, body) = (o.clone(), body.clone());
        async move { o.put_manifest("alice/sif", &format!("t{i}"), &body, crate::ocikit::OCI_MANIFEST).await.status() }
    });
    let codes = timeout(Duration::from_secs(60), futures::future::join_all(puts)).await.expect("the puts end");
    assert!(codes.iter().all(|c| c.as_u16() == 201), "{codes:?}");
    let peak = s.peak_rss_mib();
    assert!(peak < before + 200, "peak RSS went from {before} to {peak} MiB");
    let v = crate::harness::json_of(&format!("{}/api/v1/images/alice/sif:t0", s.url), Some(&tok)).await;
    let def = v["definition"].as_str().unwrap_or_default();
    assert!(def.starts_with("Bootstrap: docker"), "{v}");
    // Free-text search reads the definition file (its first 16 KiB) in the database.
    let found = crate::harness::json_of(&format!("{}/api/v1/search?q=bootstrap:+docker", s.url), Some(&tok)).await;
    assert_eq!(found["images"].as_array().map(|a| a.len()), Some(4), "{found}");
}

/// Point 5, password hashing: a burst of wrong passwords for many accounts, all arriving
/// at once, is hashed on the bounded blocking pool, so a request that needs no hash is
/// answered long before the burst is through. (That the hashes never run on an async
/// worker is checked exactly by the unit tests of `app/src/identity/passwords.rs`; the
/// latencies are measured by `bench/hostile.sh`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_bad_passwords_does_not_hold_the_workers() {
    use crate::harness::{Browser, hidden};
    let s = Served::start(&[]).await;
    // Every guesser has its sign-in form first, so that the guesses all arrive at once.
    let mut guessers = vec![];
    for i in 0..32 {
        let mut b = Browser::new();
        let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
        guessers.push((b, format!("user{i}"), hidden(&page, "csrf")));
    }
    let started = Instant::now();
    let burst: Vec<_> = guessers
        .into_iter()
        .map(|(mut b, user, csrf)| {
            let url = format!("{}/login", s.url);
            tokio::spawn(async move {
                let form =
                    [("username", user.as_str()), ("password", "not the password"), ("csrf", &csrf), ("next", "/")];
                b.post(&url, &form).await.0.as_u16()
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let asked = Instant::now();
    let r = timeout(Duration::from_secs(30), http().get(format!("{}/v2/", s.url)).send()).await.unwrap().unwrap();
    let waited = asked.elapsed();
    assert_eq!(r.status(), 401);
    for st in futures::future::join_all(burst).await {
        assert_eq!(st.unwrap(), 401, "a wrong password is refused");
    }
    let burst_took = started.elapsed();
    assert!(waited * 4 < burst_took, "an unrelated request waited {waited:?} while the burst took {burst_took:?}");
}
