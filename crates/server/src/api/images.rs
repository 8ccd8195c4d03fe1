//! `/api/v1/search`, `/api/v1/collections/{name}/images`, `/api/v1/repositories/…` and
//! `/api/v1/images/…` (detail, and `gantry rm`).

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gantry_api_types::ErrorBody;
use gantry_api_types::{ImageDetail, ImageList, RepositoryInfo};
use gantry_app::App;
use gantry_app::registry::images::Search;
use gantry_domain::{Access, CollectionName, ImageRef, RepoName};
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// Text in the repository name, titles, labels, the definition file, or the name of
    /// who pushed the image or of its collection's owners.
    #[serde(default)]
    q: String,
    /// `key=value` (or just `key`) matched against SIF labels and annotations.
    label: Option<String>,
    /// Only this collection.
    collection: Option<String>,
    /// At most this many (1 to 500, default 50).
    limit: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/search", tag = "images", summary = "Tagged images the caller may read, newest first", security((), ("token" = []), ("basic" = [])),
    params(SearchQuery),
    responses((status = 200, body = ImageList), (status = 400, body = ErrorBody)))]
pub(super) async fn search(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<ImageList>> {
    let collection = q.collection.as_deref().map(CollectionName::parse).transpose()?;
    let s = Search { text: q.q, label: q.label, collection, limit: q.limit.unwrap_or(50).clamp(1, 500) };
    Ok(Json(ImageList { images: app.registry.search(caller.get(), &s).await? }))
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/images", tag = "images", summary = "A collection's tagged images", security((), ("token" = []), ("basic" = [])),
    params(("name" = String, Path, description = "Collection name")),
    responses((status = 200, body = ImageList), (status = 404, body = ErrorBody)))]
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

#[utoipa::path(get, path = "/api/v1/repositories/{name}", tag = "images", summary = "A repository's tags and manifests", security((), ("token" = []), ("basic" = [])),
    params(("name" = String, Path, description = "Repository, COLLECTION/NAME")),
    responses((status = 200, body = RepositoryInfo), (status = 404, body = ErrorBody)))]
pub(super) async fn repository(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<RepositoryInfo>> {
    let ctx = app.registry.repo(caller.get(), &RepoName::parse(&name)?, Access::Read).await?;
    Ok(Json(app.registry.repository(&ctx).await?))
}

#[utoipa::path(get, path = "/api/v1/images/{reference}", tag = "images", summary = "An image's detail: SIF facts or dataset files", security((), ("token" = []), ("basic" = [])),
    params(("reference" = String, Path, description = "COLLECTION/NAME:TAG or COLLECTION/NAME@sha256:…")),
    responses((status = 200, body = ImageDetail), (status = 404, body = ErrorBody)))]
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

#[utoipa::path(delete, path = "/api/v1/images/{reference}", tag = "images", summary = "Removes a tag, or a manifest by digest (owners)",
    params(("reference" = String, Path, description = "COLLECTION/NAME:TAG or COLLECTION/NAME@sha256:…")),
    responses((status = 204, description = "Removed"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
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
