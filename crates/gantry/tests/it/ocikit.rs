//! A tiny OCI client for tests, written from the distribution spec.

use crate::harness::sha256;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Clone)]
pub struct Oci {
    pub c: reqwest::Client,
    pub base: String,
    pub auth: Option<String>,
}

impl Oci {
    pub fn new(base: &str, auth: Option<String>) -> Oci {
        Oci { c: crate::harness::http(), base: base.to_string(), auth }
    }

    /// A client authenticating with Basic user:token.
    pub fn as_user(base: &str, user: &str, token: &str) -> Oci {
        Oci::new(base, Some(crate::harness::basic(user, token)))
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        let url = if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) };
        let r = self.c.request(m, url);
        match &self.auth {
            Some(a) => r.header("authorization", a),
            None => r,
        }
    }

    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> Response {
        let d = sha256(data);
        self.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={d}"))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a blob and asserts it was created; returns its digest.
    pub async fn blob(&self, repo: &str, data: &[u8]) -> String {
        let r = self.push_blob(repo, data).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        sha256(data)
    }

    pub async fn put_manifest(&self, repo: &str, reference: &str, body: &[u8], media_type: &str) -> Response {
        self.req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// Pushes a one-layer image (config + layer + manifest) and returns the manifest
    /// digest and bytes.
    pub async fn image(&self, repo: &str, tag: &str, layer: &[u8]) -> (String, Vec<u8>) {
        let config = br#"{"architecture":"amd64","os":"linux"}"#;
        let cd = self.blob(repo, config).await;
        let ld = self.blob(repo, layer).await;
        let m = manifest(&cd, config.len(), &[(&ld, layer.len())], None);
        let r = self.put_manifest(repo, tag, &m, OCI_MANIFEST).await;
        assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().await.unwrap());
        (sha256(&m), m)
    }
}

pub fn manifest(config: &str, config_size: usize, layers: &[(&str, usize)], subject: Option<(&str, usize)>) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": layers.iter().map(|(d, s)| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": s})).collect::<Vec<_>>(),
    });
    if let Some((d, s)) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d, "size": s});
    }
    serde_json::to_vec(&m).unwrap()
}

pub async fn error_code(r: Response) -> String {
    let v: Value = r.json().await.expect("error body is JSON");
    v["errors"][0]["code"].as_str().expect("OCI error envelope").to_string()
}
