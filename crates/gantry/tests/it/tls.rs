//! HTTPS served by Gantry itself: the registry, the API and download URLs over TLS.

use crate::harness::{Backend, TestServer, sha256};
use reqwest::Method;
use std::path::{Path, PathBuf};

async fn openssl(args: &[&str], dir: &Path) {
    let out = tokio::process::Command::new("openssl").args(args).current_dir(dir).output().await.expect("openssl runs");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A test CA and a server certificate for 127.0.0.1 signed by it (openssl command).
/// Returns (CA certificate, server certificate, server key).
pub async fn test_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Gantry test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
        dir,
    )
    .await;
    openssl(
        &["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "leaf.csr"],
        dir,
    )
    .await;
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
            "-out",
            "cert.pem",
        ],
        dir,
    )
    .await;
    (dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem"))
}

async fn serves_https(b: Backend) {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_certificates(certs.path()).await;
    let s = TestServer::start_with(b, |c| {
        c.tls_cert_file = Some(cert.clone());
        c.tls_key_file = Some(key.clone());
    })
    .await;
    let base = s.url.replace("http://", "https://");
    assert!(s.state.public_url.starts_with("https://"));
    let tok = s.user("alice").await;
    crate::harness::init();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    let c = reqwest::Client::builder().tls_certs_only([ca]).build().unwrap();
    // The challenge names the HTTPS token endpoint.
    let r = c.get(format!("{base}/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains(&format!("realm=\"{base}/v2/token\"")));
    // Push over TLS, then fetch the download URL the API hands out.
    let data = b"served over TLS".to_vec();
    let d = sha256(&data);
    let r = c
        .request(Method::POST, format!("{base}/v2/lab/tls/blobs/uploads/?digest={d}"))
        .bearer_auth(&tok)
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let cfg = sha256(b"{}");
    c.request(Method::POST, format!("{base}/v2/lab/tls/blobs/uploads/?digest={cfg}"))
        .bearer_auth(&tok)
        .body("{}")
        .send()
        .await
        .unwrap();
    let m = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": crate::ocikit::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.gantry.dataset.config.v1+json", "digest": cfg, "size": 2},
        "artifactType": "application/vnd.gantry.dataset.v1",
        "layers": [{"mediaType": "text/plain", "digest": d, "size": data.len(), "annotations": {"org.opencontainers.image.title": "note.txt"}}]}))
    .unwrap();
    let r = c
        .put(format!("{base}/v2/lab/tls/manifests/v1"))
        .bearer_auth(&tok)
        .header("content-type", crate::ocikit::OCI_MANIFEST)
        .body(m)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value =
        c.get(format!("{base}/api/v1/images/lab/tls:v1")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    let url = v["files"][0]["download_url"].as_str().unwrap();
    assert!(url.starts_with("https://"), "{url}");
    let r = c.get(url).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    // Plain HTTP on the TLS port gets nothing served.
    let plain = crate::harness::http().get(format!("{}/v2/", s.url)).send().await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}

crate::both_backends!(serves_https);
