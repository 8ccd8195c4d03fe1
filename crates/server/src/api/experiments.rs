//! `/api/v1/experiments`: the facility's experiments the caller may see, favourites,
//! a session's data (listed), and `/data/…`, the stable URL of one file served in place.

use super::{ApiResult, Caller};
use crate::blob_body::serve_file;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use gantry_api_types::{DataListing, ErrorBody, ExperimentInfo, ExperimentPage};
use gantry_app::App;
use gantry_app::facility::ListQuery;
use gantry_domain::Error;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct ExperimentsQuery {
    /// Text in the proposal id, subject, body or beam line.
    #[serde(default)]
    search: String,
    /// Only the caller's favourites.
    #[serde(default)]
    favorite: bool,
    /// `proposal_id`, `subject`, `beam_line` or `synced_at`; `-` first for descending.
    #[serde(default)]
    ordering: String,
    /// From 1.
    page: Option<i64>,
    /// 1 to 100 (default 20).
    page_size: Option<i64>,
}

#[utoipa::path(get, path = "/api/v1/experiments", tag = "experiments", summary = "The caller's experiments (all for admins), with how fresh they are",
    params(ExperimentsQuery),
    responses((status = 200, body = ExperimentPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
pub(super) async fn list(
    State(app): State<App>,
    caller: Caller,
    Query(q): Query<ExperimentsQuery>,
) -> ApiResult<Json<ExperimentPage>> {
    let p = caller.require()?;
    let lq = ListQuery {
        search: q.search,
        favorites_only: q.favorite,
        ordering: q.ordering,
        page: q.page.unwrap_or(1),
        page_size: q.page_size.unwrap_or(20),
    };
    Ok(Json(app.facility()?.list(p, &lq).await?))
}

#[utoipa::path(get, path = "/api/v1/experiments/{id}", tag = "experiments", summary = "One experiment with its sessions (members and admins)",
    params(("id" = String, Path, description = "Proposal id")),
    responses((status = 200, body = ExperimentInfo), (status = 404, body = ErrorBody)))]
pub(super) async fn show(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ExperimentInfo>> {
    let p = caller.require()?;
    Ok(Json(app.facility()?.get(p, &id).await?))
}

#[utoipa::path(put, path = "/api/v1/experiments/{id}/favorite", tag = "experiments", summary = "Marks an experiment a favourite",
    params(("id" = String, Path, description = "Proposal id")),
    responses((status = 204, description = "Marked"), (status = 404, body = ErrorBody)))]
pub(super) async fn favorite(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    app.facility()?.set_favorite(p, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(delete, path = "/api/v1/experiments/{id}/favorite", tag = "experiments", summary = "Unmarks a favourite",
    params(("id" = String, Path, description = "Proposal id")),
    responses((status = 204, description = "Unmarked"), (status = 404, body = ErrorBody)))]
pub(super) async fn unfavorite(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    app.facility()?.set_favorite(p, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FilesQuery {
    /// `VOLUME/sub/folder`; empty lists the session's volumes.
    #[serde(default)]
    path: String,
}

#[utoipa::path(get, path = "/api/v1/experiments/{id}/sessions/{n}/files", tag = "experiments", summary = "A folder of a session's data, each file with its download URL",
    params(("id" = String, Path, description = "Proposal id"), ("n" = i64, Path, description = "Session number"), FilesQuery),
    responses((status = 200, body = DataListing), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn files(
    State(app): State<App>,
    caller: Caller,
    Path((id, n)): Path<(String, i64)>,
    Query(q): Query<FilesQuery>,
) -> ApiResult<Json<DataListing>> {
    let p = caller.require()?;
    Ok(Json(app.facility()?.files(p, &id, n, &q.path).await?))
}

#[utoipa::path(get, path = "/data/{id}/{n}/{path}", tag = "experiments", summary = "One file of a session's data, served in place (Range, HEAD and ETag work)",
    params(("id" = String, Path, description = "Proposal id"), ("n" = i64, Path, description = "Session number"),
        ("path" = String, Path, description = "VOLUME/path/to/file")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 206, description = "Part of the file"),
        (status = 404, body = ErrorBody), (status = 416, description = "The range cannot be satisfied")))]
pub(super) async fn data(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    Path((id, n, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let p = caller.require()?;
    let n: i64 = n.parse().map_err(|_| Error::not_found("no such session"))?;
    let f = app.facility()?.file(p, &id, n, &path).await?;
    Ok(serve_file(&f.path, f.size, &f.etag(), &method, &headers, super::error::render).await?)
}
