//! The OCI distribution API (`/v2`). A path is parsed into an [`Endpoint`] first, then
//! each kind of endpoint has its file: blobs, uploads, manifests, tags (and the
//! catalog), referrers, and the token endpoint. Errors are rendered once, in `error`.

mod blobs;
mod endpoint;
pub mod error;
mod manifests;
mod referrers;
mod tags;
mod token;
mod uploads;

pub use endpoint::{Endpoint, parse_endpoint, percent_decode};

use crate::blob_body::hv;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use gantry_app::App;
use gantry_domain::{Error, ErrorKind, Principal, Result};
use std::collections::HashMap;

pub fn routes() -> Router<App> {
    Router::new().route("/v2", any(v2)).route("/v2/", any(v2)).route("/v2/{*rest}", any(v2))
}

/// One `/v2` request, once its caller is known.
pub(crate) struct Req<'a> {
    pub app: &'a App,
    pub caller: Option<Principal>,
    pub method: &'a Method,
    pub query: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
}

impl Req<'_> {
    fn caller(&self) -> Option<&Principal> {
        self.caller.as_ref()
    }
}

async fn v2(State(app): State<App>, method: Method, uri: Uri, headers: HeaderMap, body: Body) -> Response {
    let rest = uri.path().strip_prefix("/v2").unwrap_or("").strip_prefix('/').unwrap_or("");
    let query: HashMap<String, String> =
        Query::<HashMap<String, String>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default();
    let mut res = match parse_endpoint(rest) {
        Ok(ep) => {
            let scope = ep.scope(method == Method::GET || method == Method::HEAD);
            let done = match ep {
                Endpoint::Token => token::token(&app, &method, uri.query().unwrap_or_default(), &headers, body).await,
                ep => handle(&app, &method, ep, &query, &headers, body).await,
            };
            match done {
                Ok(r) => r,
                Err(e) => error::error_response(&app.public_url, &e, scope),
            }
        }
        Err(e) => error::error_response(&app.public_url, &e, None),
    };
    res.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    res
}

async fn handle(
    app: &App,
    method: &Method,
    ep: Endpoint,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response> {
    let caller = app.auth.authenticate(&crate::credentials::credentials(headers)?).await?;
    let r = Req { app, caller, method, query, headers };
    match (ep, method.clone()) {
        (Endpoint::Base, Method::GET | Method::HEAD) => match r.caller {
            None => Err(Error::unauthorized("authentication required")),
            Some(_) => Ok(json(StatusCode::OK, &serde_json::json!({}), "application/json")),
        },
        (Endpoint::Catalog, Method::GET) => tags::catalog(&r).await,
        (Endpoint::Tags(name), Method::GET) => tags::list(&r, &name).await,
        (Endpoint::Manifest(name, reference), Method::GET | Method::HEAD) => {
            manifests::get(&r, &name, &reference).await
        }
        (Endpoint::Manifest(name, reference), Method::PUT) => manifests::put(&r, &name, &reference, body).await,
        (Endpoint::Manifest(name, reference), Method::DELETE) => manifests::delete(&r, &name, &reference).await,
        (Endpoint::Blob(name, digest), Method::GET | Method::HEAD) => blobs::get(&r, &name, &digest).await,
        (Endpoint::Blob(name, digest), Method::DELETE) => blobs::delete(&r, &name, &digest).await,
        (Endpoint::UploadStart(name), Method::POST) => uploads::start(&r, &name, body).await,
        (Endpoint::Upload(name, id), _) => uploads::session(&r, &name, &id, body).await,
        (Endpoint::Referrers(name, digest), Method::GET) => referrers::list(&r, &name, &digest).await,
        _ => Err(unsupported()),
    }
}

fn unsupported() -> Error {
    Error::new(ErrorKind::Unsupported, "method not supported on this endpoint")
}

fn json(status: StatusCode, v: &serde_json::Value, content_type: &str) -> Response {
    (status, [(header::CONTENT_TYPE, content_type.to_string())], v.to_string()).into_response()
}

/// An empty answer with `status` and these headers.
fn empty(status: StatusCode, headers: &[(header::HeaderName, String)]) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    for (k, v) in headers {
        r.headers_mut().insert(k.clone(), hv(v));
    }
    r
}
