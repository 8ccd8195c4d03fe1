//! The Gantry HTTP client used by the `gantry` CLI: credentials, resumable pushes and
//! pulls over the OCI API, and the REST API.

pub mod config;
pub mod experiments;
pub mod login;
pub mod pull;
pub mod push;

use anyhow::{Context, anyhow};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use std::io::IsTerminal;

pub use config::Credentials;

/// A client for one Gantry server.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    pub base: String,
    token: Option<String>,
    /// Show progress bars (only on a terminal).
    pub progress: bool,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Client> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("server URL {base:?} must start with https:// (or http:// for a local server)");
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("gantry/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Client { http, base, token, progress: std::io::stderr().is_terminal() })
    }

    pub fn req(&self, m: Method, path: &str) -> RequestBuilder {
        let r = self.http.request(m, format!("{}{}", self.base, path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends and turns error statuses into messages that say what to do.
    pub async fn send(&self, r: RequestBuilder, what: &str) -> anyhow::Result<Response> {
        let res = r.send().await.map_err(|e| anyhow!("cannot reach {}: {e}; is the server running?", self.base))?;
        if res.status().is_success() {
            return Ok(res);
        }
        Err(self.error_of(res, what).await)
    }

    pub async fn error_of(&self, res: Response, what: &str) -> anyhow::Error {
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let msg = body["error"]["message"]
            .as_str()
            .or_else(|| body["errors"][0]["message"].as_str())
            .unwrap_or("")
            .to_string();
        match status {
            StatusCode::UNAUTHORIZED if self.token.is_none() => {
                anyhow!("{what}: you are not logged in; run `gantry login {}` (or set GANTRY_TOKEN)", self.base)
            }
            StatusCode::UNAUTHORIZED => {
                anyhow!(
                    "{what}: the server refused your token ({msg}); create a new one and run `gantry login {}`",
                    self.base
                )
            }
            StatusCode::NOT_FOUND => anyhow!("{what}: not found, or you may not read it ({msg})"),
            StatusCode::FORBIDDEN => {
                anyhow!("{what}: not allowed ({msg}); ask an owner of the collection for a role")
            }
            _ => anyhow!("{what}: server answered {status}: {msg}"),
        }
    }

    pub async fn get_json(&self, path: &str, what: &str) -> anyhow::Result<Value> {
        self.get(path, what).await
    }

    /// GETs one of the API's shapes (`gantry-api-types`).
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str, what: &str) -> anyhow::Result<T> {
        let r = self.send(self.req(Method::GET, path), what).await?;
        r.json().await.with_context(|| format!("{what}: unexpected answer from the server"))
    }

    pub fn bar(&self, len: u64, msg: &str) -> ProgressBar {
        if !self.progress {
            return ProgressBar::hidden();
        }
        let pb = ProgressBar::new(len);
        pb.set_style(
            ProgressStyle::with_template("{msg:20!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                .unwrap()
                .progress_chars("=> "),
        );
        pb.set_message(msg.to_string());
        pb
    }
}

/// `gantry tag SRC DST`: points DST at SRC's manifest. Across repositories the blobs
/// are mounted first (the server checks the caller may read SRC).
pub async fn tag(c: &Client, src: &gantry_domain::ImageRef, dst: &gantry_domain::ImageRef) -> anyhow::Result<String> {
    let (body, mt, digest) = pull::manifest(c, src).await?;
    if src.repo != dst.repo {
        let m = gantry_domain::manifest::Manifest::parse(&body, Some(&mt)).map_err(|e| anyhow!("{}", e.message))?;
        if m.is_index() {
            anyhow::bail!("tagging an index into another repository is not supported; copy it with skopeo");
        }
        for d in m.blobs() {
            let r = self_mount(c, dst.repo.as_str(), d.as_str(), src.repo.as_str()).await?;
            if !r {
                anyhow::bail!("could not mount blob {d} from {} into {}", src.repo, dst.repo);
            }
        }
    }
    let reference = dst.target.to_string();
    let r =
        c.req(Method::PUT, &format!("/v2/{}/manifests/{reference}", dst.repo)).header("content-type", mt).body(body);
    c.send(r, "tag").await?;
    Ok(digest)
}

async fn self_mount(c: &Client, repo: &str, digest: &str, from: &str) -> anyhow::Result<bool> {
    let r = c
        .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"))
        .send()
        .await
        .map_err(|e| anyhow!("cannot reach {}: {e}", c.base))?;
    match r.status() {
        StatusCode::CREATED => Ok(true),
        StatusCode::ACCEPTED => {
            // No mount: drop the session the server opened instead.
            if let Some(l) = r.headers().get("location").and_then(|v| v.to_str().ok()) {
                let _ = c.req(Method::DELETE, l).send().await;
            }
            Ok(false)
        }
        _ => Err(c.error_of(r, "mount").await),
    }
}

pub fn human_size(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 { format!("{n} B") } else { format!("{v:.1} {}", U[i]) }
}
