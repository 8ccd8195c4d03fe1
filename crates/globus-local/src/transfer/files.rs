//! File operations confined to an endpoint's root: ls (with filters and ordering),
//! stat, mkdir, rename; and submission ids.

use crate::filter::{Filters, Params};
use crate::paths::{self};
use crate::store::random_uuid;
use crate::wire::{TransferJson, request_id, result};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

use super::caller::*;

// ---------- file operations ----------

pub(super) fn file_doc(name: &str, meta: &std::fs::Metadata, link: Option<&std::fs::Metadata>) -> Value {
    use std::os::unix::fs::PermissionsExt;
    let m = link.unwrap_or(meta);
    let kind = if meta.file_type().is_symlink() && link.is_none() {
        "link"
    } else if m.is_dir() {
        "dir"
    } else {
        "file"
    };
    let mtime =
        m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64).unwrap_or(0);
    json!({"DATA_TYPE": "file", "name": name, "type": kind, "size": m.len(), "permissions": format!("{:04o}", m.permissions().mode() & 0o7777),
        "user": "globus", "group": "globus", "last_modified": gantry_domain::time::globus_file_time(mtime),
        "link_target": null, "link_group": null, "link_last_modified": null, "link_size": null, "link_user": null})
}

/// The fields of a file document that `orderby` may name.
const FILE_FIELDS: &[&str] = &["name", "type", "size", "permissions", "user", "group", "last_modified", "link_target"];

pub(super) async fn ls(Call { s, headers, res }: Call, Path(id): Path<String>, q: Params) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.refuse_if_paused(&c, &ep, crate::pause::Use::Ls, &res)?;
    let (offset, limit) = crate::wire::paging(&q.last_values(), 100_000, 100_000, &res)?;
    let bad = |why: String| terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", &why, &res);
    let filters = Filters::parse(&q.all("filter"), &["last_modified"]).map_err(bad)?;
    let path = q.get("path").map(str::to_string).unwrap_or_else(|| ep.default_directory.clone());
    let (parts, real) = s.open_path(&c, &ep, &path, "r", false, &res).await?;
    if !real.is_dir() {
        return Err(terr(
            StatusCode::NOT_FOUND,
            "ClientError.NotFound",
            &format!("Directory '{path}' not found on endpoint"),
            &res,
        ));
    }
    let hidden = q.get("show_hidden").is_none_or(|v| v == "1" || v == "true");
    let mut entries = vec![];
    let rd = std::fs::read_dir(&real)
        .map_err(|e| terr(StatusCode::FORBIDDEN, "ExternalError.DirListingFailed", &e.to_string(), &res))?;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !hidden && name.starts_with('.') {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue };
        // Links are shown as what they point at, when that stays inside the root.
        let target = if meta.file_type().is_symlink() {
            if paths::is_inside(&e.path(), &ep.root) { std::fs::metadata(e.path()).ok() } else { None }
        } else {
            None
        };
        let doc = file_doc(&name, &meta, target.as_ref());
        if filters.keep(&doc) {
            entries.push(doc);
        }
    }
    crate::filter::order(&mut entries, &q.all("orderby"), FILE_FIELDS, "name").map_err(bad)?;
    let total = entries.len();
    let page: Vec<Value> = entries.into_iter().skip(offset).take(limit).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "file_list", "endpoint": ep.id, "path": paths::display(&parts, true),
        "absolute_path": null, "length": page.len(), "total": total, "offset": offset, "limit": limit,
        "rename_supported": true, "symlink_supported": true, "DATA": page}))
    .into_response())
}

pub(super) async fn stat(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.refuse_if_paused(&c, &ep, crate::pause::Use::Ls, &res)?;
    let path = q.get("path").cloned().unwrap_or_default();
    let (parts, real) = s.open_path(&c, &ep, &path, "r", false, &res).await?;
    let meta = std::fs::metadata(&real)
        .map_err(|_| terr(StatusCode::NOT_FOUND, "NotFound", &format!("{path} not found"), &res))?;
    let name = parts.last().cloned().unwrap_or_else(|| "/".into());
    Ok(axum::Json(file_doc(&name, &meta, None)).into_response())
}

/// `{"path": ...}` of a directory to make.
#[derive(Debug, Deserialize)]
pub(super) struct Mkdir {
    path: String,
}

/// `{"old_path": ..., "new_path": ...}`.
#[derive(Debug, Deserialize)]
pub(super) struct Rename {
    old_path: String,
    new_path: String,
}

pub(super) async fn mkdir(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<Mkdir>,
) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.refuse_if_paused(&c, &ep, crate::pause::Use::Mkdir, &res)?;
    let path = body.path;
    let (_, real) = s.open_path(&c, &ep, &path, "rw", true, &res).await?;
    if real.exists() {
        return Err(terr(
            StatusCode::CONFLICT,
            "ExternalError.MkdirFailed.Exists",
            &format!("Path already exists: {path}"),
            &res,
        ));
    }
    std::fs::create_dir(&real)
        .map_err(|e| terr(StatusCode::CONFLICT, "ExternalError.MkdirFailed", &e.to_string(), &res))?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(json!({"DATA_TYPE": "mkdir_result", "code": "DirectoryCreated",
        "message": "The directory was created successfully", "request_id": request_id(), "resource": res})),
    )
        .into_response())
}

pub(super) async fn rename(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<Rename>,
) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.refuse_if_paused(&c, &ep, crate::pause::Use::Rename, &res)?;
    let (old, new) = (body.old_path.as_str(), body.new_path.as_str());
    let (_, from) = s.open_path(&c, &ep, old, "rw", false, &res).await?;
    let (_, to) = s.open_path(&c, &ep, new, "rw", true, &res).await?;
    if to.exists() {
        return Err(terr(StatusCode::CONFLICT, "ExternalError.RenameFailed.Exists", &format!("{new} exists"), &res));
    }
    std::fs::rename(&from, &to)
        .map_err(|e| terr(StatusCode::CONFLICT, "ExternalError.RenameFailed", &e.to_string(), &res))?;
    Ok(axum::Json(result("FileRenamed", "File or directory renamed successfully", &res)).into_response())
}

pub(super) async fn submission_id(Call { s, headers, res }: Call) -> TResult<Response> {
    s.transfer_caller(&headers, &res).await?;
    Ok(axum::Json(json!({"DATA_TYPE": "submission_id", "value": random_uuid()})).into_response())
}
