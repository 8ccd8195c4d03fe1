//! The caller's bookmarks.

use crate::service::Service;
use crate::store::random_uuid;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::caller::*;

// ---------- bookmarks ----------

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Bookmark {
    id: String,
    owner: String,
    name: String,
    endpoint_id: String,
    path: String,
    pinned: bool,
}

pub(super) fn bookmark_doc(b: &Bookmark) -> Value {
    json!({"DATA_TYPE": "bookmark", "id": b.id, "name": b.name, "endpoint_id": b.endpoint_id, "path": b.path, "pinned": b.pinned})
}

pub(super) async fn bookmarks_of(s: &Service, c: &Caller) -> Vec<Bookmark> {
    let mut out: Vec<Bookmark> = s
        .config
        .bookmarks
        .iter()
        .filter(|b| c.usernames.contains(&b.owner))
        .map(|b| Bookmark {
            id: b.id.clone(),
            owner: b.owner.clone(),
            name: b.name.clone(),
            endpoint_id: b.endpoint_id.clone(),
            path: b.path.clone(),
            pinned: false,
        })
        .collect();
    for (_, b) in s.db.list::<Bookmark>("bookmark").await.unwrap_or_default() {
        if c.ids.contains(&b.owner) {
            out.push(b);
        }
    }
    out
}

pub(super) async fn bookmark_list(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    let c = match s.transfer_caller(&headers, uri.path()).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let list: Vec<Value> = bookmarks_of(&s, &c).await.iter().map(bookmark_doc).collect();
    axum::Json(json!({"DATA_TYPE": "bookmark_list", "DATA": list})).into_response()
}

pub(super) async fn bookmark_create(
    State(s): State<Service>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    let c = match s.transfer_caller(&headers, &res).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let name = body["name"].as_str().unwrap_or("").trim().to_string();
    let ep = body["endpoint_id"].as_str().unwrap_or("").to_string();
    let path = body["path"].as_str().unwrap_or("").to_string();
    if name.is_empty() || !path.starts_with('/') {
        return terr(StatusCode::BAD_REQUEST, "BadRequest", "A bookmark needs a name and an absolute path", &res)
            .into_response();
    }
    if let Err(r) = s.endpoint(&ep, &res) {
        return r.into_response();
    }
    if bookmarks_of(&s, &c).await.iter().any(|b| b.name == name) {
        return terr(StatusCode::CONFLICT, "Exists", &format!("A bookmark named '{name}' exists already"), &res)
            .into_response();
    }
    let b = Bookmark {
        id: random_uuid(),
        owner: c.identity.clone(),
        name,
        endpoint_id: ep,
        path,
        pinned: body["pinned"].as_bool().unwrap_or(false),
    };
    let _ = s.db.put("bookmark", &b.id, &b, None).await;
    (StatusCode::CREATED, axum::Json(bookmark_doc(&b))).into_response()
}

pub(super) async fn own_bookmark(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Bookmark> {
    let c = s.transfer_caller(headers, res).await?;
    match s.db.get::<Bookmark>("bookmark", id).await.ok().flatten() {
        Some(b) if c.ids.contains(&b.owner) => Ok(b),
        _ => Err(terr(StatusCode::NOT_FOUND, "BookmarkNotFound", &format!("No bookmark '{id}'"), res)),
    }
}

pub(super) async fn bookmark_get(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match own_bookmark(&s, &headers, &id, uri.path()).await {
        Ok(b) => axum::Json(bookmark_doc(&b)).into_response(),
        Err(r) => r.into_response(),
    }
}

pub(super) async fn bookmark_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let mut b = match own_bookmark(&s, &headers, &id, uri.path()).await {
        Ok(b) => b,
        Err(r) => return r.into_response(),
    };
    if let Some(n) = body["name"].as_str() {
        b.name = n.to_string();
    }
    if let Some(p) = body["pinned"].as_bool() {
        b.pinned = p;
    }
    let _ = s.db.put("bookmark", &b.id, &b, None).await;
    axum::Json(bookmark_doc(&b)).into_response()
}

pub(super) async fn bookmark_delete(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = own_bookmark(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    let _ = s.db.delete("bookmark", &id).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Deleted", "message": "Bookmark deleted successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}
