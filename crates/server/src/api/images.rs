//! `/api/v1/search`, `/api/v1/collections/{name}/images`, `/api/v1/repositories/…` and
//! `/api/v1/images/…` (detail, and `gantry rm`).

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gantry_api_types::{ImageDetail, ImageList, RepositoryInfo};
use gantry_app::App;
use gantry_app::registry::images::Search;
use gantry_domain::{Access, CollectionName, ImageRef, RepoName};
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `key=value` (or just `key`) matched against SIF labels and annotations.
    label: Option<String>,
    collection: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<ImageList>> {
    let collection = q.collection.as_deref().map(CollectionName::parse).transpose()?;
    let s = Search { text: q.q, label: q.label, collection, limit: q.limit.unwrap_or(50).clamp(1, 500) };
    Ok(Json(ImageList { images: app.registry.search(caller.get(), &s).await? }))
}

pub(super) async fn in_collection(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<ImageList>> {
    let name = CollectionName::parse(&name)?;
    app.collections.access(caller.get(), &name, Access::Read).await?;
    let s = Search { collection: Some(name), limit: 1000, ..Search::default() };
    Ok(Json(ImageList { images: app.registry.search(caller.get(), &s).await? }))
}

pub(super) async fn repository(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<RepositoryInfo>> {
    let ctx = app.registry.repo(caller.get(), &RepoName::parse(&name)?, Access::Read).await?;
    Ok(Json(app.registry.repository(&ctx).await?))
}

/// Image detail for `collection/name:tag` or `collection/name@sha256:…`.
pub(super) async fn image(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<Json<ImageDetail>> {
    let r = ImageRef::parse(&reference)?;
    let ctx = app.registry.repo(caller.get(), &r.repo, Access::Read).await?;
    let row = app.registry.resolve(&ctx, &r.target).await?;
    Ok(Json(app.registry.image_detail(&ctx, &row).await?))
}

/// `gantry rm`: a tag removes the tag, a digest removes the manifest (and its tags).
pub(super) async fn delete(
    State(app): State<App>,
    caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<StatusCode> {
    let r = ImageRef::parse(&reference)?;
    let ctx = app.registry.repo(caller.get(), &r.repo, Access::Manage).await?;
    app.registry.delete_ref(&ctx, &r.target).await?;
    Ok(StatusCode::NO_CONTENT)
}
