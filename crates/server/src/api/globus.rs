//! `/api/v1/globus`: the caller's Globus connection and the endpoints it reaches.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use gantry_api_types::{EndpointList, GlobusStatus, Listing, PathBody};
use gantry_app::App;
use serde::Deserialize;
use serde_json::Value;

pub(super) async fn status(State(app): State<App>, caller: Caller) -> ApiResult<Json<GlobusStatus>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.status(p.user_id).await?))
}

/// Disconnects: the tokens are revoked at Globus and forgotten.
pub(super) async fn disconnect(State(app): State<App>, caller: Caller) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    app.transfers()?.disconnect(p.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    q: Option<String>,
    scope: Option<String>,
    limit: Option<u32>,
}

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

/// One endpoint, as Globus describes it.
pub(super) async fn endpoint(State(app): State<App>, caller: Caller, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.endpoint(p.user_id, &id).await?))
}

#[derive(Deserialize)]
pub(super) struct PathQuery {
    path: Option<String>,
}

pub(super) async fn ls(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    q: Query<PathQuery>,
) -> ApiResult<Json<Listing>> {
    let p = caller.require()?;
    Ok(Json(app.transfers()?.ls(p.user_id, &id, q.path.as_deref().unwrap_or("/~/")).await?))
}

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
