//! Globus Transfer v0.10: endpoints and search, file operations confined to each
//! endpoint's root, access rules, bookmarks, submission ids. Tasks are in `tasks.rs`.

pub(crate) mod access;
mod bookmarks;
mod endpoints;
mod files;
pub mod roles;
mod shared;

pub mod caller;

use crate::service::Service;
use access::*;
use axum::Router;
use axum::routing::get;
use bookmarks::*;
use endpoints::*;
use files::*;
use roles::*;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/v0.10/endpoint_search", get(endpoint_search))
        .route("/v0.10/endpoint/{id}", get(endpoint_get).put(shared::update).delete(shared::delete))
        .route("/v0.10/shared_endpoint", axum::routing::post(shared::create))
        .route("/v0.10/endpoint/{id}/shared_endpoint_list", get(shared::shared_list))
        .route("/v0.10/endpoint/{id}/my_shared_endpoint_list", get(shared::my_shared_list))
        .route("/v0.10/operation/endpoint/{id}/ls", get(ls))
        .route("/v0.10/operation/endpoint/{id}/stat", get(stat))
        .route("/v0.10/operation/endpoint/{id}/mkdir", axum::routing::post(mkdir))
        .route("/v0.10/operation/endpoint/{id}/rename", axum::routing::post(rename))
        .route("/v0.10/submission_id", get(submission_id))
        .route("/v0.10/endpoint/{id}/access_list", get(access_list))
        .route("/v0.10/endpoint/{id}/access", axum::routing::post(access_create))
        .route("/v0.10/endpoint/{id}/access/{rule}", get(access_get).put(access_update).delete(access_delete))
        .route("/v0.10/endpoint/{id}/server_list", get(server_list))
        .route("/v0.10/endpoint/{id}/server/{server}", get(server_get))
        .route("/v0.10/endpoint/{id}/my_effective_pause_rule_list", get(my_effective_pause_rules))
        .route("/v0.10/endpoint/{id}/role_list", get(role_list))
        .route("/v0.10/endpoint/{id}/role", axum::routing::post(role_create))
        .route("/v0.10/endpoint/{id}/role/{role}", get(role_get).delete(role_delete))
        .route("/v0.10/bookmark_list", get(bookmark_list))
        .route("/v0.10/bookmark", axum::routing::post(bookmark_create))
        .route("/v0.10/bookmark/{id}", get(bookmark_get).put(bookmark_update).delete(bookmark_delete))
}
