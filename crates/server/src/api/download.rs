//! `GET|HEAD /download/…`: a SIF image's file, a dataset's file, a single-file
//! artifact, or otherwise the manifest itself.

use super::{ApiResult, Caller};
use crate::blob_body::{hv, serve_blob};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;
use gantry_api_types::ErrorBody;
use gantry_app::App;
use gantry_app::registry::download::{Download, parse_download};

#[utoipa::path(get, path = "/download/{reference}", tag = "images", summary = "A SIF image's file, a dataset's file, or the manifest (Range, HEAD and ETag work)", security((), ("token" = []), ("basic" = [])),
    params(("reference" = String, Path, description = "COLLECTION/NAME@sha256:…[/FILE] or COLLECTION/NAME:TAG[/FILE]")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 206, description = "Part of the file"), (status = 404, body = ErrorBody),
        (status = 416, description = "The range cannot be satisfied")))]
pub(super) async fn download(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let rest = uri.path().strip_prefix("/download/").unwrap_or("");
    let what = parse_download(&crate::oci::percent_decode(rest))?;
    match app.registry.download(caller.get(), &what).await? {
        Download::Blob { digest, size, filename } => {
            let render = crate::oci::error::envelope;
            Ok(serve_blob(&app, &digest, size, &method, &headers, Some(&filename), render).await?)
        }
        Download::Manifest { media_type, digest, content } => {
            let len = content.len();
            let mut r = Response::new(if method == Method::HEAD { Body::empty() } else { Body::from(content) });
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(&media_type).unwrap_or(hv("application/json")));
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            h.insert(header::ETAG, hv(&format!("\"{digest}\"")));
            Ok(r)
        }
    }
}
