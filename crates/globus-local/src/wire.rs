//! Request bodies parsed into typed documents, and the small result documents Transfer
//! answers with. A body that does not parse is a 400 in the error shape of the API it
//! was sent to, naming what is wrong; nothing reads a missing field as "".

use crate::error::{GResult, GlobusError, auth_error, html_error, oauth_error, terr};
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Form, FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A JSON body of a Transfer call; a bad one is a `ClientError.BadRequest`.
pub struct TransferJson<T>(pub T);

/// A JSON body of an Auth API call; a bad one is a `BAD_REQUEST` Auth error.
pub struct AuthJson<T>(pub T);

/// A form of the OAuth endpoints; a bad one is `invalid_request`.
pub struct OAuthForm<T>(pub T);

fn json_problem(e: &JsonRejection) -> String {
    match e {
        JsonRejection::MissingJsonContentType(_) => "the body must be JSON (Content-Type: application/json)".into(),
        other => other.body_text(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for TransferJson<T> {
    type Rejection = GlobusError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GlobusError> {
        let resource = req.uri().path().to_string();
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", &json_problem(&e), &resource)),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for AuthJson<T> {
    type Rejection = GlobusError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GlobusError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(e) => Err(auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &json_problem(&e))),
        }
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OAuthForm<T> {
    type Rejection = GlobusError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GlobusError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(Self(v)),
            Err(e) => {
                let why = match e {
                    FormRejection::InvalidFormContentType(_) => {
                        "the body must be a form (application/x-www-form-urlencoded)".to_string()
                    }
                    other => other.body_text(),
                };
                Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &why))
            }
        }
    }
}

/// A form of the sign-in pages; a bad one is an error page.
pub struct PageForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for PageForm<T> {
    type Rejection = GlobusError;

    async fn from_request(req: Request, state: &S) -> Result<Self, GlobusError> {
        match Form::<T>::from_request(req, state).await {
            Ok(Form(v)) => Ok(Self(v)),
            Err(_) => {
                Err(html_error(StatusCode::BAD_REQUEST, "This form is incomplete; start again from the application."))
            }
        }
    }
}

pub use crate::error::request_id;

/// `{"DATA_TYPE": "result", "code", "message", "request_id", "resource"}`.
pub fn result(code: &str, message: &str, resource: &str) -> Value {
    json!({"DATA_TYPE": "result", "code": code, "message": message, "request_id": request_id(),
        "resource": resource})
}

/// `offset` and `limit` of a listing; anything but a number is refused.
pub fn paging(q: &HashMap<String, String>, default: usize, max: usize, res: &str) -> GResult<(usize, usize)> {
    let number = |key: &str, default: usize| match q.get(key) {
        None => Ok(default),
        Some(v) => v.parse::<usize>().map_err(|_| {
            terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", &format!("{key} must be a whole number"), res)
        }),
    };
    Ok((number("offset", 0)?, number("limit", default)?.min(max)))
}

/// One page of a listing: `{"DATA_TYPE", "length", "limit", "offset", "total", "DATA"}`.
pub fn list_doc(data_type: &str, page: Vec<Value>, offset: usize, limit: usize, total: usize) -> Value {
    json!({"DATA_TYPE": data_type, "length": page.len(), "limit": limit, "offset": offset, "total": total,
        "DATA": page})
}

/// For an optional field that `null` clears: tells `null` (`Some(None)`) from a field
/// not sent (`None`). Use with `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(d).map(Some)
}
