//! Transfer and delete tasks, run by a background worker that really copies files
//! between endpoint roots. Tasks are persisted after every file (and every few MiB of a
//! large one), so counters move while they run and an interrupted task continues after
//! a restart. A destination file appears under its final name only once complete.

use crate::paths;
use crate::service::Service;
use crate::staged::Staged;
use crate::store::{now, random_uuid};
use crate::transfer::{Caller, TResult, terr};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;

/// How often a running task's progress is written down.
const SAVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

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
pub fn globus_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00", rem / 3600, (rem % 3600) / 60, rem % 60)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub source: String,
    pub destination: String,
    pub recursive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    pub src: Vec<String>,
    pub dst: Vec<String>,
    pub dir: bool,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub code: String,
    pub description: String,
    pub details: String,
    pub is_error: bool,
    pub time: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub kind: String,
    pub status: String,
    pub label: Option<String>,
    pub owner: String,
    pub username: String,
    pub source_endpoint: String,
    pub destination_endpoint: String,
    pub items: Vec<Item>,
    pub sync_level: Option<i64>,
    pub verify_checksum: bool,
    pub preserve_timestamp: bool,
    pub ignore_missing: bool,
    pub deadline: Option<i64>,
    /// True once the list of files and directories (kept in its own "plan" document,
    /// written once, so that progress saves stay small) has been made.
    #[serde(default)]
    pub planned: bool,
    pub next: usize,
    pub files: u64,
    pub directories: u64,
    pub files_transferred: u64,
    pub files_skipped: u64,
    pub bytes_transferred: u64,
    pub bytes_checksummed: u64,
    pub faults: u64,
    pub request_time: i64,
    pub completion_time: Option<i64>,
    pub fatal_error: Option<(String, String)>,
    pub events: Vec<Event>,
    pub canceled: bool,
}

impl Task {
    fn event(&mut self, code: &str, description: &str, details: &str, is_error: bool) {
        self.events.push(Event {
            code: code.into(),
            description: description.into(),
            details: details.into(),
            is_error,
            time: now(),
        });
    }

    pub fn doc(&self, s: &Service) -> Value {
        let live =
            if self.status == "ACTIVE" { s.live.lock().unwrap().bytes.get(&self.task_id).copied() } else { None };
        let bytes_transferred = live.unwrap_or(0).max(self.bytes_transferred);
        let name = |id: &str| s.config.endpoints.iter().find(|e| e.id == id).map(|e| e.display_name.clone());
        let elapsed = (self.completion_time.unwrap_or_else(now) - self.request_time).max(1) as u64;
        let total = if self.planned { self.files } else { self.items.len() as u64 };
        let done = self.files_transferred + self.files_skipped;
        let is_delete = self.kind == "DELETE";
        json!({
            "DATA_TYPE": "task", "task_id": self.task_id, "type": self.kind, "status": self.status,
            "nice_status": match self.status.as_str() { "ACTIVE" if !self.planned => json!("Queued"), "ACTIVE" => json!("OK"), "FAILED" => json!(self.fatal_error.as_ref().map(|e| e.0.clone())), _ => Value::Null },
            "nice_status_short_description": if self.status == "ACTIVE" { json!("OK") } else { Value::Null },
            "nice_status_details": null, "nice_status_expires_in": -1,
            "is_ok": self.status != "FAILED", "is_paused": false, "label": self.label, "owner_id": self.owner, "username": self.username,
            "request_time": globus_time(self.request_time), "completion_time": self.completion_time.map(globus_time),
            "deadline": globus_time(self.deadline.unwrap_or(self.request_time + 86_400 * 30)),
            "source_endpoint_id": self.source_endpoint, "source_endpoint_display_name": name(&self.source_endpoint),
            "destination_endpoint_id": if is_delete { Value::Null } else { json!(self.destination_endpoint) },
            "destination_endpoint_display_name": if is_delete { Value::Null } else { json!(name(&self.destination_endpoint)) },
            "source_endpoint": self.source_endpoint, "destination_endpoint": if is_delete { Value::Null } else { json!(self.destination_endpoint) },
            "source_local_user": null, "destination_local_user": null, "source_local_user_status": null, "destination_local_user_status": null,
            "files": if is_delete { 0 } else { self.files }, "directories": self.directories, "symlinks": 0,
            "files_transferred": self.files_transferred, "files_skipped": self.files_skipped,
            "bytes_transferred": bytes_transferred, "bytes_checksummed": self.bytes_checksummed,
            "effective_bytes_per_second": bytes_transferred / elapsed, "faults": self.faults,
            "fatal_error": self.fatal_error.as_ref().map(|(c, d)| json!({"code": c, "description": d})),
            "sync_level": self.sync_level, "verify_checksum": self.verify_checksum, "preserve_timestamp": self.preserve_timestamp,
            "encrypt_data": false, "delete_destination_extra": false, "recursive_symlinks": "ignore", "skip_source_errors": false,
            "fail_on_quota_errors": false, "filter_rules": null, "history_deleted": false, "canceled_by_admin": null,
            "canceled_by_admin_message": null, "command": if is_delete { "API 0.10 delete" } else { "API 0.10 transfer" },
            "subtasks_total": total, "subtasks_succeeded": done, "subtasks_pending": total.saturating_sub(done + u64::from(self.status == "FAILED")),
            "subtasks_retrying": 0, "subtasks_failed": u64::from(self.status == "FAILED" && !self.canceled),
            "subtasks_canceled": u64::from(self.canceled), "subtasks_expired": 0, "subtasks_skipped_errors": 0,
            "delete_files": if is_delete { done } else { 0 }, "verify_checksum_failures": 0, "is_paused_by_admin": false,
        })
    }
}

fn caller_of(s: &Service, owner: &str) -> Caller {
    let person = s.config.identity_by_id(owner).map(|i| s.config.identity_set(i)).unwrap_or_default();
    Caller {
        identity: owner.to_string(),
        ids: if person.is_empty() { vec![owner.to_string()] } else { person.iter().map(|i| i.id.clone()).collect() },
        usernames: person.iter().map(|i| i.username.clone()).collect(),
        groups: crate::groups::groups_of(s, owner).into_iter().map(|(g, _)| g.id).collect(),
        session: None,
        scope: None,
    }
}

fn parse_deadline(v: &Value) -> Option<i64> {
    // Accepts "YYYY-MM-DD HH:MM:SS[+00:00]" or "YYYY-MM-DDTHH:MM:SS[Z|+00:00]" (UTC).
    let s = v.as_str()?;
    let s = s.replace('T', " ");
    let (date, time) = s.split_once(' ').unwrap_or((s.as_str(), "00:00:00"));
    let time = time.trim_end_matches('Z').split('+').next().unwrap_or("00:00:00");
    let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let t: Vec<i64> = time.split(':').filter_map(|x| x.split('.').next().and_then(|y| y.parse().ok())).collect();
    if d.len() != 3 {
        return None;
    }
    let (y, m, day) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(
        days * 86_400
            + t.first().copied().unwrap_or(0) * 3600
            + t.get(1).copied().unwrap_or(0) * 60
            + t.get(2).copied().unwrap_or(0),
    )
}

async fn accept(s: &Service, c: &Caller, body: &Value, mut task: Task, res: &str) -> Response {
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
        Ok(false) => return terr(StatusCode::CONFLICT, "Conflict", "submission_id is being used concurrently", res),
        Err(e) => return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), res),
    }
    task.event("STARTED", "started", "Task accepted", false);
    if let Err(e) = s.db.put("task", &task.task_id, &task, None).await {
        return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), res);
    }
    s.wake.notify_one();
    let kind = task.kind.to_lowercase();
    (StatusCode::ACCEPTED, axum::Json(json!({"DATA_TYPE": format!("{kind}_result"), "code": "Accepted",
        "message": format!("The {kind} has been accepted and a task has been created and queued for execution"),
        "task_id": task.task_id, "submission_id": sid, "request_id": &random_uuid()[..9], "resource": res,
        "task_link": {"DATA_TYPE": "link", "href": format!("task/{}?format=json", task.task_id), "rel": "related", "resource": "task", "title": "related task"}})))
        .into_response()
}

fn new_task(kind: &str, src: &str, dst: &str, body: &Value, items: Vec<Item>) -> Task {
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

async fn submit_transfer(State(s): State<Service>, headers: HeaderMap, uri: Uri, body: axum::Json<Value>) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
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
            let parts = paths::components(dp).map_err(|_| {
                terr(StatusCode::FORBIDDEN, "PermissionDenied", "destination outside the endpoint", &res)
            })?;
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
    .await;
    r.unwrap_or_else(|e| e)
}

async fn submit_delete(State(s): State<Service>, headers: HeaderMap, uri: Uri, body: axum::Json<Value>) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
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
    .await;
    r.unwrap_or_else(|e| e)
}

async fn own_task(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Task> {
    let c = s.transfer_caller(headers, res).await?;
    match s.db.get::<Task>("task", id).await.ok().flatten() {
        Some(t) if c.ids.contains(&t.owner) => Ok(t),
        _ => Err(terr(StatusCode::NOT_FOUND, "TaskNotFound", &format!("Task '{id}' not found"), res)),
    }
}

async fn task_get(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => axum::Json(t.doc(&s)).into_response(),
        Err(r) => r,
    }
}

async fn task_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let mut t = match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => t,
        Err(r) => return r,
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

async fn task_list(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let c = match s.transfer_caller(&headers, uri.path()).await {
        Ok(c) => c,
        Err(r) => return r,
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

async fn event_list(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let t = match own_task(&s, &headers, &id, uri.path()).await {
        Ok(t) => t,
        Err(r) => return r,
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

async fn cancel(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    let res = uri.path().to_string();
    let _guard = s.task_lock.lock().await;
    let mut t = match own_task(&s, &headers, &id, &res).await {
        Ok(t) => t,
        Err(r) => return r,
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

async fn pause_info(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    match own_task(&s, &headers, &id, uri.path()).await {
        Ok(_) => axum::Json(json!({"DATA_TYPE": "pause_info_limited", "message": null, "endpoint_display_name": null,
            "source_pause_message": null, "source_pause_message_limited": null, "destination_pause_message": null,
            "destination_pause_message_limited": null, "pause_rules": []}))
        .into_response(),
        Err(r) => r,
    }
}

// ---------- the worker ----------

/// Runs forever: picks up active tasks (also those a restart interrupted) and runs them.
pub async fn worker(s: Service) {
    let running: std::sync::Arc<tokio::sync::Mutex<std::collections::HashSet<String>>> = Default::default();
    loop {
        for (id, t) in s.db.list::<Task>("task").await.unwrap_or_default() {
            if t.status != "ACTIVE" || running.lock().await.contains(&id) {
                continue;
            }
            running.lock().await.insert(id.clone());
            let (s2, r2) = (s.clone(), running.clone());
            tokio::spawn(async move {
                if let Err(e) = run_task(&s2, &id).await {
                    tracing::warn!(task = id, "task failed: {e}");
                }
                // A finished (or canceled) task no longer needs its plan.
                if s2.db.get::<Task>("task", &id).await.ok().flatten().is_some_and(|t| t.status != "ACTIVE") {
                    let _ = s2.db.delete("plan", &id).await;
                }
                {
                    let mut live = s2.live.lock().unwrap();
                    live.bytes.remove(&id);
                    live.canceled.remove(&id);
                }
                r2.lock().await.remove(&id);
            });
        }
        let _ = tokio::time::timeout(std::time::Duration::from_millis(500), s.wake.notified()).await;
    }
}

/// Saves progress unless the task was canceled meanwhile; false when it was.
async fn save(s: &Service, t: &Task) -> anyhow::Result<bool> {
    let _g = s.task_lock.lock().await;
    let cur: Option<Task> = s.db.get("task", &t.task_id).await?;
    if cur.as_ref().is_some_and(|c| c.canceled || c.status != "ACTIVE") {
        return Ok(false);
    }
    s.db.put("task", &t.task_id, t, None).await?;
    Ok(true)
}

async fn fail(s: &Service, t: &mut Task, code: &str, msg: &str) -> anyhow::Result<()> {
    t.status = "FAILED".into();
    t.completion_time = Some(now());
    t.fatal_error = Some((code.into(), msg.into()));
    t.faults += 1;
    t.event(code, &code.to_lowercase(), msg, true);
    save(s, t).await.map(|_| ())
}

async fn run_task(s: &Service, id: &str) -> anyhow::Result<()> {
    let Some(mut t) = s.db.get::<Task>("task", id).await? else { return Ok(()) };
    let c = caller_of(s, &t.owner);
    let src = s.config.endpoints.iter().find(|e| e.id == t.source_endpoint).cloned();
    let dst = s.config.endpoints.iter().find(|e| e.id == t.destination_endpoint).cloned();
    let (Some(src), Some(dst)) = (src, dst) else {
        return fail(s, &mut t, "ENDPOINT_ERROR", "endpoint no longer exists").await;
    };
    if t.kind == "DELETE" {
        for it in t.items.clone() {
            let parts = paths::components(&it.source).unwrap_or_default();
            if s.permission(&c, &src, &parts).await != Some("rw") {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No write permission on {}", it.source)).await;
            }
            match paths::resolve(&src.root, &it.source, false) {
                Ok(p) if p.is_dir() && it.recursive => std::fs::remove_dir_all(&p)?,
                Ok(p) if p.is_dir() => {
                    return fail(
                        s,
                        &mut t,
                        "DIRECTORY_NOT_EMPTY",
                        &format!("{} is a directory: use recursive", it.source),
                    )
                    .await;
                }
                Ok(p) => std::fs::remove_file(&p)?,
                Err(_) if t.ignore_missing => {}
                Err(_) => return fail(s, &mut t, "FILE_NOT_FOUND", &format!("{} not found", it.source)).await,
            }
            t.files_transferred += 1;
            if !save(s, &t).await? {
                return Ok(());
            }
        }
        t.status = "SUCCEEDED".into();
        t.completion_time = Some(now());
        t.event("SUCCEEDED", "succeeded", "Task completed", false);
        save(s, &t).await?;
        return Ok(());
    }
    let plan: Vec<Planned> = if t.planned {
        // Resumed after a restart: a copy cut short may have left a named temporary file.
        let plan: Vec<Planned> = s.db.get("plan", id).await?.unwrap_or_default();
        let (mut seen, mut cache) = (std::collections::HashSet::new(), HashMap::new());
        for p in plan[t.next.min(plan.len())..].iter().filter(|p| !p.dir) {
            if let Some(dir) = place(&mut cache, true, &dst.root, &p.dst).and_then(|d| d.parent().map(PathBuf::from))
                && seen.insert(dir.clone())
            {
                Staged::remove_leftovers(&dir, &t.task_id[..8]);
            }
        }
        plan
    } else {
        let mut plan = vec![];
        for it in t.items.clone() {
            let sp = paths::components(&it.source).unwrap_or_default();
            if s.permission(&c, &src, &sp).await.is_none() {
                return fail(s, &mut t, "PERMISSION_DENIED", &format!("No read permission on {}", it.source)).await;
            }
            let real = match paths::resolve(&src.root, &it.source, false) {
                Ok(r) => r,
                Err(_) => {
                    return fail(s, &mut t, "FILE_NOT_FOUND", &format!("{} not found on the source", it.source)).await;
                }
            };
            let dp = paths::components(&it.destination).unwrap_or_default();
            if real.is_dir() {
                plan.push(Planned { src: sp.clone(), dst: dp.clone(), dir: true, size: 0 });
                walk(&real, &sp, &dp, &mut plan)?;
            } else {
                plan.push(Planned { src: sp, dst: dp, dir: false, size: std::fs::metadata(&real)?.len() });
            }
        }
        t.files = plan.iter().filter(|p| !p.dir).count() as u64;
        t.directories = plan.iter().filter(|p| p.dir).count() as u64;
        s.db.put("plan", id, &plan, None).await?;
        t.planned = true;
        if !save(s, &t).await? {
            return Ok(());
        }
        plan
    };
    let mut last_save = std::time::Instant::now();
    // Rules and resolved directories are looked up once per batch of files, not per file.
    let mut rules = s.rules(&dst.id).await;
    let mut dirs: HashMap<(bool, Vec<String>), PathBuf> = HashMap::new();
    while t.next < plan.len() {
        if t.deadline.is_some_and(|d| now() > d) {
            return fail(s, &mut t, "DEADLINE_EXPIRED", "The task's deadline passed before it completed").await;
        }
        let p = &plan[t.next];
        if crate::transfer::permission_with(&c, &dst, &p.dst, &rules) != Some("rw") {
            return fail(
                s,
                &mut t,
                "PERMISSION_DENIED",
                &format!("No write permission on {}", paths::display(&p.dst, p.dir)),
            )
            .await;
        }
        // The last component is never followed if it is a link: sources are opened with
        // O_NOFOLLOW, and a link at the destination is refused.
        let dst_path = place(&mut dirs, true, &dst.root, &p.dst)
            .filter(|d| !std::fs::symlink_metadata(d).is_ok_and(|m| m.file_type().is_symlink()));
        let Some(dst_path) = dst_path else {
            return fail(s, &mut t, "PERMISSION_DENIED", "destination outside the endpoint or its parent is missing")
                .await;
        };
        if p.dir {
            std::fs::create_dir_all(&dst_path)?;
        } else {
            let vanished = format!("{} vanished from the source", paths::display(&p.src, false));
            let Some(src_path) = place(&mut dirs, false, &src.root, &p.src) else {
                return fail(s, &mut t, "FILE_NOT_FOUND", &vanished).await;
            };
            match copy_one(s, &mut t, &src_path, &dst_path) {
                Ok(Copied::Done) => {}
                Ok(Copied::Canceled) => return Ok(()),
                Ok(Copied::SourceGone) => return fail(s, &mut t, "FILE_NOT_FOUND", &vanished).await,
                Err(e) => return fail(s, &mut t, "ENDPOINT_ERROR", &e.to_string()).await,
            }
        }
        t.next += 1;
        // Progress is saved a few times a second: after a crash at most the files since
        // the last save are copied again (each copy is atomic, so that is harmless).
        if last_save.elapsed() >= SAVE_EVERY {
            last_save = std::time::Instant::now();
            if !save(s, &t).await? {
                return Ok(());
            }
            rules = s.rules(&dst.id).await;
            dirs.clear();
        }
    }
    if !save(s, &t).await? {
        return Ok(()); // canceled at the very end
    }
    t.status = "SUCCEEDED".into();
    t.completion_time = Some(now());
    t.event("SUCCEEDED", "succeeded", "Task completed", false);
    save(s, &t).await?;
    Ok(())
}

/// The path of `parts` under `root`: its parent directory is resolved (and checked to
/// stay inside the root) once and cached; the last component is left to the caller.
fn place(
    cache: &mut HashMap<(bool, Vec<String>), PathBuf>,
    is_dst: bool,
    root: &std::path::Path,
    parts: &[String],
) -> Option<PathBuf> {
    let Some((last, parent)) = parts.split_last() else { return root.canonicalize().ok() };
    let key = (is_dst, parent.to_vec());
    let dir = match cache.get(&key) {
        Some(d) => d.clone(),
        None => {
            // A destination's missing directories are made, as Globus does.
            let d = if is_dst {
                paths::ensure_dir(root, parent).ok()?
            } else {
                paths::resolve(root, &paths::display(parent, true), false).ok()?
            };
            cache.insert(key, d.clone());
            d
        }
    };
    Some(dir.join(last))
}

fn walk(dir: &std::path::Path, sp: &[String], dp: &[String], out: &mut Vec<Planned>) -> anyhow::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(e.path())?;
        let (mut s2, mut d2) = (sp.to_vec(), dp.to_vec());
        s2.push(name);
        d2.push(s2.last().unwrap().clone());
        if meta.file_type().is_symlink() {
            continue; // symbolic links are not followed
        }
        if meta.is_dir() {
            out.push(Planned { src: s2.clone(), dst: d2.clone(), dir: true, size: 0 });
            walk(&e.path(), &s2, &d2, out)?;
        } else if meta.is_file() {
            out.push(Planned { src: s2, dst: d2, dir: false, size: meta.len() });
        }
    }
    Ok(())
}

fn sha_file(p: &std::path::Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(p)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

enum Copied {
    Done,
    Canceled,
    SourceGone,
}

/// Opens a regular file without following a link in its last component.
fn open_source(p: &std::path::Path) -> std::io::Result<Option<(std::fs::File, std::fs::Metadata)>> {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::open(p, OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => {
            let f = std::fs::File::from(fd);
            let m = f.metadata()?;
            Ok(m.is_file().then_some((f, m)))
        }
        Err(e) if [rustix::io::Errno::NOENT, rustix::io::Errno::LOOP, rustix::io::Errno::NOTDIR].contains(&e) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Copies one file (or skips it per sync_level); the destination appears under its name
/// only once complete (see [`Staged`]).
fn copy_one(s: &Service, t: &mut Task, src: &std::path::Path, dst: &std::path::Path) -> anyhow::Result<Copied> {
    let Some((mut r, sm)) = open_source(src)? else { return Ok(Copied::SourceGone) };
    if let (Some(level), Ok(dm)) = (t.sync_level, std::fs::metadata(dst)) {
        let skip = match level {
            0 => true,
            1 => dm.len() == sm.len(),
            2 => dm.len() == sm.len() && dm.modified()? >= sm.modified()?,
            _ => dm.len() == sm.len() && sha_file(src)? == sha_file(dst)?,
        };
        if skip {
            t.files_skipped += 1;
            return Ok(Copied::Done);
        }
    }
    let mut w = Staged::create(dst, &t.task_id[..8])?;
    let mut h = t.verify_checksum.then(Sha256::new);
    let mut last_save = std::time::Instant::now();
    loop {
        // Without a checksum to compute, the kernel copies (copy_file_range) in big
        // pieces; with one, the bytes pass through the hasher.
        let n = match h.as_mut() {
            None => std::io::copy(&mut (&mut r).take(64 << 20), w.file())?,
            Some(h) => {
                let mut buf = vec![0u8; 1 << 20];
                let n = r.read(&mut buf)?;
                w.file().write_all(&buf[..n])?;
                h.update(&buf[..n]);
                n as u64
            }
        };
        if n == 0 {
            break;
        }
        t.bytes_transferred += n;
        if last_save.elapsed() >= SAVE_EVERY {
            // Within a file, progress is published in memory only: writing the task
            // document here would make the database sync the data being copied.
            last_save = std::time::Instant::now();
            let mut live = s.live.lock().unwrap();
            live.bytes.insert(t.task_id.clone(), t.bytes_transferred);
            if live.canceled.remove(&t.task_id) {
                return Ok(Copied::Canceled); // dropping `w` throws the partial file away
            }
        }
    }
    if let Some(h) = h {
        let want = hex::encode(h.finalize());
        t.bytes_checksummed += sm.len();
        let mut again = Sha256::new();
        w.read_back(|b| again.update(b))?;
        if hex::encode(again.finalize()) != want {
            anyhow::bail!("checksum mismatch after copying {}", src.display());
        }
    }
    if t.preserve_timestamp {
        w.file().set_modified(sm.modified()?)?;
    }
    if s.live.lock().unwrap().canceled.contains(&t.task_id) {
        return Ok(Copied::Canceled); // a canceled task publishes nothing more
    }
    w.publish()?;
    t.files_transferred += 1;
    Ok(Copied::Done)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        assert_eq!(super::globus_time(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(super::parse_deadline(&serde_json::json!("2026-11-23 10:00:00")), Some(1_795_428_000));
        assert_eq!(super::parse_deadline(&serde_json::json!("2026-11-23T10:00:00+00:00")), Some(1_795_428_000));
        assert_eq!(super::globus_time(1_795_428_000), "2026-11-23T10:00:00+00:00");
    }
}
