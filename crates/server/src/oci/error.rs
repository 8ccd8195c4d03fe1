//! The OCI error envelope: `{"errors": [{"code", "message", "detail"}]}`; a 401 carries
//! the login challenge. Globus Auth requirements errors also get the top-level keys
//! Globus clients read.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_domain::{Error, ErrorKind};

/// The envelope alone (no challenge).
pub fn envelope(e: &Error) -> Response {
    if e.kind == ErrorKind::Internal {
        tracing::error!("internal error: {}", e.message);
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body =
        serde_json::json!({"errors": [{"code": e.kind.code(), "message": e.public_message(), "detail": {}}]});
    if let Some(p) = &e.authorization_parameters {
        body["code"] = "AuthorizationRequired".into();
        body["authorization_parameters"] = p.clone();
    }
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

/// The envelope, with `WWW-Authenticate` naming the token endpoint (and the scope to
/// ask for) when authentication is needed.
pub fn error_response(public_url: &str, e: &Error, scope: Option<String>) -> Response {
    let mut res = envelope(e);
    if matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::InsufficientScope) {
        let mut c = format!("Bearer realm=\"{public_url}/v2/token\",service=\"gantry\"");
        if let Some(s) = scope {
            c.push_str(&format!(",scope=\"{s}\""));
        }
        if e.kind == ErrorKind::InsufficientScope {
            c.push_str(",error=\"insufficient_scope\"");
        }
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    res
}
