//! The task API: submitting transfers and deletes, listing, showing, updating,
//! cancelling, events and pause info.

use super::model::*;
use crate::error::GlobusError;
use crate::filter::{Filters, Params};
use crate::paths;
use crate::service::Service;
use crate::store::{now, random_uuid};
use crate::transfer::caller::{Call, Caller, TResult, terr, unavailable};
use crate::wire::{TransferJson, list_doc, paging, request_id, result};
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gantry_domain::time::parse_utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/v0.10/transfer", post(submit_transfer))
        .route("/v0.10/delete", post(submit_delete))
        .route("/v0.10/task_list", get(task_list))
        .route("/v0.10/task/{id}", get(task_get).put(task_update))
        .route("/v0.10/task/{id}/event_list", get(event_list))
        .route("/v0.10/task/{id}/cancel", post(cancel))
        .route("/v0.10/task/{id}/pause_info", get(pause_info))
}

// ---------- request documents ----------

/// What every submission may carry besides its items. Fields a client sends as `null`
/// count as not sent.
#[derive(Debug, Deserialize)]
pub(super) struct TaskOptions {
    label: Option<String>,
    deadline: Option<String>,
    submission_id: Option<String>,
    sync_level: Option<i64>,
    verify_checksum: Option<bool>,
    preserve_timestamp: Option<bool>,
    ignore_missing: Option<bool>,
    skip_source_errors: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TransferItemDoc {
    source_path: String,
    destination_path: String,
    recursive: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct TransferRequest {
    source_endpoint: String,
    destination_endpoint: String,
    #[serde(rename = "DATA", default)]
    data: Vec<TransferItemDoc>,
    #[serde(flatten)]
    options: TaskOptions,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteItemDoc {
    path: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteRequest {
    endpoint: String,
    #[serde(rename = "DATA", default)]
    data: Vec<DeleteItemDoc>,
    recursive: Option<bool>,
    #[serde(flatten)]
    options: TaskOptions,
}

#[derive(Debug, Deserialize)]
pub(super) struct TaskUpdate {
    label: Option<String>,
    deadline: Option<String>,
}

fn deadline(v: Option<&str>, res: &str) -> TResult<Option<i64>> {
    match v {
        None => Ok(None),
        Some(d) => parse_utc(d).map(Some).ok_or_else(|| {
            terr(
                StatusCode::BAD_REQUEST,
                "ClientError.BadRequest",
                &format!("deadline {d:?} is not a UTC time such as 2026-01-31 12:00:00"),
                res,
            )
        }),
    }
}

// ---------- submission ----------

/// `{"DATA_TYPE": "transfer_result", ...}` for a task accepted now or before.
fn submission_doc(task: &Task, code: &str, message: &str, task_id: &str, sid: &str, res: &str) -> Value {
    json!({"DATA_TYPE": format!("{}_result", task.kind.as_str().to_lowercase()), "code": code, "message": message,
        "task_id": task_id, "submission_id": sid, "request_id": request_id(), "resource": res,
        "task_link": {"DATA_TYPE": "link", "href": format!("task/{task_id}?format=json"), "rel": "related",
            "resource": "task", "title": "related task"}})
}

pub(super) async fn accept(
    s: &Service,
    c: &Caller,
    sid: Option<String>,
    mut task: Task,
    res: &str,
) -> TResult<Response> {
    if let Some(sid) = &sid {
        // A submission id is accepted once and only once.
        if let Some(existing) = s.db.get::<String>("submission", sid).await.map_err(|e| unavailable(e, res))? {
            let msg = "A transfer with identical submission_id was already submitted";
            return Ok(axum::Json(submission_doc(&task, "Duplicate", msg, &existing, sid, res)).into_response());
        }
    }
    task.owner = c.identity.clone();
    task.username = c.usernames.first().cloned().unwrap_or_else(|| c.identity.clone());
    let sid = sid.unwrap_or_else(random_uuid);
    if !s.db.insert_new("submission", &sid, &task.task_id).await.map_err(|e| unavailable(e, res))? {
        return Err(terr(StatusCode::CONFLICT, "Conflict", "submission_id is being used concurrently", res));
    }
    task.event("STARTED", "started", "Task accepted", false);
    s.db.put("task", &task.task_id, &task, None).await.map_err(|e| unavailable(e, res))?;
    s.wake.notify_one();
    let kind = task.kind.as_str().to_lowercase();
    let msg = format!("The {kind} has been accepted and a task has been created and queued for execution");
    Ok((StatusCode::ACCEPTED, axum::Json(submission_doc(&task, "Accepted", &msg, &task.task_id, &sid, res)))
        .into_response())
}

fn new_task(kind: TaskKind, src: &str, dst: &str, o: &TaskOptions, items: Vec<Item>, res: &str) -> TResult<Task> {
    if let Some(l) = o.sync_level
        && !(0..=3).contains(&l)
    {
        return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", "sync_level must be 0 to 3", res));
    }
    Ok(Task {
        task_id: random_uuid(),
        kind,
        status: TaskStatus::Active,
        label: o.label.clone(),
        owner: String::new(),
        username: String::new(),
        source_endpoint: src.into(),
        destination_endpoint: dst.into(),
        items,
        sync_level: o.sync_level,
        verify_checksum: o.verify_checksum.unwrap_or(false),
        preserve_timestamp: o.preserve_timestamp.unwrap_or(false),
        ignore_missing: o.ignore_missing.unwrap_or(false),
        deadline: deadline(o.deadline.as_deref(), res)?,
        planned: false,
        next: 0,
        files: 0,
        directories: 0,
        files_transferred: 0,
        files_skipped: 0,
        bytes_transferred: 0,
        bytes_checksummed: 0,
        faults: 0,
        request_time: now(),
        completion_time: None,
        fatal_error: None,
        events: vec![],
        canceled: false,
        sync_skipped: vec![],
        skip_source_errors: o.skip_source_errors.unwrap_or(false),
        skipped_errors: vec![],
        admin_paused: None,
        canceled_by_admin: None,
    })
}

/// Refuses a write on `path` unless the caller may write there.
async fn may_write(s: &Service, c: &Caller, ep: &crate::config::Endpoint, path: &str, res: &str) -> TResult<()> {
    let parts = paths::components(path)
        .map_err(|_| terr(StatusCode::FORBIDDEN, "PermissionDenied", "path outside the endpoint", res))?;
    s.assurance(c, ep, res)?;
    if s.permission(c, ep, &parts).await != Some("rw") {
        let msg = format!("No write permission on {path}");
        return Err(terr(StatusCode::FORBIDDEN, "EndpointPermissionDenied", &msg, res));
    }
    Ok(())
}

pub(super) async fn submit_transfer(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<TransferRequest>,
) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let src = s.endpoint(&body.source_endpoint, &res)?;
    let dst = s.endpoint(&body.destination_endpoint, &res)?;
    if body.data.is_empty() {
        let msg = "A transfer requires at least one item";
        return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest.NoTransferItems", msg, &res));
    }
    let mut items = vec![];
    for d in &body.data {
        let (sp, dp) = (d.source_path.as_str(), d.destination_path.as_str());
        let recursive = d.recursive.unwrap_or(false);
        let real = match s.open_path(&c, &src, sp, "r", false, &res).await {
            Ok((_, real)) => Some(real),
            // With skip_source_errors a missing source is passed over when the task runs.
            Err(GlobusError::Transfer { code, .. })
                if body.options.skip_source_errors == Some(true) && code == "ClientError.NotFound" =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        if real.is_some_and(|r| r.is_dir()) && !recursive {
            let msg = format!("{sp} is a directory: use recursive");
            return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", &msg, &res));
        }
        may_write(&s, &c, &dst, dp, &res).await?;
        items.push(Item { source: sp.into(), destination: dp.into(), recursive });
    }
    let task = new_task(TaskKind::Transfer, &src.id, &dst.id, &body.options, items, &res)?;
    accept(&s, &c, body.options.submission_id, task, &res).await
}

pub(super) async fn submit_delete(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<DeleteRequest>,
) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let ep = s.endpoint(&body.endpoint, &res)?;
    if body.data.is_empty() {
        let msg = "A delete requires at least one item";
        return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest.NoDeleteItems", msg, &res));
    }
    let recursive = body.recursive.unwrap_or(false);
    let mut items = vec![];
    for d in &body.data {
        let p = d.path.as_str();
        if paths::components(p).is_ok_and(|parts| parts.is_empty()) {
            let msg = "refusing to delete the root of an endpoint";
            return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", msg, &res));
        }
        may_write(&s, &c, &ep, p, &res).await?;
        items.push(Item { source: p.into(), destination: String::new(), recursive });
    }
    let task = new_task(TaskKind::Delete, &ep.id, &ep.id, &body.options, items, &res)?;
    accept(&s, &c, body.options.submission_id, task, &res).await
}

// ---------- one task ----------

pub(super) async fn own_task(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Task> {
    let missing = terr(StatusCode::NOT_FOUND, "TaskNotFound", &format!("Task '{id}' not found"), res);
    s.owned(headers, ("task", id), |t: &Task| &t.owner, missing, res).await
}

pub(super) async fn task_get(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let t = own_task(&s, &headers, &id, &res).await?;
    Ok(axum::Json(t.doc(&s)).into_response())
}

pub(super) async fn task_update(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<TaskUpdate>,
) -> TResult<Response> {
    let res = res.as_str();
    let _guard = s.task_lock.lock().await;
    let mut t = own_task(&s, &headers, &id, res).await?;
    if let Some(l) = body.label {
        t.label = Some(l);
    }
    if let Some(d) = deadline(body.deadline.as_deref(), res)? {
        t.deadline = Some(d);
    }
    s.db.put("task", &t.task_id, &t, None).await.map_err(|e| unavailable(e, res))?;
    Ok(axum::Json(result("Updated", "Updated successfully", res)).into_response())
}

/// The fields of a task document that `orderby` may name.
const TASK_FIELDS: &[&str] = &[
    "task_id",
    "type",
    "status",
    "label",
    "request_time",
    "completion_time",
    "deadline",
    "owner_id",
    "username",
    "source_endpoint_id",
    "destination_endpoint_id",
    "bytes_transferred",
    "files",
    "files_transferred",
    "faults",
];

/// The time fields of a task document, whose `from,to` filters are ranges.
pub(crate) const TASK_TIMES: &[&str] = &["request_time", "completion_time", "deadline"];

/// Filters, orders and pages task documents as `task_list` does (also for the
/// endpoint manager's list).
pub(crate) fn list_tasks(docs: Vec<Value>, q: &Params, res: &str) -> TResult<Value> {
    let (offset, limit) = paging(&q.last_values(), 1000, 1000, res)?;
    let bad = |why: String| terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", &why, res);
    let filters = Filters::parse(&q.all("filter"), TASK_TIMES).map_err(bad)?;
    let mut docs: Vec<Value> = docs.into_iter().filter(|d| filters.keep(d)).collect();
    let orderby = q.all("orderby");
    let orderby = if orderby.is_empty() { vec!["request_time DESC"] } else { orderby };
    crate::filter::order(&mut docs, &orderby, TASK_FIELDS, "task_id").map_err(bad)?;
    let total = docs.len();
    let page: Vec<Value> = docs.into_iter().skip(offset).take(limit).collect();
    Ok(list_doc("task_list", page, offset, limit, total))
}

pub(super) async fn task_list(Call { s, headers, res }: Call, q: Params) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let tasks = s.db.list::<Task>("task").await.map_err(|e| unavailable(e, res))?;
    let docs = tasks.into_iter().map(|(_, t)| t).filter(|t| c.ids.contains(&t.owner)).map(|t| t.doc(&s)).collect();
    Ok(axum::Json(list_tasks(docs, &q, res)?).into_response())
}

pub(super) async fn event_list(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = own_task(&s, &headers, &id, &res).await?;
    Ok(axum::Json(events_doc(&t, &q, &res)?).into_response())
}

/// A page of a task's events, newest first; `filter=is_error:1` keeps the errors.
pub(crate) fn events_doc(t: &Task, q: &HashMap<String, String>, res: &str) -> TResult<Value> {
    let (offset, limit) = paging(q, 1000, 1000, res)?;
    let errors_only =
        q.get("filter").is_some_and(|f| f.contains("is_error:1")) || q.get("filter_is_error").is_some_and(|v| v == "1");
    let mut evs: Vec<&Event> = t.events.iter().filter(|e| !errors_only || e.is_error).collect();
    evs.reverse();
    let total = evs.len();
    let page: Vec<Value> = evs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|e| {
            json!({"DATA_TYPE": "event", "code": e.code, "description": e.description, "details": e.details,
            "is_error": e.is_error, "time": globus_time(e.time)})
        })
        .collect();
    Ok(list_doc("event_list", page, offset, limit, total))
}

pub(super) async fn cancel(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let res = res.as_str();
    let _guard = s.task_lock.lock().await;
    let t = own_task(&s, &headers, &id, res).await?;
    if !cancel_task(&s, t, None, res).await? {
        return Ok(axum::Json(result("TaskComplete", "The task already completed", res)).into_response());
    }
    Ok(axum::Json(result("Canceled", "The task has been cancelled successfully.", res)).into_response())
}

/// Cancels an active task (the caller holds `task_lock`); false when it had completed.
/// `by_admin` names the endpoint manager who canceled it, and their message.
pub(crate) async fn cancel_task(
    s: &Service,
    mut t: Task,
    by_admin: Option<(String, String)>,
    res: &str,
) -> TResult<bool> {
    if t.status != TaskStatus::Active {
        return Ok(false);
    }
    {
        let mut live = s.live.lock().unwrap();
        if live.finishing.contains(&t.task_id) {
            return Ok(false); // its last file is in place: it is complete
        }
        live.canceled.insert(t.task_id.clone());
    }
    t.canceled = true;
    t.status = TaskStatus::Failed;
    t.completion_time = Some(now());
    t.fatal_error = Some(("CANCELED".into(), "canceled".into()));
    let who = if by_admin.is_some() { "an endpoint manager" } else { "the user" };
    t.event("CANCELED", "canceled", &format!("The task was canceled by {who}"), true);
    t.canceled_by_admin = by_admin;
    s.db.put("task", &t.task_id, &t, None).await.map_err(|e| unavailable(e, res))?;
    Ok(true)
}

pub(super) async fn pause_info(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let t = own_task(&s, &headers, &id, &res).await?;
    Ok(axum::Json(pause_info_doc(&s, &t, true)).into_response())
}

/// Why a task is paused: the rules that pause it (limited documents for its owner) and
/// the messages of the endpoints it uses.
pub(crate) fn pause_info_doc(s: &Service, t: &Task, limited: bool) -> Value {
    let eps = s.endpoints();
    let rules = t.pause_rules(s);
    let name = |id: &str| eps.iter().find(|e| e.id == id).map(|e| e.display_name.as_str());
    let message_on = |ep: &str| -> Value {
        let host = eps.iter().find(|e| e.id == ep).and_then(|e| e.host_endpoint.as_deref());
        let on: Vec<&str> = rules
            .iter()
            .filter(|r| r.endpoint_id == ep || Some(r.endpoint_id.as_str()) == host)
            .map(|r| r.message.as_str())
            .collect();
        if on.is_empty() { Value::Null } else { json!(on.join("\n")) }
    };
    let docs: Vec<Value> = rules.iter().map(|r| r.doc(name(&r.endpoint_id), limited)).collect();
    let dst = (t.kind == TaskKind::Transfer).then_some(t.destination_endpoint.as_str());
    json!({"DATA_TYPE": if limited { "pause_info_limited" } else { "pause_info" },
        "message": t.admin_paused, "endpoint_display_name": null,
        "source_pause_message": message_on(&t.source_endpoint), "source_pause_message_limited": message_on(&t.source_endpoint),
        "destination_pause_message": dst.map(message_on), "destination_pause_message_limited": dst.map(message_on),
        "pause_rules": docs})
}
