//! The one error type of the service, rendered once into each shape Globus uses: the
//! Auth API's `{"errors": [...], "error", "error_description"}`, OAuth's
//! `{"error", "error_description"}`, Transfer's `{"code", "message", "request_id",
//! "resource"}`, and an HTML page for the browser.

use crate::store::random_uuid;
use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub enum GlobusError {
    /// Auth API endpoints (clients, identities, policies, userinfo) and Groups.
    Auth { status: StatusCode, code: String, detail: String },
    /// The OAuth token, introspection and revocation endpoints.
    OAuth { status: StatusCode, error: String, description: String },
    /// Transfer; `extra` adds keys such as `required_scopes` or `authorization_parameters`.
    Transfer { status: StatusCode, code: String, message: String, resource: String, extra: Map<String, Value> },
    /// The sign-in pages.
    Page { status: StatusCode, message: String },
}

pub type GResult<T> = Result<T, GlobusError>;

/// The short id Transfer puts in every answer: nine letters and digits, as Transfer's.
pub fn request_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 9];
    getrandom::fill(&mut bytes).expect("random source");
    bytes.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect()
}

/// The Auth API error.
pub fn auth_error(status: StatusCode, code: &str, detail: &str) -> GlobusError {
    GlobusError::Auth { status, code: code.to_string(), detail: detail.to_string() }
}

/// The OAuth error.
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> GlobusError {
    GlobusError::OAuth { status, error: error.to_string(), description: description.to_string() }
}

/// The Transfer error; `resource` is the request's path.
pub fn terr(status: StatusCode, code: &str, message: &str, resource: &str) -> GlobusError {
    GlobusError::Transfer {
        status,
        code: code.to_string(),
        message: message.to_string(),
        resource: resource.to_string(),
        extra: Map::new(),
    }
}

/// The Transfer error for a store that failed under a request.
pub fn unavailable(e: impl std::fmt::Display, resource: &str) -> GlobusError {
    terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), resource)
}

/// A Transfer error that says which consents or which sign-in the call needs.
pub fn terr_with(
    status: StatusCode,
    code: &str,
    message: &str,
    resource: &str,
    key: &str,
    value: Value,
) -> GlobusError {
    let mut e = terr(status, code, message, resource);
    if let GlobusError::Transfer { extra, .. } = &mut e {
        extra.insert(key.to_string(), value);
    }
    e
}

/// The error for a path no route serves, or a method the path does not take, in the
/// shape of the API the path belongs to.
pub fn no_route(method: &axum::http::Method, path: &str, known_path: bool) -> GlobusError {
    let (status, what) = if known_path {
        (StatusCode::METHOD_NOT_ALLOWED, format!("{method} is not allowed on {path}"))
    } else {
        (StatusCode::NOT_FOUND, format!("no resource at {path}"))
    };
    if path.starts_with("/v0.10/") {
        let code = if known_path { "ClientError.BadMethod" } else { "ClientError.NotFound" };
        terr(status, code, &what, path)
    } else if path.starts_with("/v2/oauth2/") {
        oauth_error(status, if known_path { "invalid_request" } else { "not_found" }, &what)
    } else {
        auth_error(status, if known_path { "METHOD_NOT_ALLOWED" } else { "NOT_FOUND" }, &what)
    }
}

async fn unknown_path(method: axum::http::Method, uri: axum::http::Uri) -> GlobusError {
    no_route(&method, uri.path(), false)
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> GlobusError {
    no_route(&method, uri.path(), true)
}

/// Gives `router` Globus error documents for unknown paths and wrong methods.
pub fn with_fallbacks<S: Clone + Send + Sync + 'static>(router: axum::Router<S>) -> axum::Router<S> {
    router.method_not_allowed_fallback(wrong_method).fallback(unknown_path)
}

/// A sign-in page that says what went wrong.
pub fn html_error(status: StatusCode, message: &str) -> GlobusError {
    GlobusError::Page { status, message: message.to_string() }
}

/// A page with one message.
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub title: &'a str,
    pub message: &'a str,
    pub error: bool,
}

/// Renders a page; a template that fails to render is a plain 500.
pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("template: {e}")).into_response(),
    }
}

impl IntoResponse for GlobusError {
    fn into_response(self) -> Response {
        match self {
            GlobusError::Auth { status, code, detail } => {
                let body = json!({
                    "errors": [{"status": status.as_u16().to_string(), "id": random_uuid(),
                        "code": code.to_ascii_uppercase(), "detail": detail,
                        "title": status.canonical_reason().unwrap_or("Error")}],
                    "error": code.to_ascii_lowercase(), "error_description": detail,
                });
                (status, axum::Json(body)).into_response()
            }
            GlobusError::OAuth { status, error, description } => {
                (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
            }
            GlobusError::Transfer { status, code, message, resource, extra } => {
                let mut body = json!({"code": code, "message": message, "request_id": request_id(),
                    "resource": resource});
                for (k, v) in extra {
                    body[k] = v;
                }
                (status, axum::Json(body)).into_response()
            }
            GlobusError::Page { status, message } => {
                let page = MessagePage { title: "Sign-in problem", message: &message, error: true };
                let mut r = render(&page);
                *r.status_mut() = status;
                r
            }
        }
    }
}
