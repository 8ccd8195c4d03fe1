//! Hostile clients against the real `gantry serve` and `gantry globus-local` binaries:
//! each test reproduces one of the attacks of SECURITY.md and checks that it no longer
//! works, bounded in count and time, on loopback only.

pub(super) use crate::harness::http;
pub(super) use crate::process::{GlobusProcess, Served};
pub(super) use std::time::{Duration, Instant};
pub(super) use tokio::io::{AsyncReadExt, AsyncWriteExt};
pub(super) use tokio::net::TcpStream;
pub(super) use tokio::time::timeout;

/// Signs in with a password through the login form; returns the answer's status, page and
/// `Location`.
pub(super) async fn password_sign_in(
    b: &mut crate::harness::Browser,
    url: &str,
    user: &str,
    password: &str,
    next: &str,
) -> (u16, String, Option<String>) {
    let (_, page, _) = b.get(&format!("{url}/login?next={}", gantry_domain::url::escape(next))).await;
    let csrf = crate::harness::hidden(&page, "csrf");
    let form = [("username", user), ("password", password), ("csrf", &csrf), ("next", next)];
    let (st, page, loc) = b.post(&format!("{url}/login"), &form).await;
    (st.as_u16(), page, loc)
}

/// POSTs `body` as JSON (no credentials) and returns the JSON answer.
pub(super) async fn post_json(url: &str, body: serde_json::Value) -> serde_json::Value {
    http().post(url).json(&body).send().await.unwrap().json().await.unwrap()
}

/// Pushes an image config and a 5-byte layer to `repo`; returns their digests and the
/// config's size, for manifests that reference them.
pub(super) async fn config_and_layer(o: &crate::ocikit::Oci, repo: &str) -> (String, String, usize) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    (o.blob(repo, config).await, o.blob(repo, b"layer").await, config.len())
}

/// Reads until the server closes the connection (or `limit` passes); returns what came.
pub(super) async fn until_closed(t: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
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

mod access;
mod globus;
mod slow;
mod state;
mod work;
