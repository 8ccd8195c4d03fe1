//! `POST /v2/<name>/blobs/uploads/` (mount, monolithic or a new session) and
//! `GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id>`.

use super::{Req, empty, unsupported};
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use gantry_app::registry::uploads::{Chunk, Started};
use gantry_domain::{Digest, Error, ErrorKind, RepoName, Result};

fn upload_range(size: i64) -> String {
    if size <= 0 { "0-0".into() } else { format!("0-{}", size - 1) }
}

fn accepted(status: StatusCode, name: &RepoName, up_id: &str, size: i64) -> Response {
    empty(
        status,
        &[
            (header::LOCATION, format!("/v2/{name}/blobs/uploads/{up_id}")),
            (header::RANGE, upload_range(size)),
            (header::HeaderName::from_static("docker-upload-uuid"), up_id.to_string()),
            (header::CONTENT_LENGTH, "0".into()),
        ],
    )
}

fn created(name: &RepoName, d: &Digest) -> Response {
    empty(
        StatusCode::CREATED,
        &[
            (header::LOCATION, format!("/v2/{name}/blobs/{d}")),
            (header::HeaderName::from_static("docker-content-digest"), d.to_string()),
            (header::CONTENT_LENGTH, "0".into()),
        ],
    )
}

fn has_body(headers: &HeaderMap) -> bool {
    match content_length(headers) {
        Some(n) => n > 0,
        None => headers.contains_key(header::TRANSFER_ENCODING),
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok())
}

/// A chunk's `Content-Range: <start>-<end>` (with or without a `bytes ` prefix) and length.
fn chunk(headers: &HeaderMap) -> Result<Chunk> {
    let length = content_length(headers);
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(Chunk { range: None, length });
    };
    let bad = || Error::new(ErrorKind::RangeInvalid, "malformed Content-Range");
    let s = v.to_str().unwrap_or("").trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let s = s.split('/').next().unwrap_or("");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if b < a {
        return Err(Error::new(ErrorKind::RangeInvalid, "Content-Range ends before it starts"));
    }
    Ok(Chunk { range: Some((a, b)), length })
}

pub(super) async fn start(r: &Req<'_>, name: &RepoName, body: Body) -> Result<Response> {
    let mount = match r.query.get("mount") {
        Some(m) => Some((Digest::parse(m)?, r.query.get("from").and_then(|f| RepoName::parse(f).ok()))),
        None => None,
    };
    let digest = r.query.get("digest").map(|d| Digest::parse(d)).transpose()?;
    let body =
        if digest.is_some() || has_body(r.headers) { Some((chunk(r.headers)?, body.into_data_stream())) } else { None };
    let mount = mount.as_ref().map(|(d, from)| (d, from.as_ref()));
    match r.app.registry.start_upload(r.caller(), name, mount, digest.as_ref(), body).await? {
        Started::Done(d) => Ok(created(name, &d)),
        Started::Session { id, size } => Ok(accepted(StatusCode::ACCEPTED, name, &id, size)),
    }
}

pub(super) async fn session(r: &Req<'_>, name: &RepoName, id: &str, body: Body) -> Result<Response> {
    let (_, up) = r.app.registry.upload(r.caller(), name, id).await?;
    let registry = &r.app.registry;
    match *r.method {
        Method::GET => Ok(accepted(StatusCode::NO_CONTENT, name, &up.id, up.size)),
        Method::PATCH => {
            let size = registry.append(&up, chunk(r.headers)?, body.into_data_stream()).await?;
            Ok(accepted(StatusCode::ACCEPTED, name, &up.id, size))
        }
        Method::PUT => {
            let d = Digest::parse(r.query.get("digest").map(String::as_str).unwrap_or(""))?;
            registry.finish_upload(&up, chunk(r.headers)?, body.into_data_stream(), &d).await?;
            Ok(created(name, &d))
        }
        Method::DELETE => {
            registry.cancel_upload(&up).await?;
            Ok(empty(StatusCode::NO_CONTENT, &[]))
        }
        _ => Err(unsupported()),
    }
}
