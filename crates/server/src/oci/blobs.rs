//! `GET|HEAD|DELETE /v2/<name>/blobs/<digest>`.

use super::{Req, empty};
use axum::http::StatusCode;
use axum::response::Response;
use gantry_domain::{Access, Digest, RepoName, Result};

pub(super) async fn get(r: &Req<'_>, name: &RepoName, digest: &str) -> Result<Response> {
    let d = Digest::parse(digest)?;
    let ctx = r.app.registry.repo(r.caller(), name, Access::Read).await?;
    let size = r.app.registry.blob_size(&ctx, &d).await?;
    crate::blob_body::serve_blob(r.app, &d, size, r.method, r.headers, None, super::error::envelope).await
}

pub(super) async fn delete(r: &Req<'_>, name: &RepoName, digest: &str) -> Result<Response> {
    let d = Digest::parse(digest)?;
    let ctx = r.app.registry.repo(r.caller(), name, Access::Manage).await?;
    r.app.registry.unlink_blob(&ctx, &d).await?;
    Ok(empty(StatusCode::ACCEPTED, &[]))
}
