//! `GET /v2/<name>/tags/list` and `GET /v2/_catalog`, paginated with `n` and `last`.

use super::{Req, json};
use crate::blob_body::hv;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use gantry_domain::{Access, Error, ErrorKind, RepoName, Result};
use std::collections::HashMap;

/// Parses `n` (page size) and `last` for paginated lists.
fn paging(q: &HashMap<String, String>, default: i64) -> Result<(i64, String)> {
    let n = match q.get("n") {
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::new(ErrorKind::Invalid, format!("invalid page size n={v:?}")))?,
        None => default,
    };
    Ok((n.min(10_000), q.get("last").cloned().unwrap_or_default()))
}

fn link_next(path: &str, n: i64, last: &str) -> HeaderValue {
    hv(&format!("<{path}?n={n}&last={last}>; rel=\"next\""))
}

pub(super) async fn catalog(r: &Req<'_>) -> Result<Response> {
    let (n, last) = paging(r.query, 100)?;
    let names = r.app.registry.catalog(r.caller(), &last, n).await?;
    let mut res = json(StatusCode::OK, &serde_json::json!({ "repositories": names }), "application/json");
    if let Some(l) = names.last().filter(|_| n > 0 && names.len() as i64 == n) {
        res.headers_mut().insert(header::LINK, link_next("/v2/_catalog", n, l));
    }
    Ok(res)
}

pub(super) async fn list(r: &Req<'_>, name: &RepoName) -> Result<Response> {
    let ctx = r.app.registry.repo(r.caller(), name, Access::Read).await?;
    let (n, last) = paging(r.query, 10_000)?;
    let tags = r.app.registry.tag_names(&ctx, &last, n).await?;
    let mut res = json(StatusCode::OK, &serde_json::json!({ "name": name.as_str(), "tags": tags }), "application/json");
    if let Some(l) = tags.last().filter(|_| r.query.contains_key("n") && n > 0 && tags.len() as i64 == n) {
        res.headers_mut().insert(header::LINK, link_next(&format!("/v2/{name}/tags/list"), n, l));
    }
    Ok(res)
}
