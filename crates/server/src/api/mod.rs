//! The REST API (`/api/v1`) and the stable download URLs (`/download/…`), one file per
//! resource. Handlers extract, call one `gantry-app` operation and render its typed
//! answer; errors are rendered once, in `error`.

mod caller;
mod collections;
mod device;
mod download;
pub mod error;
mod experiments;
mod globus;
mod images;
mod openapi;
mod tokens;
mod transfers;

pub use caller::{CSRF_HEADER, Caller};
pub use error::{ApiError, ApiResult};
pub use openapi::{ApiDoc, document};

use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use gantry_api_types::{ErrorBody, Me};
use gantry_app::App;
use gantry_domain::Error;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/api/v1/tokens/{id}", delete(tokens::revoke))
        .route("/api/v1/collections", get(collections::list).post(collections::create))
        .route(
            "/api/v1/collections/{name}",
            get(collections::get).patch(collections::update).delete(collections::delete),
        )
        .route("/api/v1/collections/{name}/members", get(collections::members))
        .route(
            "/api/v1/collections/{name}/members/{user}",
            put(collections::set_member).delete(collections::remove_member),
        )
        .route("/api/v1/collections/{name}/groups", get(collections::groups))
        .route(
            "/api/v1/collections/{name}/groups/{group}",
            put(collections::set_group).delete(collections::remove_group),
        )
        .route("/api/v1/collections/{name}/images", get(images::in_collection))
        .route("/api/v1/search", get(images::search))
        .route("/api/v1/repositories/{*name}", get(images::repository))
        .route("/api/v1/images/{*reference}", get(images::image).delete(images::delete))
        .route("/api/v1/device/authorize", post(device::authorize))
        .route("/api/v1/device/token", post(device::token))
        .route("/api/v1/auth", get(device::auth_info))
        .route("/api/v1/globus", get(globus::status).delete(globus::disconnect))
        .route("/api/v1/globus/endpoints", get(globus::search))
        .route("/api/v1/globus/endpoints/{id}", get(globus::endpoint))
        .route("/api/v1/globus/endpoints/{id}/ls", get(globus::ls))
        .route("/api/v1/globus/endpoints/{id}/mkdir", post(globus::mkdir))
        .route("/api/v1/transfers", get(transfers::list).post(transfers::create))
        .route("/api/v1/transfers/{id}", get(transfers::show))
        .route("/api/v1/transfers/{id}/cancel", post(transfers::cancel))
        .route("/download/{*rest}", get(download::download).head(download::download))
        .route("/api/v1/experiments", get(experiments::list))
        .route("/api/v1/experiments/{id}", get(experiments::show))
        .route("/api/v1/experiments/{id}/favorite", put(experiments::favorite).delete(experiments::unfavorite))
        .route("/api/v1/experiments/{id}/sessions/{n}/files", get(experiments::files))
        .route("/data/{id}/{n}/{*path}", get(experiments::data).head(experiments::data))
        .fallback(api_not_found)
}

async fn api_not_found(uri: axum::http::Uri) -> Response {
    ApiError(Error::not_found(format!("no such endpoint: {}", uri.path()))).into_response()
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta", summary = "This document", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], document()).into_response()
}

#[utoipa::path(get, path = "/api/v1/me", tag = "account", summary = "Who the credentials belong to",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(caller: Caller) -> ApiResult<Json<Me>> {
    let p = caller.require()?;
    Ok(Json(Me { username: p.username.clone(), is_admin: p.is_admin, token_scope: p.scope }))
}
