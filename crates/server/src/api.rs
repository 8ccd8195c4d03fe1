//! The REST API (`/api/v1`) and the stable download URLs (`/download/…`).

use crate::auth;
use crate::oci::{percent_decode, serve_blob};
use crate::registry::RepoCtx;
use crate::state::AppState;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{
    Access, CollectionName, Digest, Error, ErrorKind, ImageRef, Principal, RefTarget, RepoName, Result, Role, Tag,
    TokenScope, Visibility, time,
};
use gantry_store::ManifestRow;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The OpenAPI document, kept in the repository and served as is.
pub const OPENAPI: &str = include_str!("../openapi.json");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/me", get(me))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(revoke_token))
        .route("/api/v1/collections", get(list_collections).post(create_collection))
        .route("/api/v1/collections/{name}", get(get_collection).patch(update_collection).delete(delete_collection))
        .route("/api/v1/collections/{name}/members", get(list_members))
        .route("/api/v1/collections/{name}/members/{user}", put(set_member).delete(remove_member))
        .route("/api/v1/collections/{name}/groups", get(list_group_members))
        .route("/api/v1/collections/{name}/groups/{group}", put(set_group_member).delete(remove_group_member))
        .route("/api/v1/collections/{name}/images", get(collection_images))
        .route("/api/v1/search", get(search))
        .route("/api/v1/repositories/{*name}", get(repository))
        .route("/api/v1/images/{*reference}", get(image).delete(delete_image))
        .route("/download/{*rest}", get(download).head(download))
        .fallback(api_not_found)
}

async fn api_not_found(uri: axum::http::Uri) -> Response {
    ApiError(Error::not_found(format!("no such endpoint: {}", uri.path()))).into_response()
}

/// An error rendered as `{"error": {"code", "message"}}`.
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == ErrorKind::Internal {
            tracing::error!("internal error: {}", e.message);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({"error": {"code": e.kind.code(), "message": e.public_message()}});
        if let Some(p) = &e.authorization_parameters {
            // A Globus Auth requirements error: globus-sdk and the Globus CLI read these
            // top-level keys and ask the user to sign in again.
            body["code"] = "AuthorizationRequired".into();
            body["message"] = e.public_message().into();
            body["authorization_parameters"] = p.clone();
        }
        let mut r = (status, Json(body)).into_response();
        if e.kind == ErrorKind::Unauthorized {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gantry\""));
        }
        r
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

/// The authenticated caller, if any. Bad credentials are rejected with 401.
pub struct Caller(pub Option<Principal>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> ApiResult<Caller> {
        if parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Caller(st.authenticate(&parts.headers).await?));
        }
        // A browser session: a request that changes something must also carry the
        // session's CSRF token, which another site cannot read.
        let Some(s) = st.web_session(&parts.headers).await? else { return Ok(Caller(None)) };
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts.headers.get(crate::session::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !crate::session::same_secret(sent, &s.row.csrf) {
                return Err(Error::denied("missing or wrong X-CSRF-Token header for a signed-in browser").into());
            }
        }
        Ok(Caller(Some(s.principal())))
    }
}

impl Caller {
    pub(crate) fn require(&self) -> Result<&Principal> {
        self.0.as_ref().ok_or_else(|| Error::unauthorized("authentication required"))
    }
    pub(crate) fn require_write(&self) -> Result<&Principal> {
        let p = self.require()?;
        if p.scope != TokenScope::Write {
            return Err(Error::denied("this needs a token with write scope"));
        }
        Ok(p)
    }
    pub(crate) fn get(&self) -> Option<&Principal> {
        self.0.as_ref()
    }
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

async fn me(caller: Caller) -> ApiResult<Json<Value>> {
    let p = caller.require()?;
    Ok(Json(json!({"username": p.username, "is_admin": p.is_admin, "token_scope": p.scope})))
}

async fn list_tokens(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let p = caller.require()?;
    let tokens = st.store.list_tokens(p.user_id).await?;
    Ok(Json(json!({"tokens": tokens.iter().map(|t| json!({
        "id": t.id, "name": t.name, "scope": t.scope, "created": time::rfc3339(t.created_at),
        "last_used": t.last_used_at.map(time::rfc3339), "expires": t.expires_at.map(time::rfc3339),
    })).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    #[serde(default = "default_scope")]
    scope: TokenScope,
    expires_days: Option<u32>,
}

fn default_scope() -> TokenScope {
    TokenScope::Read
}

async fn create_token(State(st): State<AppState>, caller: Caller, body: Json<NewToken>) -> ApiResult<Response> {
    let p = caller.require_write()?;
    let (token, row) = st.issue_api_token(p.user_id, &body.name, body.scope, body.expires_days).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": row.id, "name": row.name, "scope": row.scope, "token": token,
            "expires": row.expires_at.map(time::rfc3339)})),
    )
        .into_response())
}

impl AppState {
    /// A new API token for a user (shown once; only its hash is kept).
    pub async fn issue_api_token(
        &self,
        user_id: i64,
        name: &str,
        scope: TokenScope,
        expires_days: Option<u32>,
    ) -> Result<(String, gantry_store::TokenRow)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid("token name must be 1 to 100 characters"));
        }
        let token = auth::new_api_token();
        let expires = expires_days.map(|d| time::now_unix() + d as i64 * 86_400);
        let row = self.store.create_token(user_id, name, scope, &auth::hash_token(&token), expires).await?;
        Ok((token, row))
    }

    /// Gives a user a role on a collection; a collection keeps at least one owner.
    pub async fn set_user_role(&self, collection_id: i64, user: &str, role: Role) -> Result<gantry_store::User> {
        let u = user_named(self, user).await?;
        if role != Role::Owner {
            ensure_other_owner(self, collection_id, u.id).await?;
        }
        self.store.set_member(collection_id, u.id, role).await?;
        Ok(u)
    }

    /// Takes a user's role away (not the last owner's); false if there was none.
    pub async fn remove_user_role(&self, collection_id: i64, user: &str) -> Result<bool> {
        let u = user_named(self, user).await?;
        ensure_other_owner(self, collection_id, u.id).await?;
        self.store.remove_member(collection_id, u.id).await
    }
}

async fn revoke_token(State(st): State<AppState>, caller: Caller, Path(id): Path<i64>) -> ApiResult<StatusCode> {
    let p = caller.require_write()?;
    if !st.store.revoke_token(p.user_id, id).await? {
        return Err(Error::not_found(format!("token {id} not found")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

fn collection_json(c: &gantry_store::Collection, role: Option<Role>, access: Access) -> Value {
    json!({
        "name": c.name, "visibility": c.visibility, "description": c.description,
        "created": time::rfc3339(c.created_at), "role": role,
        "can_push": access >= Access::Write, "can_manage": access >= Access::Manage,
    })
}

async fn list_collections(State(st): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    let p = caller.get();
    let cs = st.store.visible_collections(p.map(|p| p.user_id), p.is_some_and(|p| p.is_admin)).await?;
    let list: Vec<Value> = cs
        .iter()
        .map(|ca| collection_json(&ca.collection, ca.role, Access::decide(p, ca.collection.visibility, ca.role)))
        .collect();
    Ok(Json(json!({ "collections": list })))
}

#[derive(Deserialize)]
struct NewCollection {
    name: String,
    visibility: Option<Visibility>,
    #[serde(default)]
    description: String,
}

async fn create_collection(
    State(st): State<AppState>,
    caller: Caller,
    body: Json<NewCollection>,
) -> ApiResult<Response> {
    let p = caller.require_write()?;
    let name = CollectionName::parse(&body.name)?;
    if !st.config.allow_user_collections && !p.is_admin {
        return Err(Error::denied("only admins may create collections here").into());
    }
    check_description(&body.description)?;
    let vis = body.visibility.unwrap_or(st.config.default_visibility);
    let c = st.store.create_collection(name.as_str(), vis, &body.description, Some(p.user_id)).await?;
    Ok((StatusCode::CREATED, Json(collection_json(&c, Some(Role::Owner), Access::Manage))).into_response())
}

pub(crate) fn check_description(d: &str) -> Result<()> {
    if d.len() > 4000 {
        return Err(Error::invalid("description is longer than 4000 characters"));
    }
    Ok(())
}

async fn get_collection(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let name = CollectionName::parse(&name)?;
    let (c, access) = st.collection_access(caller.get(), &name, Access::Read).await?;
    let role = st.store.collection_access(name.as_str(), caller.get().map(|p| p.user_id)).await?.and_then(|ca| ca.role);
    let mut v = collection_json(&c, role, access);
    let repos = st.store.repos_in_collection(c.id).await?;
    v["images"] = repos.iter().map(|r| Value::String(r.name.clone())).collect();
    Ok(Json(v))
}

#[derive(Deserialize)]
struct CollectionUpdate {
    visibility: Option<Visibility>,
    description: Option<String>,
}

async fn update_collection(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Json<CollectionUpdate>,
) -> ApiResult<Json<Value>> {
    let c = managed(&st, &caller, &name).await?;
    if let Some(d) = &body.description {
        check_description(d)?;
    }
    st.store.update_collection(c.id, body.visibility, body.description.as_deref()).await?;
    let (c, access) = st.collection_access(caller.get(), &CollectionName::parse(&name)?, Access::Read).await?;
    Ok(Json(collection_json(&c, None, access)))
}

async fn delete_collection(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let c = managed(&st, &caller, &name).await?;
    st.store.delete_collection(c.id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_members(State(st): State<AppState>, caller: Caller, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let c = managed(&st, &caller, &name).await?;
    let ms = st.store.list_members(c.id).await?;
    Ok(Json(json!({"members": ms.iter().map(|m| json!({"user": m.username, "role": m.role})).collect::<Vec<_>>()})))
}

#[derive(Deserialize)]
struct MemberBody {
    role: Role,
}

async fn set_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
    body: Json<MemberBody>,
) -> ApiResult<Json<Value>> {
    let c = managed(&st, &caller, &name).await?;
    let u = st.set_user_role(c.id, &user, body.role).await?;
    Ok(Json(json!({"user": u.username, "role": body.role})))
}

async fn list_group_members(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let c = managed(&st, &caller, &name).await?;
    let gs = st.store.list_group_members(c.id).await?;
    Ok(Json(json!({"groups": gs.iter().map(|g| json!({"group": g.group_id, "role": g.role})).collect::<Vec<_>>()})))
}

/// A Globus group id (a UUID; other group ids of letters, digits and '-' are accepted).
pub(crate) fn group_id(g: &str) -> Result<String> {
    if g.is_empty() || g.len() > 64 || !g.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return Err(Error::invalid(format!("{g:?} is not a group id: use the Globus group's id (a UUID)")));
    }
    Ok(g.to_ascii_lowercase())
}

/// Gives the members of a Globus group a role on a collection.
async fn set_group_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, group)): Path<(String, String)>,
    body: Json<MemberBody>,
) -> ApiResult<Json<Value>> {
    let c = managed(&st, &caller, &name).await?;
    let group = group_id(&group)?;
    st.store.set_group_member(c.id, &group, body.role).await?;
    Ok(Json(json!({"group": group, "role": body.role})))
}

async fn remove_group_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let c = managed(&st, &caller, &name).await?;
    let group = group_id(&group)?;
    if !st.store.remove_group_member(c.id, &group).await? {
        return Err(Error::not_found(format!("group {group} has no role on {name}")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A collection the caller manages (owner or admin).
async fn managed(st: &AppState, caller: &Caller, name: &str) -> Result<gantry_store::Collection> {
    let name = CollectionName::parse(name)?;
    Ok(st.collection_access(caller.get(), &name, Access::Manage).await?.0)
}

async fn user_named(st: &AppState, user: &str) -> Result<gantry_store::User> {
    st.store.user_by_name(user).await?.ok_or_else(|| Error::not_found(format!("user {user} not found")))
}

/// A collection keeps at least one owner.
async fn ensure_other_owner(st: &AppState, collection_id: i64, user_id: i64) -> Result<()> {
    let ms = st.store.list_members(collection_id).await?;
    let is_owner = ms.iter().any(|m| m.user_id == user_id && m.role == Role::Owner);
    let owners = ms.iter().filter(|m| m.role == Role::Owner).count();
    if is_owner && owners == 1 {
        return Err(Error::conflict("this is the collection's last owner; add another owner first"));
    }
    Ok(())
}

async fn remove_member(
    State(st): State<AppState>,
    caller: Caller,
    Path((name, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let c = managed(&st, &caller, &name).await?;
    if !st.remove_user_role(c.id, &user).await? {
        return Err(Error::not_found(format!("{user} is not a member of {name}")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn collection_images(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let name = CollectionName::parse(&name)?;
    st.collection_access(caller.get(), &name, Access::Read).await?;
    let p = caller.get();
    let found = st
        .store
        .search_tagged(p.map(|p| p.user_id), p.is_some_and(|p| p.is_admin), "", Some(name.as_str()), 1000)
        .await?;
    let images: Vec<Value> = found.iter().map(|t| summary(&st, &t.repo, &t.tag, &t.manifest)).collect();
    Ok(Json(json!({ "images": images })))
}

/// What kind of thing a manifest describes.
pub fn kind_of(row: &ManifestRow) -> &'static str {
    match (row.media_type.as_str(), row.config_media_type.as_deref(), row.artifact_type.as_deref()) {
        (_, Some(manifest::SIF_CONFIG), _) => "sif",
        (_, Some(manifest::DATASET_CONFIG), _) | (_, _, Some(manifest::DATASET_ARTIFACT)) => "dataset",
        (manifest::OCI_INDEX | manifest::DOCKER_LIST, _, _) => "index",
        (_, Some("application/vnd.oci.image.config.v1+json" | "application/vnd.docker.container.image.v1+json"), _) => {
            "image"
        }
        _ => "artifact",
    }
}

fn summary(st: &AppState, repo: &str, tag: &str, row: &ManifestRow) -> Value {
    let info: Option<Value> = row.info.as_deref().and_then(|s| serde_json::from_str(s).ok());
    json!({
        "ref": format!("{repo}:{tag}"), "repository": repo, "tag": tag, "digest": row.digest,
        "kind": kind_of(row), "size": row.total_size, "created": time::rfc3339(row.created_at),
        "pushed_by": row.pushed_by, "architecture": info.as_ref().and_then(|i| i.get("architecture")).cloned(),
        "download_url": download_url(st, repo, &row.digest, None),
    })
}

pub fn download_url(st: &AppState, repo: &str, digest: &str, path: Option<&str>) -> String {
    match path {
        Some(p) => format!("{}/download/{repo}@{digest}/{}", st.public_url, encode_path(p)),
        None => format!("{}/download/{repo}@{digest}", st.public_url),
    }
}

fn encode_path(p: &str) -> String {
    let mut out = String::new();
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    /// `key=value` (or just `key`) matched against SIF labels and annotations.
    label: Option<String>,
    collection: Option<String>,
    limit: Option<i64>,
}

async fn search(State(st): State<AppState>, caller: Caller, Query(q): Query<SearchQuery>) -> ApiResult<Json<Value>> {
    let p = caller.get();
    if q.q.len() > 200 {
        return Err(Error::invalid("search text is longer than 200 characters").into());
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 500);
    let label = q.label.as_deref().map(|l| match l.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (l.to_string(), None),
    });
    // Label filtering happens here, so fetch generously first.
    let fetch = if label.is_some() { 5000 } else { limit };
    let found = st
        .store
        .search_tagged(
            p.map(|p| p.user_id),
            p.is_some_and(|p| p.is_admin),
            &q.q.to_lowercase(),
            q.collection.as_deref(),
            fetch,
        )
        .await?;
    let images: Vec<Value> = found
        .iter()
        .filter(|t| match &label {
            None => true,
            Some((k, v)) => labels_of(&t.manifest).get(k).is_some_and(|have| v.as_ref().is_none_or(|v| have == v)),
        })
        .take(limit as usize)
        .map(|t| summary(&st, &t.repo, &t.tag, &t.manifest))
        .collect();
    Ok(Json(json!({ "images": images })))
}

/// SIF labels and manifest annotations, as strings.
fn labels_of(row: &ManifestRow) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut add = |v: Option<Value>| {
        if let Some(Value::Object(m)) = v {
            for (k, v) in m {
                let s = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(k, s);
            }
        }
    };
    add(row.annotations.as_deref().and_then(|s| serde_json::from_str(s).ok()));
    add(row.info.as_deref().and_then(|s| serde_json::from_str::<Value>(s).ok()).and_then(|i| i.get("labels").cloned()));
    out
}

async fn repository(State(st): State<AppState>, caller: Caller, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let name = RepoName::parse(&name)?;
    let ctx = st.repo(caller.get(), &name, Access::Read).await?;
    let tags = st.store.tags_in_repo(ctx.repo.id).await?;
    let manifests = st.store.manifests_in_repo(ctx.repo.id).await?;
    Ok(Json(json!({
        "name": name.as_str(), "collection": ctx.collection.name, "visibility": ctx.collection.visibility,
        "tags": tags.iter().map(|t| json!({"name": t.name, "digest": t.digest, "updated": time::rfc3339(t.updated_at)})).collect::<Vec<_>>(),
        "manifests": manifests.iter().map(|m| json!({"digest": m.digest, "kind": kind_of(m), "size": m.total_size,
            "created": time::rfc3339(m.created_at), "pushed_by": m.pushed_by})).collect::<Vec<_>>(),
    })))
}

/// Image detail for `collection/name:tag` or `collection/name@sha256:…`.
async fn image(State(st): State<AppState>, caller: Caller, Path(reference): Path<String>) -> ApiResult<Json<Value>> {
    let r = ImageRef::parse(&reference)?;
    let ctx = st.repo(caller.get(), &r.repo, Access::Read).await?;
    let row = st.resolve(&ctx.repo, &r.target).await?;
    Ok(Json(image_detail(&st, &ctx, &row).await?))
}

pub async fn image_detail(st: &AppState, ctx: &RepoCtx, row: &ManifestRow) -> Result<Value> {
    let content = st.store.manifest_content(row.id).await?;
    let m = Manifest::parse(&content, Some(&row.media_type))?;
    let repo = ctx.repo.name.as_str();
    let tags: Vec<String> = st
        .store
        .tags_in_repo(ctx.repo.id)
        .await?
        .into_iter()
        .filter(|t| t.digest == row.digest)
        .map(|t| t.name)
        .collect();
    let info: Option<Value> = row.info.as_deref().and_then(|s| serde_json::from_str(s).ok());
    let mut v = json!({
        "repository": repo, "collection": ctx.collection.name, "digest": row.digest, "tags": tags,
        "kind": kind_of(row), "media_type": row.media_type, "artifact_type": row.artifact_type,
        "size": row.total_size, "manifest_size": row.size, "created": time::rfc3339(row.created_at),
        "pushed_by": row.pushed_by, "download_url": download_url(st, repo, &row.digest, None),
        "annotations": m.annotations.clone().map(Value::Object),
        "layers": m.layers.iter().map(|l| json!({"digest": l.digest, "size": l.size, "media_type": l.media_type,
            "title": l.title()})).collect::<Vec<_>>(),
    });
    if m.is_index() {
        v["manifests"] = m
            .manifests
            .iter()
            .map(|d| json!({"digest": d.digest, "size": d.size, "media_type": d.media_type}))
            .collect();
    }
    if kind_of(row) == "sif"
        && let Some(i) = &info
    {
        v["sif"] = i.clone();
        v["architecture"] = i.get("architecture").cloned().unwrap_or(Value::Null);
        v["definition"] = i.get("definition").cloned().unwrap_or(Value::Null);
        v["labels"] = i.get("labels").cloned().unwrap_or(Value::Null);
        v["image_created"] = i.get("created").and_then(Value::as_i64).map(time::rfc3339).into();
    }
    if kind_of(row) == "dataset" {
        v["files"] = m
            .layers
            .iter()
            .filter_map(|l| {
                let t = l.title()?;
                Some(json!({"path": t, "size": l.size, "digest": l.digest,
                    "download_url": download_url(st, repo, &row.digest, Some(t))}))
            })
            .collect();
    }
    Ok(v)
}

/// `gantry rm`: a tag removes the tag, a digest removes the manifest (and its tags).
async fn delete_image(
    State(st): State<AppState>,
    caller: Caller,
    Path(reference): Path<String>,
) -> ApiResult<StatusCode> {
    let r = ImageRef::parse(&reference)?;
    let ctx = st.repo(caller.get(), &r.repo, Access::Manage).await?;
    let gone = match &r.target {
        RefTarget::Tag(t) => st.store.delete_tag(ctx.repo.id, t).await?,
        RefTarget::Digest(d) => st.store.delete_manifest(ctx.repo.id, d).await?,
    };
    if !gone {
        return Err(Error::new(ErrorKind::ManifestUnknown, format!("{r} not found")).into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Splits `repo@digest[/path]` or `repo:tag[/path]`.
pub fn parse_download(rest: &str) -> Result<(RepoName, RefTarget, Option<String>)> {
    let bad = || Error::not_found("download URLs look like /download/COLLECTION/NAME@sha256:…[/FILE]");
    if let Some((repo, after)) = rest.split_once('@') {
        let (d, path) = match after.split_once('/') {
            Some((d, p)) => (d, Some(p.to_string())),
            None => (after, None),
        };
        return Ok((RepoName::parse(repo)?, RefTarget::Digest(Digest::parse(d)?), path));
    }
    let (repo, after) = rest.split_once(':').ok_or_else(bad)?;
    let (t, path) = match after.split_once('/') {
        Some((t, p)) => (t, Some(p.to_string())),
        None => (after, None),
    };
    Ok((RepoName::parse(repo)?, RefTarget::Tag(Tag::parse(t)?), path))
}

/// `GET|HEAD /download/…`: a SIF image's file, a dataset's file, a single-file
/// artifact, or otherwise the manifest itself.
async fn download(
    State(st): State<AppState>,
    caller: Caller,
    method: Method,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> ApiResult<Response> {
    let rest = uri.path().strip_prefix("/download/").unwrap_or("");
    let (repo, target, path) = parse_download(&percent_decode(rest))?;
    let ctx = st.repo(caller.get(), &repo, Access::Read).await?;
    let row = st.resolve(&ctx.repo, &target).await?;
    let content = st.store.manifest_content(row.id).await?;
    let m = Manifest::parse(&content, Some(&row.media_type))?;
    let tag = match &target {
        RefTarget::Tag(t) => Some(t.as_str().to_string()),
        RefTarget::Digest(_) => None,
    };
    let layer = match &path {
        Some(p) => Some(
            m.layers
                .iter()
                .find(|l| l.title() == Some(p.as_str()))
                .ok_or_else(|| Error::not_found(format!("{p} is not a file of {repo}")))?,
        ),
        None if m.is_sif() => m.layers.iter().find(|l| l.media_type == manifest::SIF_LAYER),
        None if m.layers.len() == 1 && !m.is_dataset() && kind_of(&row) != "image" => m.layers.first(),
        None => None,
    };
    match layer {
        Some(l) => {
            let size = st
                .store
                .blob_in_repo(ctx.repo.id, &l.digest)
                .await?
                .ok_or_else(|| Error::internal(format!("blob {} of {repo} is missing", l.digest)))?;
            let filename = match (&path, m.is_sif()) {
                (Some(p), _) => p.rsplit('/').next().unwrap_or(p).to_string(),
                (None, true) => match &tag {
                    Some(t) => format!("{}_{t}.sif", repo.basename()),
                    None => format!("{}.sif", repo.basename()),
                },
                (None, false) => l.title().map(str::to_string).unwrap_or_else(|| repo.basename().to_string()),
            };
            Ok(serve_blob(&st, &l.digest, size as u64, &method, &headers, Some(&filename)).await?)
        }
        None => {
            let mut r = if method == Method::HEAD {
                Response::new(axum::body::Body::empty())
            } else {
                Response::new(axum::body::Body::from(content.clone()))
            };
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(&row.media_type).unwrap_or(HeaderValue::from_static("application/json")),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(content.len()));
            h.insert(header::ETAG, HeaderValue::from_str(&format!("\"{}\"", row.digest)).unwrap());
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_paths() {
        let d = Digest::of(b"x");
        let (r, t, p) = parse_download(&format!("lab/data@{d}/sub/file.txt")).unwrap();
        assert_eq!((r.as_str(), t, p.as_deref()), ("lab/data", RefTarget::Digest(d.clone()), Some("sub/file.txt")));
        let (r, t, p) = parse_download("lab/tool:1.0").unwrap();
        assert_eq!((r.as_str(), t, p), ("lab/tool", RefTarget::Tag(Tag::parse("1.0").unwrap()), None));
        assert!(parse_download("lab/tool").is_err());
        assert!(parse_download("../etc@sha256:00").is_err());
    }
}
