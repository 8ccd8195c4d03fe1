//! Hostile clients against a real server: each test reproduces an attack and checks that
//! it no longer works, bounded in count and time, on loopback only.

pub(super) use crate::harness::{Backend, TestServer, http};
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
