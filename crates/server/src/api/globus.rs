//! `/api/v1/globus`: the caller's Globus connection and the endpoints it reaches.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gantry_api_types::ErrorBody;
use gantry_api_types::{EndpointList, GlobusStatus, Listing, PathBody};
use gantry_app::App;
use gantry_app::transfers::GlobusEndpoint;
use serde::Deserialize;

#[utoipa::path(get, path = "/api/v1/globus", tag = "globus", summary = "The caller's Globus connection",
    responses((status = 200, body = GlobusStatus), (status = 405, description = "Transfers are not set up", body = ErrorBody)))]
pub(super) async fn status(State(app): State<App>, caller: Caller) -> ApiResult<Json<GlobusStatus>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.status(p.user_id).await?))
}

#[utoipa::path(delete, path = "/api/v1/globus", tag = "globus", summary = "Revokes and forgets the Globus tokens",
    responses((status = 204, description = "Disconnected"), (status = 404, body = ErrorBody)))]
/// Disconnects: the tokens are revoked at Globus and forgotten.
pub(super) async fn disconnect(State(app): State<App>, caller: Caller) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    app.transfers()?.disconnect(p.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct SearchQuery {
    /// Full-text search.
    q: Option<String>,
    /// Globus's filter scope: all, my-endpoints, shared-with-me, recently-used, …
    scope: Option<String>,
    /// At most this many (up to 100, default 25).
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/api/v1/globus/endpoints", tag = "globus", summary = "Endpoint search with the caller's Globus token",
    params(SearchQuery),
    responses((status = 200, body = EndpointList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(super) async fn search(
    State(app): State<App>,
    caller: Caller,
    q: Query<SearchQuery>,
) -> ApiResult<Json<EndpointList>> {
    let p = caller.require()?;
    let scope = q.scope.as_deref().unwrap_or("all");
    let t = app.transfers()?;
    let endpoints = t.endpoint_search(p.user_id, q.q.as_deref(), scope, q.limit.unwrap_or(25)).await?;
    Ok(Json(EndpointList { endpoints }))
}

#[utoipa::path(get, path = "/api/v1/globus/endpoints/{id}", tag = "globus", summary = "One endpoint, as Globus describes it",
    params(("id" = String, Path, description = "Endpoint or collection id")),
    responses((status = 200, description = "The endpoint document"), (status = 404, body = ErrorBody)))]
/// One endpoint, as Globus describes it.
pub(super) async fn endpoint(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<GlobusEndpoint>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.endpoint(p.user_id, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct PathQuery {
    /// The directory (default `/~/`).
    path: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/globus/endpoints/{id}/ls", tag = "globus", summary = "Lists a directory at an endpoint",
    params(("id" = String, Path, description = "Endpoint or collection id"), PathQuery),
    responses((status = 200, body = Listing), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn ls(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    q: Query<PathQuery>,
) -> ApiResult<Json<Listing>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.ls(p.user_id, &id, q.path.as_deref().unwrap_or("/~/")).await?))
}

#[utoipa::path(post, path = "/api/v1/globus/endpoints/{id}/mkdir", tag = "globus", summary = "Makes a directory at an endpoint",
    params(("id" = String, Path, description = "Endpoint or collection id")), request_body = PathBody,
    responses((status = 200, body = PathBody), (status = 403, body = ErrorBody)))]
pub(super) async fn mkdir(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    body: Json<PathBody>,
) -> ApiResult<Json<PathBody>> {
    let p = caller.require_write()?;
    app.transfers()?.mkdir(p.user_id, &id, &body.path).await?;
    Ok(Json(PathBody { path: body.path.clone() }))
}
