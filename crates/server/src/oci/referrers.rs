//! `GET /v2/<name>/referrers/<digest>`: an index of the manifests whose subject it is.

use super::{Req, json};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use gantry_domain::manifest::OCI_INDEX;
use gantry_domain::{Access, Digest, RepoName, Result};
use serde_json::{Value, json};

pub(super) async fn list(r: &Req<'_>, name: &RepoName, digest: &str) -> Result<Response> {
    let d = Digest::parse(digest)?;
    let ctx = r.app.registry.repo(r.caller(), name, Access::Read).await?;
    let filter = r.query.get("artifactType").filter(|s| !s.is_empty());
    let rows = r.app.registry.referrers(&ctx, &d, filter.map(String::as_str)).await?;
    let manifests: Vec<Value> = rows
        .iter()
        .map(|m| {
            let mut o = json!({"mediaType": m.media_type, "digest": m.digest, "size": m.size});
            if let Some(a) = &m.artifact_type {
                o["artifactType"] = a.clone().into();
            }
            if let Some(a) = m.annotations.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()) {
                o["annotations"] = a;
            }
            o
        })
        .collect();
    let idx = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
    let mut res = json(StatusCode::OK, &idx, OCI_INDEX);
    if filter.is_some() {
        res.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
    }
    Ok(res)
}
