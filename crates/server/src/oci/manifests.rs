//! `GET|HEAD|PUT|DELETE /v2/<name>/manifests/<reference>`.

use super::{Req, empty};
use crate::blob_body::hv;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use gantry_domain::{Access, Error, ErrorKind, RefTarget, RepoName, Result};

fn manifest_unknown(e: Error) -> Error {
    Error::new(ErrorKind::ManifestUnknown, e.message)
}

pub(super) async fn get(r: &Req<'_>, name: &RepoName, reference: &str) -> Result<Response> {
    let target = RefTarget::parse(reference).map_err(manifest_unknown)?;
    let ctx = r.app.registry.repo(r.caller(), name, Access::Read).await?;
    let row = r.app.registry.resolve(&ctx, &target).await?;
    let content = r.app.registry.manifest_bytes(&row).await?;
    let len = content.len();
    let mut res =
        Response::new(if *r.method == axum::http::Method::HEAD { Body::empty() } else { Body::from(content) });
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, hv(&row.media_type));
    h.insert(header::CONTENT_LENGTH, hv(&len.to_string()));
    h.insert("docker-content-digest", hv(&row.digest));
    h.insert(header::ETAG, hv(&format!("\"{}\"", row.digest)));
    Ok(res)
}

pub(super) async fn put(r: &Req<'_>, name: &RepoName, reference: &str, body: Body) -> Result<Response> {
    let target = RefTarget::parse(reference)?;
    let ctx = r.app.registry.repo_for_push(r.caller(), name).await?;
    let caller = r.caller().ok_or_else(|| Error::unauthorized("authentication required to push"))?;
    let bytes = read_limited(body, r.app.registry.max_manifest_bytes()).await?;
    let ct = r.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let row = r.app.registry.put_manifest(caller, &ctx, &target, bytes, ct).await?;
    let mut headers = vec![
        (header::LOCATION, format!("/v2/{name}/manifests/{}", row.digest)),
        (header::HeaderName::from_static("docker-content-digest"), row.digest.clone()),
        (header::CONTENT_LENGTH, "0".into()),
    ];
    if let Some(s) = &row.subject {
        headers.push((header::HeaderName::from_static("oci-subject"), s.clone()));
    }
    Ok(empty(StatusCode::CREATED, &headers))
}

pub(super) async fn delete(r: &Req<'_>, name: &RepoName, reference: &str) -> Result<Response> {
    let target = RefTarget::parse(reference).map_err(manifest_unknown)?;
    let ctx = r.app.registry.repo(r.caller(), name, Access::Manage).await?;
    r.app.registry.delete_ref(&ctx, &target).await?;
    Ok(empty(StatusCode::ACCEPTED, &[]))
}

/// The whole body, refused past `limit` bytes.
pub(super) async fn read_limited(body: Body, limit: usize) -> Result<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_big = std::error::Error::source(&e).is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_big {
            Error::new(ErrorKind::TooLarge, format!("manifest is larger than {limit} bytes"))
        } else {
            Error::invalid(format!("could not read request body: {e}"))
        }
    })
}
