//! `/api/v1/collections`: collections, their members and Globus group roles.

use super::{ApiResult, Caller};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use gantry_api_types::ErrorBody;
use gantry_api_types::{
    CollectionInfo, CollectionList, CollectionUpdate, GroupInfo, GroupList, MemberInfo, MemberList, NewCollection,
    RoleBody,
};
use gantry_app::App;
use gantry_app::collections::{Managed, Seen};
use gantry_domain::{Access, CollectionName, Result, Role, time};

fn info(s: &Seen) -> CollectionInfo {
    let c = &s.collection;
    CollectionInfo {
        name: c.name.clone(),
        visibility: c.visibility,
        description: c.description.clone(),
        created: time::rfc3339(c.created_at),
        role: s.role,
        can_push: s.access >= Access::Write,
        can_manage: s.access >= Access::Manage,
        images: None,
    }
}

async fn managed(app: &App, caller: &Caller, name: &str) -> Result<Managed> {
    app.collections.managed(caller.get(), &CollectionName::parse(name)?).await
}

#[utoipa::path(get, path = "/api/v1/collections", tag = "collections", summary = "Collections the caller can see", security((), ("token" = []), ("basic" = [])),
    responses((status = 200, body = CollectionList)))]
pub(super) async fn list(State(app): State<App>, caller: Caller) -> ApiResult<Json<CollectionList>> {
    let seen = app.collections.visible(caller.get()).await?;
    Ok(Json(CollectionList { collections: seen.iter().map(info).collect() }))
}

#[utoipa::path(post, path = "/api/v1/collections", tag = "collections", summary = "Creates a collection owned by the caller",
    request_body = NewCollection,
    responses((status = 201, body = CollectionInfo), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody)))]
pub(super) async fn create(
    State(app): State<App>,
    caller: Caller,
    body: Json<NewCollection>,
) -> ApiResult<(StatusCode, Json<CollectionInfo>)> {
    let p = caller.require_write()?;
    let new = gantry_app::collections::NewCollection {
        name: CollectionName::parse(&body.name)?,
        visibility: body.visibility,
        description: body.description.clone(),
        owner: Some(p.user_id),
    };
    let c = app.collections.create(p, new).await?;
    Ok((StatusCode::CREATED, Json(info(&Seen { collection: c, access: Access::Manage, role: Some(Role::Owner) }))))
}

#[utoipa::path(get, path = "/api/v1/collections/{name}", tag = "collections", summary = "A collection and its repositories", security((), ("token" = []), ("basic" = [])),
    params(("name" = String, Path, description = "Collection name")),
    responses((status = 200, body = CollectionInfo), (status = 404, description = "Unknown, or not visible to the caller", body = ErrorBody)))]
pub(super) async fn get(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<CollectionInfo>> {
    let seen = app.collections.access(caller.get(), &CollectionName::parse(&name)?, Access::Read).await?;
    let repos = app.collections.repos(&seen).await?;
    Ok(Json(CollectionInfo { images: Some(repos.into_iter().map(|r| r.name).collect()), ..info(&seen) }))
}

#[utoipa::path(patch, path = "/api/v1/collections/{name}", tag = "collections", summary = "Changes visibility or description (owners)",
    params(("name" = String, Path, description = "Collection name")), request_body = CollectionUpdate,
    responses((status = 200, body = CollectionInfo), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn update(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
    body: Json<CollectionUpdate>,
) -> ApiResult<Json<CollectionInfo>> {
    let c = managed(&app, &caller, &name).await?;
    let seen = app.collections.update(&c, body.visibility, body.description.as_deref()).await?;
    Ok(Json(info(&seen)))
}

#[utoipa::path(delete, path = "/api/v1/collections/{name}", tag = "collections", summary = "Deletes a collection and everything in it (owners)",
    params(("name" = String, Path, description = "Collection name")),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn delete(State(app): State<App>, caller: Caller, Path(name): Path<String>) -> ApiResult<StatusCode> {
    let c = managed(&app, &caller, &name).await?;
    app.collections.delete(c).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/members", tag = "collections", summary = "Users with a role (owners)",
    params(("name" = String, Path, description = "Collection name")),
    responses((status = 200, body = MemberList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn members(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<MemberList>> {
    let c = managed(&app, &caller, &name).await?;
    let ms = app.collections.members(&c).await?;
    Ok(Json(MemberList { members: ms.into_iter().map(|m| MemberInfo { user: m.username, role: m.role }).collect() }))
}

#[utoipa::path(put, path = "/api/v1/collections/{name}/members/{user}", tag = "collections", summary = "Gives a user a role (owners); the last owner stays",
    params(("name" = String, Path, description = "Collection name"), ("user" = String, Path, description = "User name")), request_body = RoleBody,
    responses((status = 200, body = MemberInfo), (status = 404, body = ErrorBody),
        (status = 409, description = "The collection's last owner", body = ErrorBody)))]
pub(super) async fn set_member(
    State(app): State<App>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
    body: Json<RoleBody>,
) -> ApiResult<Json<MemberInfo>> {
    let c = managed(&app, &caller, &name).await?;
    let u = app.collections.set_user_role(&c, &user, body.role).await?;
    Ok(Json(MemberInfo { user: u.username, role: body.role }))
}

#[utoipa::path(delete, path = "/api/v1/collections/{name}/members/{user}", tag = "collections", summary = "Takes a user's role away (owners); the last owner stays",
    params(("name" = String, Path, description = "Collection name"), ("user" = String, Path, description = "User name")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody),
        (status = 409, description = "The collection's last owner", body = ErrorBody)))]
pub(super) async fn remove_member(
    State(app): State<App>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let c = managed(&app, &caller, &name).await?;
    app.collections.remove_user_role(&c, &user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/collections/{name}/groups", tag = "collections", summary = "Globus groups with a role (owners)",
    params(("name" = String, Path, description = "Collection name")),
    responses((status = 200, body = GroupList), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn groups(
    State(app): State<App>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<GroupList>> {
    let c = managed(&app, &caller, &name).await?;
    let gs = app.collections.groups(&c).await?;
    Ok(Json(GroupList { groups: gs.into_iter().map(|g| GroupInfo { group: g.group_id, role: g.role }).collect() }))
}

#[utoipa::path(put, path = "/api/v1/collections/{name}/groups/{group}", tag = "collections", summary = "Gives the members of a Globus group a role (owners)",
    params(("name" = String, Path, description = "Collection name"), ("group" = String, Path, description = "Globus group id")), request_body = RoleBody,
    responses((status = 200, body = GroupInfo), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(super) async fn set_group(
    State(app): State<App>,
    caller: Caller,
    Path((name, group)): Path<(String, String)>,
    body: Json<RoleBody>,
) -> ApiResult<Json<GroupInfo>> {
    let c = managed(&app, &caller, &name).await?;
    let group = app.collections.set_group_role(&c, &group, body.role).await?;
    Ok(Json(GroupInfo { group, role: body.role }))
}

#[utoipa::path(delete, path = "/api/v1/collections/{name}/groups/{group}", tag = "collections", summary = "Takes a group's role away (owners)",
    params(("name" = String, Path, description = "Collection name"), ("group" = String, Path, description = "Globus group id")),
    responses((status = 204, description = "Removed"), (status = 404, body = ErrorBody)))]
pub(super) async fn remove_group(
    State(app): State<App>,
    caller: Caller,
    Path((name, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let c = managed(&app, &caller, &name).await?;
    app.collections.remove_group_role(&c, &group).await?;
    Ok(StatusCode::NO_CONTENT)
}
