//! The task API: submitting transfers and deletes, listing, showing, updating,
//! cancelling, events and pause info.

use super::model::*;
use crate::error::terr;
use crate::paths;
use crate::service::Service;
use crate::store::{now, random_uuid};
use crate::transfer::caller::{Caller, TResult};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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

/// `2022-01-26T19:18:20+00:00`, the form Transfer uses.
pub(super) async fn accept(s: &Service, c: &Caller, body: &Value, mut task: Task, res: &str) -> Response {
    let sid = body["submission_id"].as_str().map(str::to_string);
    if let Some(sid) = &sid {
        // A submission id is accepted once and only once.
        if let Some(existing) = s.db.get::<String>("submission", sid).await.ok().flatten() {
            return (StatusCode::OK, axum::Json(json!({"DATA_TYPE": format!("{}_result", task.kind.to_lowercase()),
                "code": "Duplicate", "message": "A transfer with identical submission_id was already submitted",
                "task_id": existing, "submission_id": sid, "request_id": &random_uuid()[..9], "resource": res,
                "task_link": {"DATA_TYPE": "link", "href": format!("task/{existing}?format=json"), "rel": "related", "resource": "task", "title": "related task"}})))
                .into_response();
        }
    }
    task.owner = c.identity.clone();
    task.username = c.usernames.first().cloned().unwrap_or_else(|| c.identity.clone());
    let sid = sid.unwrap_or_else(random_uuid);
    match s.db.insert_new("submission", &sid, &task.task_id).await {
        Ok(true) => {}
        Ok(false) => {
            return terr(StatusCode::CONFLICT, "Conflict", "submission_id is being used concurrently", res)
                .into_response();
        }
        Err(e) => {
            return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), res).into_response();
        }
    }
    task.event("STARTED", "started", "Task accepted", false);
    if let Err(e) = s.db.put("task", &task.task_id, &task, None).await {
        return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), res).into_response();
    }
    s.wake.notify_one();
    let kind = task.kind.to_lowercase();
    (StatusCode::ACCEPTED, axum::Json(json!({"DATA_TYPE": format!("{kind}_result"), "code": "Accepted",
        "message": format!("The {kind} has been accepted and a task has been created and queued for execution"),
        "task_id": task.task_id, "submission_id": sid, "request_id": &random_uuid()[..9], "resource": res,
        "task_link": {"DATA_TYPE": "link", "href": format!("task/{}?format=json", task.task_id), "rel": "related", "resource": "task", "title": "related task"}})))
        .into_response()
}

pub(super) fn new_task(kind: &str, src: &str, dst: &str, body: &Value, items: Vec<Item>) -> Task {
    Task {
        task_id: random_uuid(),
        kind: kind.into(),
        status: "ACTIVE".into(),
        label: body["label"].as_str().map(str::to_string),
        owner: String::new(),
        username: String::new(),
        source_endpoint: src.into(),
        destination_endpoint: dst.into(),
        items,
        sync_level: body["sync_level"].as_i64(),
        verify_checksum: body["verify_checksum"].as_bool().unwrap_or(false),
        preserve_timestamp: body["preserve_timestamp"].as_bool().unwrap_or(false),
        ignore_missing: body["ignore_missing"].as_bool().unwrap_or(false),
        deadline: parse_deadline(&body["deadline"]),
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
    }
}

pub(super) async fn submit_transfer(
    State(s): State<Service>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::Json<Value>,
) -> TResult<Response> {
    let res = uri.path().to_string();
    let c = s.transfer_caller(&headers, &res).await?;
    let src = s.endpoint(body["source_endpoint"].as_str().unwrap_or(""), &res)?;
    let dst = s.endpoint(body["destination_endpoint"].as_str().unwrap_or(""), &res)?;
    let data = body["DATA"].as_array().cloned().unwrap_or_default();
    if data.is_empty() {
        return Err(terr(
            StatusCode::BAD_REQUEST,
            "ClientError.BadRequest.NoTransferItems",
            "A transfer requires at least one item",
            &res,
        ));
    }
    if let Some(l) = body["sync_level"].as_i64()
        && !(0..=3).contains(&l)
    {
        return Err(terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", "sync_level must be 0 to 3", &res));
    }
    let mut items = vec![];
    for d in &data {
        let (sp, dp) = (d["source_path"].as_str().unwrap_or(""), d["destination_path"].as_str().unwrap_or(""));
        let recursive = d["recursive"].as_bool().unwrap_or(false);
        let (_, real) = s.open_path(&c, src, sp, "r", false, &res).await?;
        if real.is_dir() && !recursive {
            return Err(terr(
                StatusCode::BAD_REQUEST,
                "ClientError.BadRequest",
                &format!("{sp} is a directory: use recursive"),
                &res,
            ));
        }
        let parts = paths::components(dp)
            .map_err(|_| terr(StatusCode::FORBIDDEN, "PermissionDenied", "destination outside the endpoint", &res))?;
        s.assurance(&c, dst, &res)?;
        if s.permission(&c, dst, &parts).await != Some("rw") {
            return Err(terr(
                StatusCode::FORBIDDEN,
                "EndpointPermissionDenied",
                &format!("No write permission on {dp}"),
                &res,
            ));
        }
        items.push(Item { source: sp.into(), destination: dp.into(), recursive });
    }
    let task = new_task("TRANSFER", &src.id, &dst.id, &body, items);
    Ok(accept(&s, &c, &body, task, &res).await)
}

pub(super) async fn submit_delete(
    State(s): State<Service>,
    headers: HeaderMap,
    uri: Uri,
    body: axum::Json<Value>,
) -> TResult<Response> {
    let res = uri.path().to_string();
    let c = s.transfer_caller(&headers, &res).await?;
    let ep = s.endpoint(body["endpoint"].as_str().unwrap_or(""), &res)?;
    let data = body["DATA"].as_array().cloned().unwrap_or_default();
    if data.is_empty() {
        return Err(terr(
            StatusCode::BAD_REQUEST,
            "ClientError.BadRequest.NoDeleteItems",
            "A delete requires at least one item",
            &res,
        ));
    }
    let recursive = body["recursive"].as_bool().unwrap_or(false);
    let mut items = vec![];
    for d in &data {
        let p = d["path"].as_str().unwrap_or("");
        let parts = paths::components(p)
            .map_err(|_| terr(StatusCode::FORBIDDEN, "PermissionDenied", "path outside the endpoint", &res))?;
        if parts.is_empty() {
            return Err(terr(
                StatusCode::BAD_REQUEST,
                "ClientError.BadRequest",
                "refusing to delete the root of an endpoint",
                &res,
            ));
        }
        s.assurance(&c, ep, &res)?;
        if s.permission(&c, ep, &parts).await != Some("rw") {
            return Err(terr(
                StatusCode::FORBIDDEN,
                "EndpointPermissionDenied",
                &format!("No write permission on {p}"),
                &res,
            ));
        }
        items.push(Item { source: p.into(), destination: String::new(), recursive });
    }
    let task = new_task("DELETE", &ep.id, &ep.id, &body, items);
    Ok(accept(&s, &c, &body, task, &res).await)
}

pub(super) async fn own_task(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Task> {
    let c = s.transfer_caller(headers, res).await?;
    match s.db.get::<Task>("task", id).await.ok().flatten() {
        Some(t) if c.ids.contains(&t.owner) => Ok(t),
        _ => Err(terr(StatusCode::NOT_FOUND, "TaskNotFound", &format!("Task '{id}' not found"), res)),
    }
}

pub(super) async fn task_get(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => axum::Json(t.doc(&s)).into_response(),
        Err(r) => r.into_response(),
    }
}

pub(super) async fn task_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let mut t = match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    if let Some(l) = body["label"].as_str() {
        t.label = Some(l.to_string());
    }
    if let Some(d) = parse_deadline(&body["deadline"]) {
        t.deadline = Some(d);
    }
    let _ = s.db.put("task", &t.task_id, &t, None).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Updated", "message": "Updated successfully", "resource": uri.path(), "request_id": &random_uuid()[..9]}))
        .into_response()
}

pub(super) async fn task_list(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let c = match s.transfer_caller(&headers, uri.path()).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let mut filters: HashMap<String, Vec<String>> = HashMap::new();
    for f in q.get("filter").map(String::as_str).unwrap_or("").split('/').filter(|x| !x.is_empty()) {
        if let Some((k, v)) = f.split_once(':') {
            filters.insert(k.to_string(), v.split(',').map(str::to_string).collect());
        }
    }
    let mut tasks: Vec<Task> =
        s.db.list::<Task>("task")
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, t)| t)
            .filter(|t| c.ids.contains(&t.owner))
            .filter(|t| filters.get("type").is_none_or(|v| v.contains(&t.kind)))
            .filter(|t| filters.get("status").is_none_or(|v| v.contains(&t.status)))
            .filter(|t| filters.get("task_id").is_none_or(|v| v.contains(&t.task_id)))
            .filter(|t| filters.get("label").is_none_or(|v| t.label.as_ref().is_some_and(|l| v.contains(l))))
            .collect();
    let asc = q.get("orderby").is_some_and(|o| o.ends_with("ASC"));
    tasks.sort_by_key(|t| (t.request_time, t.task_id.clone()));
    if !asc {
        tasks.reverse();
    }
    let total = tasks.len();
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(1000).min(1000);
    let page: Vec<Value> = tasks.iter().skip(offset).take(limit).map(|t| t.doc(&s)).collect();
    axum::Json(json!({"DATA_TYPE": "task_list", "length": page.len(), "limit": limit, "offset": offset, "total": total, "DATA": page}))
        .into_response()
}

pub(super) async fn event_list(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let t = match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    let errors_only = q.get("filter").is_some_and(|f| f.contains("is_error:1"));
    let mut evs: Vec<&Event> = t.events.iter().filter(|e| !errors_only || e.is_error).collect();
    evs.reverse();
    let total = evs.len();
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(1000);
    let page: Vec<Value> = evs
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|e| json!({"DATA_TYPE": "event", "code": e.code, "description": e.description, "details": e.details, "is_error": e.is_error, "time": globus_time(e.time)}))
        .collect();
    axum::Json(json!({"DATA_TYPE": "event_list", "length": page.len(), "limit": limit, "offset": offset, "total": total, "DATA": page})).into_response()
}

pub(super) async fn cancel(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    let res = uri.path().to_string();
    let _guard = s.task_lock.lock().await;
    let mut t = match own_task(&s, &headers, &id, &res).await {
        Ok(t) => t,
        Err(r) => return r.into_response(),
    };
    if t.status != "ACTIVE" {
        return axum::Json(json!({"DATA_TYPE": "result", "code": "TaskComplete", "message": "The task already completed", "resource": res, "request_id": &random_uuid()[..9]})).into_response();
    }
    t.canceled = true;
    s.live.lock().unwrap().canceled.insert(t.task_id.clone());
    t.status = "FAILED".into();
    t.completion_time = Some(now());
    t.fatal_error = Some(("CANCELED".into(), "canceled".into()));
    t.event("CANCELED", "canceled", "The task was canceled by the user", true);
    let _ = s.db.put("task", &t.task_id, &t, None).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Canceled", "message": "The task has been cancelled successfully.", "resource": res, "request_id": &random_uuid()[..9]})).into_response()
}

pub(super) async fn pause_info(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    match own_task(&s, &headers, &id, uri.path()).await {
        Ok(_) => axum::Json(json!({"DATA_TYPE": "pause_info_limited", "message": null, "endpoint_display_name": null,
            "source_pause_message": null, "source_pause_message_limited": null, "destination_pause_message": null,
            "destination_pause_message_limited": null, "pause_rules": []}))
        .into_response(),
        Err(r) => r.into_response(),
    }
}
