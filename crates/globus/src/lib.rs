//! The one client for the Globus services Gantry calls: Auth (token grants,
//! revocation, introspection, dependent tokens, policies), Groups, and Transfer v0.10
//! (endpoints, files, access rules, tasks). It knows nothing of Gantry.
//!
//! Every call is retried on 5xx answers, 429 (honouring `Retry-After`), timeouts and
//! connection resets, with bounded exponential backoff. Calls that are not idempotent
//! are made safe to retry: a transfer carries its `submission_id`, and an access rule
//! that already exists is looked up instead of created twice.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::Value;
use std::time::Duration;

mod auth;
mod groups;
mod tokens;
mod transfer;

pub use auth::{Introspection, Policy};
pub use groups::Group;
pub use tokens::TokenResponse;
pub use transfer::{Bookmark, Endpoint, Event, FatalError, FileEntry, FileList, Rule, Task, TaskState};

/// How often and how long to retry.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub attempts: u32,
    pub first: Duration,
    pub max: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { attempts: 6, first: Duration::from_millis(200), max: Duration::from_secs(10) }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// Globus answered with an error.
    #[error("Globus answered {status}: {code}: {message}")]
    Api {
        status: u16,
        code: String,
        message: String,
        /// Set when the user has to sign in again or consent (a GARE).
        authorization_parameters: Option<Value>,
        required_scopes: Vec<String>,
    },
    /// Globus could not be reached (after the retries).
    #[error("cannot reach Globus: {0}")]
    Unreachable(String),
}

impl Error {
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Unreachable(_) => None,
        }
    }
    pub fn code(&self) -> &str {
        match self {
            Error::Api { code, .. } => code,
            Error::Unreachable(_) => "Unreachable",
        }
    }
    /// The user's tokens no longer do: expired, revoked, or consent is missing.
    pub fn needs_reconnect(&self) -> bool {
        match self {
            Error::Api { status, code, authorization_parameters, .. } => {
                *status == 401
                    || code == "ConsentRequired"
                    || code == "AuthenticationFailed"
                    || authorization_parameters.is_some()
            }
            Error::Unreachable(_) => false,
        }
    }
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// How a call authenticates.
#[derive(Clone, Copy)]
pub enum Cred<'a> {
    Bearer(&'a str),
    Basic(&'a str, &'a str),
    None,
}

#[derive(Clone)]
pub struct Globus {
    http: reqwest::Client,
    pub auth_url: String,
    pub transfer_url: String,
    pub groups_url: String,
    pub retry: Retry,
}

fn parse_error(status: StatusCode, body: &Value) -> Error {
    // Transfer: {code, message}; Auth: {errors: [{code, detail}], error, error_description}.
    let e0 = &body["errors"][0];
    let code = body["code"]
        .as_str()
        .or(e0["code"].as_str())
        .or(body["error"].as_str())
        .unwrap_or(status.canonical_reason().unwrap_or("Error"))
        .to_string();
    let message = body["message"]
        .as_str()
        .or(e0["detail"].as_str())
        .or(body["error_description"].as_str())
        .unwrap_or("")
        .to_string();
    let authorization_parameters = body.get("authorization_parameters").filter(|v| v.is_object()).cloned();
    let required_scopes = body["required_scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    Error::Api { status: status.as_u16(), code, message, authorization_parameters, required_scopes }
}

fn retry_after(r: &reqwest::Response) -> Option<Duration> {
    r.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

impl Globus {
    pub fn new(http: reqwest::Client, auth_url: &str, transfer_url: &str) -> Globus {
        Globus {
            http,
            auth_url: auth_url.trim_end_matches('/').into(),
            transfer_url: transfer_url.trim_end_matches('/').into(),
            groups_url: "https://groups.api.globus.org".into(),
            retry: Retry::default(),
        }
    }

    /// A client for Globus Groups at `url` only.
    pub fn for_groups(http: reqwest::Client, url: &str) -> Globus {
        Globus::new(http, url, url).with_groups_url(url)
    }

    /// The same client, asking Groups at `url`.
    pub fn with_groups_url(mut self, url: &str) -> Globus {
        self.groups_url = url.trim_end_matches('/').into();
        self
    }

    /// Sends a request built by `make`, retrying what is worth retrying.
    pub(crate) async fn send(&self, make: impl Fn() -> RequestBuilder) -> Result<Value> {
        let mut delay = self.retry.first;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let last = attempt >= self.retry.attempts;
            let wait = match make().send().await {
                Ok(r) => {
                    let status = r.status();
                    let after = retry_after(&r);
                    if status.is_success() {
                        match r.text().await {
                            Ok(text) => {
                                return Ok(if text.trim().is_empty() {
                                    Value::Null
                                } else {
                                    serde_json::from_str(&text).unwrap_or(Value::String(text))
                                });
                            }
                            // The connection broke while the answer came: like a reset.
                            Err(e) if last => return Err(Error::Unreachable(e.to_string())),
                            Err(e) => {
                                tracing::warn!(attempt, "Globus answer cut short ({e}); retrying");
                                tokio::time::sleep(delay).await;
                                delay = (delay * 2).min(self.retry.max);
                                continue;
                            }
                        }
                    }
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    let retriable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                    if !retriable || last {
                        return Err(parse_error(status, &body));
                    }
                    tracing::warn!(%status, attempt, "Globus call failed; retrying");
                    after.unwrap_or(delay).min(self.retry.max)
                }
                Err(e) => {
                    if last {
                        return Err(Error::Unreachable(e.to_string()));
                    }
                    tracing::warn!(attempt, "Globus call failed ({e}); retrying");
                    delay
                }
            };
            tokio::time::sleep(wait).await;
            delay = (delay * 2).min(self.retry.max);
        }
    }

    pub(crate) fn req(&self, m: Method, url: &str, cred: Cred<'_>) -> RequestBuilder {
        let r = self.http.request(m, url);
        match cred {
            Cred::Bearer(t) => r.bearer_auth(t),
            Cred::Basic(u, p) => r.basic_auth(u, Some(p)),
            Cred::None => r,
        }
    }

    pub(crate) async fn transfer(&self, m: Method, path: &str, token: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}/v0.10/{path}", self.transfer_url);
        self.send(|| {
            let r = self.req(m.clone(), &url, Cred::Bearer(token));
            match body {
                Some(b) => r.json(b),
                None => r,
            }
        })
        .await
    }
}

/// Percent-decodes a value (lossy for bytes that are not UTF-8).
pub fn urldecode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (b[i], b.get(i + 1).copied().and_then(hex), b.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes a query or path value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A server that fails `fail` times (with `status`, or by closing the connection when
    /// `status` is 0), then answers a task document whose id is `t{n}`.
    async fn flaky(fail: u32, status: u16) -> (String, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let app = axum::Router::new().fallback(move || {
            let c = c.clone();
            async move {
                use axum::response::IntoResponse;
                let n = c.fetch_add(1, Ordering::SeqCst) + 1;
                if n <= fail {
                    let s = axum::http::StatusCode::from_u16(status).unwrap();
                    let mut r = (s, axum::Json(json!({"code": "Busy", "message": "try later"}))).into_response();
                    if status == 429 {
                        r.headers_mut().insert("retry-after", "0".parse().unwrap());
                    }
                    return r;
                }
                axum::Json(json!({"task_id": format!("t{n}"), "status": "ACTIVE", "bytes_transferred": n}))
                    .into_response()
            }
        });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        (url, calls)
    }

    fn client(url: &str) -> Globus {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut g = Globus::new(reqwest::Client::new(), url, url);
        g.retry = Retry { attempts: 4, first: Duration::from_millis(5), max: Duration::from_millis(20) };
        g
    }

    #[tokio::test]
    async fn retries_5xx_and_429_then_succeeds() {
        for status in [500, 502, 503, 429] {
            let (url, calls) = flaky(3, status).await;
            let v = client(&url).task("t", "x").await.unwrap();
            assert_eq!((v.task_id.as_str(), v.status, v.bytes_transferred), ("t4", TaskState::Active, Some(4)));
            assert_eq!(calls.load(Ordering::SeqCst), 4);
        }
    }

    #[tokio::test]
    async fn gives_up_after_the_attempts_and_keeps_the_error() {
        let (url, calls) = flaky(10, 503).await;
        let e = client(&url).task("t", "x").await.unwrap_err();
        assert_eq!((e.status(), e.code()), (Some(503), "Busy"));
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn client_errors_are_not_retried() {
        let (url, calls) = flaky(10, 403).await;
        let e = client(&url).task("t", "x").await.unwrap_err();
        assert_eq!(e.status(), Some(403));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unreachable_is_reported() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        let e = client(&url).task("t", "x").await.unwrap_err();
        assert!(matches!(e, Error::Unreachable(_)), "{e}");
    }

    #[test]
    fn errors_are_parsed_from_both_shapes() {
        let e = parse_error(
            StatusCode::FORBIDDEN,
            &json!({"code": "ConsentRequired", "message": "m", "required_scopes": ["s"]}),
        );
        assert!(e.needs_reconnect());
        let e = parse_error(StatusCode::UNAUTHORIZED, &json!({"errors": [{"code": "UNAUTHORIZED", "detail": "d"}]}));
        assert_eq!(e.code(), "UNAUTHORIZED");
        assert!(e.needs_reconnect());
        let e = parse_error(
            StatusCode::BAD_GATEWAY,
            &json!({"code": "X", "authorization_parameters": {"session_required_policies": ["p"]}}),
        );
        assert!(e.needs_reconnect());
        assert_eq!(urlencode("/~/a b"), "%2F~%2Fa%20b");
        assert_eq!(urldecode("%2F~%2Fa%20b%zz%C3%BC"), "/~/a b%zzü");
    }

    #[tokio::test]
    async fn an_answer_that_is_not_the_document_is_an_error() {
        let app = axum::Router::new()
            .fallback(|| async { axum::Json(json!({"task_id": "t", "status": "EXPLODED", "DATA": "no list"})) });
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
        let g = client(&url);
        let e = g.task("t", "x").await.unwrap_err();
        assert!(matches!(&e, Error::Unreachable(m) if m.contains("unexpected task")), "{e}");
        let e = g.rules("t", "x").await.unwrap_err();
        assert!(matches!(&e, Error::Unreachable(m) if m.contains("access list")), "{e}");
        let e = g.refresh("c", None, "r").await.unwrap_err();
        assert!(matches!(&e, Error::Unreachable(m) if m.contains("token response")), "{e}");
    }
}
