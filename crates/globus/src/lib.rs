//! A typed client for the Globus services Gantry calls: Auth (token grants and
//! revocation) and Transfer v0.10 (endpoints, files, access rules, tasks). It knows
//! nothing of Gantry.
//!
//! Every call is retried on 5xx answers, 429 (honouring `Retry-After`), timeouts and
//! connection resets, with bounded exponential backoff. Calls that are not idempotent
//! are made safe to retry: a transfer carries its `submission_id`, and an access rule
//! that already exists is looked up instead of created twice.

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;

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
            retry: Retry::default(),
        }
    }

    /// Sends a request built by `make`, retrying what is worth retrying.
    async fn send(&self, make: impl Fn() -> RequestBuilder) -> Result<Value> {
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

    fn req(&self, m: Method, url: &str, cred: Cred<'_>) -> RequestBuilder {
        let r = self.http.request(m, url);
        match cred {
            Cred::Bearer(t) => r.bearer_auth(t),
            Cred::Basic(u, p) => r.basic_auth(u, Some(p)),
            Cred::None => r,
        }
    }

    async fn transfer(&self, m: Method, path: &str, token: &str, body: Option<&Value>) -> Result<Value> {
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

    // ---------- Auth ----------

    /// A token grant at `/v2/oauth2/token` (refresh, client credentials, …).
    pub async fn token(&self, cred: Cred<'_>, form: &[(&str, &str)]) -> Result<Value> {
        let url = format!("{}/v2/oauth2/token", self.auth_url);
        self.send(|| self.req(Method::POST, &url, cred).form(form)).await
    }

    /// Trades a refresh token for fresh tokens.
    pub async fn refresh(&self, client_id: &str, secret: Option<&str>, refresh_token: &str) -> Result<Value> {
        match secret {
            Some(s) => {
                self.token(
                    Cred::Basic(client_id, s),
                    &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
                )
                .await
            }
            None => {
                self.token(
                    Cred::None,
                    &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)],
                )
                .await
            }
        }
    }

    /// Revokes a token (access or refresh).
    pub async fn revoke(&self, client_id: &str, secret: Option<&str>, token: &str) -> Result<()> {
        let url = format!("{}/v2/oauth2/token/revoke", self.auth_url);
        let cred = secret.map(|s| Cred::Basic(client_id, s)).unwrap_or(Cred::None);
        self.send(|| self.req(Method::POST, &url, cred).form(&[("token", token), ("client_id", client_id)])).await?;
        Ok(())
    }

    /// Tokens of a confidential client itself.
    pub async fn client_credentials(&self, client_id: &str, secret: &str, scope: &str) -> Result<Value> {
        self.token(Cred::Basic(client_id, secret), &[("grant_type", "client_credentials"), ("scope", scope)]).await
    }

    // ---------- Transfer ----------

    /// Endpoint search: `filter_scope` is one of Globus's scopes (`my-endpoints`,
    /// `shared-with-me`, `recently-used`, `all`, …).
    pub async fn endpoint_search(
        &self,
        token: &str,
        text: Option<&str>,
        scope: Option<&str>,
        limit: u32,
    ) -> Result<Value> {
        let mut q = vec![("limit".to_string(), limit.to_string())];
        if let Some(t) = text.filter(|t| !t.is_empty()) {
            q.push(("filter_fulltext".into(), t.into()));
        }
        if let Some(s) = scope {
            q.push(("filter_scope".into(), s.into()));
        }
        let qs = q.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
        self.transfer(Method::GET, &format!("endpoint_search?{qs}"), token, None).await
    }

    pub async fn endpoint(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("endpoint/{}", urlencode(id)), token, None).await
    }

    pub async fn ls(&self, token: &str, endpoint: &str, path: &str) -> Result<Value> {
        self.transfer(
            Method::GET,
            &format!("operation/endpoint/{}/ls?path={}", urlencode(endpoint), urlencode(path)),
            token,
            None,
        )
        .await
    }

    pub async fn mkdir(&self, token: &str, endpoint: &str, path: &str) -> Result<Value> {
        let body = json!({"DATA_TYPE": "mkdir", "path": path});
        self.transfer(Method::POST, &format!("operation/endpoint/{}/mkdir", urlencode(endpoint)), token, Some(&body))
            .await
    }

    pub async fn submission_id(&self, token: &str) -> Result<String> {
        let v = self.transfer(Method::GET, "submission_id", token, None).await?;
        v["value"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::Unreachable("no submission id in the answer".into()))
    }

    /// Submits a transfer document (which must carry its `submission_id`); a resubmission
    /// of the same id answers with the task that id created.
    pub async fn submit_transfer(&self, token: &str, doc: &Value) -> Result<String> {
        let v = self.transfer(Method::POST, "transfer", token, Some(doc)).await?;
        v["task_id"].as_str().map(str::to_string).ok_or_else(|| Error::Unreachable("no task id in the answer".into()))
    }

    pub async fn task(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("task/{}", urlencode(id)), token, None).await
    }

    pub async fn task_events(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::GET, &format!("task/{}/event_list", urlencode(id)), token, None).await
    }

    pub async fn cancel_task(&self, token: &str, id: &str) -> Result<Value> {
        self.transfer(Method::POST, &format!("task/{}/cancel", urlencode(id)), token, None).await
    }

    /// Access rules of an endpoint.
    pub async fn rules(&self, token: &str, endpoint: &str) -> Result<Vec<Value>> {
        let v =
            self.transfer(Method::GET, &format!("endpoint/{}/access_list", urlencode(endpoint)), token, None).await?;
        Ok(v["DATA"].as_array().cloned().unwrap_or_default())
    }

    /// Grants `permissions` on `path` to an identity; returns the rule id (also when an
    /// identical rule existed already, e.g. from a retried call).
    pub async fn add_identity_rule(
        &self,
        token: &str,
        endpoint: &str,
        identity: &str,
        path: &str,
        permissions: &str,
    ) -> Result<String> {
        let body = json!({"DATA_TYPE": "access", "principal_type": "identity", "principal": identity,
            "path": path, "permissions": permissions});
        let url = format!("endpoint/{}/access", urlencode(endpoint));
        match self.transfer(Method::POST, &url, token, Some(&body)).await {
            Ok(v) => v["access_id"]
                .as_str()
                .or(v["id"].as_str())
                .map(str::to_string)
                .or_else(|| v["access_id"].as_i64().map(|n| n.to_string()))
                .ok_or_else(|| Error::Unreachable("no rule id in the answer".into())),
            Err(e) if e.status() == Some(409) => {
                let rules = self.rules(token, endpoint).await?;
                rules
                    .iter()
                    .find(|r| r["principal"] == identity && r["path"] == path)
                    .and_then(|r| {
                        r["id"].as_str().map(str::to_string).or_else(|| r["id"].as_i64().map(|n| n.to_string()))
                    })
                    .ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Removes a rule; one that is gone already counts as removed.
    pub async fn delete_rule(&self, token: &str, endpoint: &str, rule: &str) -> Result<()> {
        let url = format!("endpoint/{}/access/{}", urlencode(endpoint), urlencode(rule));
        match self.transfer(Method::DELETE, &url, token, None).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The token documents of an Auth token response: the top-level one, then `other_tokens`.
pub fn tokens_of(v: &Value) -> impl Iterator<Item = &Value> {
    std::iter::once(v).chain(v["other_tokens"].as_array().into_iter().flatten())
}

/// The token for resource server `rs` in a token response.
pub fn token_for<'a>(v: &'a Value, rs: &str) -> Option<&'a Value> {
    tokens_of(v).find(|t| t["resource_server"] == rs)
}

/// Every refresh and access token of a token response (to revoke them all).
pub fn secrets_of(v: &Value) -> Vec<&str> {
    tokens_of(v).flat_map(|t| ["refresh_token", "access_token"].map(|k| t[k].as_str())).flatten().collect()
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
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A server that fails `fail` times (with `status`, or by closing the connection when
    /// `status` is 0), then answers `{"ok": n}`.
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
                axum::Json(json!({"ok": n})).into_response()
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
            assert_eq!(v["ok"], 4, "{status}");
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
        let r = json!({"resource_server": "auth.globus.org", "access_token": "a1", "refresh_token": "r1",
            "other_tokens": [{"resource_server": "transfer.api.globus.org", "access_token": "a2"}]});
        assert_eq!(token_for(&r, "transfer.api.globus.org").unwrap()["access_token"], "a2");
        assert!(token_for(&r, "groups.api.globus.org").is_none());
        assert_eq!(secrets_of(&r), ["r1", "a1", "a2"]);
    }
}
