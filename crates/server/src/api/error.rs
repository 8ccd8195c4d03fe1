//! Errors of `/api/v1` and `/download`: `{"error": {"code", "message"}}`. A Globus Auth
//! requirements error also gets the top-level `code: AuthorizationRequired` and
//! `authorization_parameters` that globus-sdk and the Globus CLI read.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gantry_domain::{Error, ErrorKind};
use serde_json::json;

pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == ErrorKind::Internal {
            tracing::error!("internal error: {}", e.message);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({"error": {"code": e.kind.code(), "message": e.public_message()}});
        if let Some(p) = &e.authorization_parameters {
            body["code"] = "AuthorizationRequired".into();
            body["message"] = e.public_message().into();
            body["authorization_parameters"] = p.clone();
        }
        let mut r = (status, Json(body)).into_response();
        if e.kind == ErrorKind::Unauthorized {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gantry\""));
        }
        // A browser that opened this URL gets a page instead (see `web::error::pages`).
        r.extensions_mut().insert(crate::web::error::PageError { error: e, page: false });
        r
    }
}

pub type ApiResult<T> = std::result::Result<T, ApiError>;

/// The answer for an error, as a plain function (for the ranged-body helpers).
pub fn render(e: &Error) -> Response {
    ApiError(e.clone()).into_response()
}
