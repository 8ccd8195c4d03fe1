//! The caller's bookmarks.

use crate::service::Service;
use crate::store::random_uuid;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::wire::{TransferJson, result};

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

/// A new bookmark.
#[derive(Debug, Deserialize)]
pub(super) struct NewBookmark {
    name: String,
    endpoint_id: String,
    path: String,
    pinned: Option<bool>,
}

/// A change to a bookmark: what is sent is changed.
#[derive(Debug, Deserialize)]
pub(super) struct BookmarkChange {
    name: Option<String>,
    pinned: Option<bool>,
}

pub(super) async fn bookmark_list(Call { s, headers, res }: Call) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let list: Vec<Value> = bookmarks_of(&s, &c).await.iter().map(bookmark_doc).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "bookmark_list", "DATA": list})).into_response())
}

fn check_name(name: &str, res: &str) -> TResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 128 {
        return Err(terr(StatusCode::BAD_REQUEST, "BadRequest", "A bookmark's name is 1 to 128 characters", res));
    }
    Ok(name.to_string())
}

pub(super) async fn bookmark_create(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<NewBookmark>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let name = check_name(&body.name, res)?;
    if !body.path.starts_with('/') {
        return Err(terr(StatusCode::BAD_REQUEST, "BadRequest", "A bookmark's path is absolute", res));
    }
    s.endpoint(&body.endpoint_id, res)?;
    if bookmarks_of(&s, &c).await.iter().any(|b| b.name == name) {
        return Err(terr(StatusCode::CONFLICT, "Exists", &format!("A bookmark named '{name}' exists already"), res));
    }
    let b = Bookmark {
        id: random_uuid(),
        owner: c.identity.clone(),
        name,
        endpoint_id: body.endpoint_id,
        path: body.path,
        pinned: body.pinned.unwrap_or(false),
    };
    save(&s, &b, res).await?;
    Ok((StatusCode::CREATED, axum::Json(bookmark_doc(&b))).into_response())
}

async fn save(s: &Service, b: &Bookmark, res: &str) -> TResult<()> {
    s.db.put("bookmark", &b.id, b, None).await.map_err(|e| unavailable(e, res))
}

pub(super) async fn own_bookmark(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Bookmark> {
    let missing = terr(StatusCode::NOT_FOUND, "BookmarkNotFound", &format!("No bookmark '{id}'"), res);
    s.owned(headers, ("bookmark", id), |b: &Bookmark| &b.owner, missing, res).await
}

pub(super) async fn bookmark_get(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let b = own_bookmark(&s, &headers, &id, &res).await?;
    Ok(axum::Json(bookmark_doc(&b)).into_response())
}

pub(super) async fn bookmark_update(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<BookmarkChange>,
) -> TResult<Response> {
    let res = res.as_str();
    let mut b = own_bookmark(&s, &headers, &id, res).await?;
    if let Some(n) = &body.name {
        b.name = check_name(n, res)?;
    }
    if let Some(p) = body.pinned {
        b.pinned = p;
    }
    save(&s, &b, res).await?;
    Ok(axum::Json(bookmark_doc(&b)).into_response())
}

pub(super) async fn bookmark_delete(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let res = res.as_str();
    own_bookmark(&s, &headers, &id, res).await?;
    let _ = s.db.delete("bookmark", &id).await;
    Ok(axum::Json(result("Deleted", "Bookmark deleted successfully", res)).into_response())
}
