//! Tasks as an endpoint manager sees them: the task list with Transfer's
//! `filter_*` parameters and `last_key` paging, one task, its events, its outcomes, its
//! pause info; and acting on them: cancel (with a status to follow), pause and resume.

use super::{MANAGE, MONITOR};
use crate::service::Service;
use crate::store::random_uuid;
use crate::tasks::model::{Task, TaskStatus};
use crate::tasks::{cancel_task, events_doc, pause_info_doc, skipped, successful};
use crate::transfer::caller::{Call, Caller, TResult, terr, unavailable};
use crate::wire::{TransferJson, result};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_domain::time::parse_utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;

/// At most this many task ids in `filter_task_id` and in one cancel, pause or resume.
const MAX_IDS: usize = 50;

fn bad(why: &str, res: &str) -> crate::error::GlobusError {
    terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", why, res)
}

fn denied(res: &str) -> crate::error::GlobusError {
    let msg = "A task named here does not use an endpoint on which you hold the needed role";
    terr(StatusCode::FORBIDDEN, "PermissionDenied", msg, res)
}

/// The filters of `endpoint_manager/task_list`, checked as Transfer checks them.
struct ListFilters {
    status: Option<Vec<String>>,
    task_ids: Option<Vec<String>>,
    owner: Option<String>,
    endpoint: Option<String>,
    endpoint_use: Option<String>,
    is_paused: Option<bool>,
    completion: Option<(Option<i64>, Option<i64>)>,
    min_faults: Option<u64>,
}

fn list_of(v: Option<&String>) -> Option<Vec<String>> {
    v.filter(|v| !v.is_empty()).map(|v| v.split(',').map(|x| x.trim().to_string()).collect())
}

impl ListFilters {
    fn parse(q: &HashMap<String, String>, res: &str) -> TResult<ListFilters> {
        let status = list_of(q.get("filter_status"));
        if let Some(st) = &status
            && let Some(x) = st.iter().find(|x| !["ACTIVE", "INACTIVE", "SUCCEEDED", "FAILED"].contains(&x.as_str()))
        {
            return Err(bad(&format!("filter_status: unknown status {x:?}"), res));
        }
        let running_only = status.as_ref().is_some_and(|st| st.iter().all(|x| x == "ACTIVE" || x == "INACTIVE"));
        let task_ids = list_of(q.get("filter_task_id"));
        let others = q.keys().filter(|k| k.starts_with("filter_") && *k != "filter_task_id").count();
        if task_ids.is_some() && others > 0 {
            return Err(bad("filter_task_id cannot be combined with other filters", res));
        }
        if task_ids.as_ref().is_some_and(|t| t.len() > MAX_IDS) {
            return Err(bad(&format!("filter_task_id takes at most {MAX_IDS} ids"), res));
        }
        let endpoint = q.get("filter_endpoint").cloned();
        if !running_only && task_ids.is_none() && endpoint.is_none() {
            return Err(bad(
                "filter_endpoint or filter_task_id is required unless filter_status is ACTIVE/INACTIVE",
                res,
            ));
        }
        let endpoint_use = q.get("filter_endpoint_use").cloned();
        if let Some(u) = &endpoint_use {
            if endpoint.is_none() {
                return Err(bad("filter_endpoint_use needs filter_endpoint", res));
            }
            if u != "source" && u != "destination" {
                return Err(bad("filter_endpoint_use must be source or destination", res));
            }
        }
        let is_paused = match q.get("filter_is_paused").map(|v| v.to_ascii_lowercase()) {
            None => None,
            Some(_) if !running_only => return Err(bad("filter_is_paused needs filter_status ACTIVE/INACTIVE", res)),
            Some(v) if v == "true" || v == "1" => Some(true),
            Some(v) if v == "false" || v == "0" => Some(false),
            Some(_) => return Err(bad("filter_is_paused must be true or false", res)),
        };
        let completion = match q.get("filter_completion_time") {
            None => None,
            Some(v) => {
                let (a, b) = v.split_once(',').ok_or_else(|| bad("filter_completion_time is FROM,TO", res))?;
                let at = |x: &str| -> TResult<Option<i64>> {
                    if x.trim().is_empty() {
                        return Ok(None);
                    }
                    parse_utc(x)
                        .map(Some)
                        .ok_or_else(|| bad(&format!("filter_completion_time: {x:?} is not a time"), res))
                };
                let (a, b) = (at(a)?, at(b)?);
                if a.is_none() && b.is_none() {
                    return Err(bad("filter_completion_time needs a start or an end", res));
                }
                Some((a, b))
            }
        };
        let min_faults = match q.get("filter_min_faults") {
            None => None,
            Some(v) => Some(v.parse().map_err(|_| bad("filter_min_faults must be a whole number", res))?),
        };
        let owner = q.get("filter_owner_id").cloned();
        Ok(ListFilters { status, task_ids, owner, endpoint, endpoint_use, is_paused, completion, min_faults })
    }

    fn keep(&self, s: &Service, t: &Task) -> bool {
        let status = if t.status == TaskStatus::Active { "ACTIVE" } else { t.status.as_str() };
        let uses = t.uses(s);
        let on_endpoint = |e: &str| {
            uses.iter().enumerate().any(|(i, (eps, _))| {
                let role_ok = match self.endpoint_use.as_deref() {
                    Some("source") => i == 0,
                    Some("destination") => i == 1,
                    _ => true,
                };
                role_ok && eps.iter().any(|x| x == e)
            })
        };
        let owners = crate::tasks::model::owner_ids(s, &t.owner);
        self.status.as_ref().is_none_or(|st| st.iter().any(|x| x == status))
            && self.task_ids.as_ref().is_none_or(|ids| ids.contains(&t.task_id))
            && self.owner.as_ref().is_none_or(|o| owners.contains(o))
            && self.endpoint.as_deref().is_none_or(on_endpoint)
            && self.is_paused.is_none_or(|p| t.is_paused(s) == p)
            && self.completion.is_none_or(|(a, b)| match t.completion_time {
                Some(c) => a.is_none_or(|a| c >= a) && b.is_none_or(|b| c <= b),
                None => b.is_none(), // an open end takes in the tasks still running
            })
            && self.min_faults.is_none_or(|m| t.faults >= m)
    }
}

/// The paging key of a task in the list's order (newest first).
fn key_of(t: &Task) -> (i64, String) {
    (-t.request_time, t.task_id.clone())
}

pub(super) async fn task_list(
    Call { s, headers, res }: Call,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let f = ListFilters::parse(&q, res)?;
    if let Some(e) = &f.endpoint
        && !s.holds_on(&c, e, MONITOR).await
    {
        return Err(denied(res));
    }
    let limit = match q.get("limit") {
        None => 1000,
        Some(v) => v.parse::<usize>().map_err(|_| bad("limit must be a whole number", res))?.clamp(1, 1000),
    };
    let after: Option<(i64, String)> = match q.get("last_key").filter(|k| !k.is_empty()) {
        None => None,
        Some(k) => {
            let (a, b) = k.split_once(',').ok_or_else(|| bad("last_key must be one this list gave", res))?;
            Some((a.parse().map_err(|_| bad("last_key must be one this list gave", res))?, b.to_string()))
        }
    };
    let all = s.db.list::<Task>("task").await.map_err(|e| unavailable(e, res))?;
    let mut seen = vec![];
    for (_, t) in all {
        let named = f.task_ids.as_ref().is_some_and(|ids| ids.contains(&t.task_id));
        let visible = s.manages_task(&c, &t, MONITOR).await;
        if named && !visible {
            return Err(denied(res));
        }
        if visible && f.keep(&s, &t) {
            seen.push(t);
        }
    }
    seen.sort_by_key(key_of);
    let rest: Vec<&Task> = seen.iter().filter(|t| after.as_ref().is_none_or(|k| key_of(t) > *k)).collect();
    let more = rest.len() > limit;
    let page: Vec<&Task> = rest.into_iter().take(limit).collect();
    let last_key = page.last().filter(|_| more).map(|t| {
        let (a, b) = key_of(t);
        format!("{a},{b}")
    });
    let docs: Vec<Value> = page.iter().map(|t| manager_doc(&s, t)).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "task_list", "has_next_page": more, "last_key": last_key, "DATA": docs}))
        .into_response())
}

/// A task document with what managers see besides its owner's view.
fn manager_doc(s: &Service, t: &Task) -> Value {
    let mut d = t.doc(s);
    d["owner_string"] = json!(t.username);
    d
}

async fn monitored(s: &Service, headers: &axum::http::HeaderMap, id: &str, res: &str) -> TResult<Task> {
    let c = s.transfer_caller(headers, res).await?;
    s.managed_task(&c, id, MONITOR, res).await
}

pub(super) async fn get_task(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let t = monitored(&s, &headers, &id, &res).await?;
    Ok(axum::Json(manager_doc(&s, &t)).into_response())
}

pub(super) async fn event_list(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = monitored(&s, &headers, &id, &res).await?;
    Ok(axum::Json(events_doc(&t, &q, &res)?).into_response())
}

pub(super) async fn pause_info(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let t = monitored(&s, &headers, &id, &res).await?;
    Ok(axum::Json(pause_info_doc(&s, &t, false)).into_response())
}

pub(super) async fn successful_transfers(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = monitored(&s, &headers, &id, &res).await?;
    Ok(axum::Json(successful(&s, &t, &q, &res).await?).into_response())
}

pub(super) async fn skipped_errors(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = monitored(&s, &headers, &id, &res).await?;
    Ok(axum::Json(skipped(&t, &q, &res)?).into_response())
}

// ---------- acting on tasks ----------

#[derive(Debug, Deserialize)]
pub(super) struct TaskIds {
    task_id_list: Vec<String>,
    #[serde(default)]
    message: Option<String>,
}

/// The tasks named, each of which the caller must manage; refuses them all otherwise.
async fn managed_tasks(s: &Service, c: &Caller, body: &TaskIds, res: &str) -> TResult<Vec<Task>> {
    if body.task_id_list.is_empty() || body.task_id_list.len() > MAX_IDS {
        return Err(bad(&format!("task_id_list takes 1 to {MAX_IDS} ids"), res));
    }
    let mut out = vec![];
    for id in &body.task_id_list {
        match s.db.get::<Task>("task", id).await.map_err(|e| unavailable(e, res))? {
            Some(t) if s.manages_task(c, &t, MANAGE).await => out.push(t),
            _ => return Err(denied(res)),
        }
    }
    Ok(out)
}

/// An admin cancel as it is kept, for its status.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AdminCancel {
    id: String,
    by: String,
    message: String,
    task_id_list: Vec<String>,
    processed_task_id_list: Vec<String>,
}

fn cancel_doc(a: &AdminCancel) -> Value {
    json!({"DATA_TYPE": "admin_cancel", "id": a.id, "done": true, "message": a.message,
        "task_id_list": a.task_id_list, "processed_task_id_list": a.processed_task_id_list})
}

fn required_message(body: &TaskIds, res: &str) -> TResult<String> {
    match body.message.as_deref().map(str::trim) {
        Some(m) if !m.is_empty() => Ok(m.to_string()),
        _ => Err(bad("message is required: it is shown to the tasks' owners", res)),
    }
}

pub(super) async fn admin_cancel(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<TaskIds>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let message = required_message(&body, res)?;
    let _guard = s.task_lock.lock().await;
    let tasks = managed_tasks(&s, &c, &body, res).await?;
    let mut processed = vec![];
    for t in tasks {
        let id = t.task_id.clone();
        cancel_task(&s, t, Some((c.identity.clone(), message.clone())), res).await?;
        processed.push(id);
    }
    let a = AdminCancel {
        id: random_uuid(),
        by: c.identity.clone(),
        message,
        task_id_list: body.task_id_list,
        processed_task_id_list: processed,
    };
    s.db.put("admin_cancel", &a.id, &a, None).await.map_err(|e| unavailable(e, res))?;
    Ok((StatusCode::ACCEPTED, axum::Json(cancel_doc(&a))).into_response())
}

pub(super) async fn admin_cancel_status(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let a: Option<AdminCancel> = s.db.get("admin_cancel", &id).await.map_err(|e| unavailable(e, &res))?;
    match a {
        Some(a) if c.ids.contains(&a.by) => Ok(axum::Json(cancel_doc(&a)).into_response()),
        _ => Err(terr(StatusCode::NOT_FOUND, "ClientError.NotFound", &format!("No admin cancel '{id}'"), &res)),
    }
}

/// Pauses (with a message) or resumes (None) the tasks named.
async fn set_paused(
    s: &Service,
    headers: &axum::http::HeaderMap,
    body: &TaskIds,
    pause: bool,
    res: &str,
) -> TResult<()> {
    let c = s.transfer_caller(headers, res).await?;
    let message = if pause { Some(required_message(body, res)?) } else { None };
    let _guard = s.task_lock.lock().await;
    for mut t in managed_tasks(s, &c, body, res).await? {
        if t.status != TaskStatus::Active || t.admin_paused.is_some() == pause {
            continue;
        }
        t.admin_paused = message.clone();
        let (code, what) = if pause { ("PAUSED", "paused") } else { ("UNPAUSED", "resumed") };
        t.event(code, what, &format!("The task was {what} by an endpoint manager"), false);
        s.db.put("task", &t.task_id, &t, None).await.map_err(|e| unavailable(e, res))?;
    }
    s.wake.notify_one();
    Ok(())
}

pub(super) async fn admin_pause(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<TaskIds>,
) -> TResult<Response> {
    set_paused(&s, &headers, &body, true, &res).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(result("PauseAccepted", "The tasks are being paused", &res))).into_response())
}

pub(super) async fn admin_resume(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<TaskIds>,
) -> TResult<Response> {
    set_paused(&s, &headers, &body, false, &res).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(result("ResumeAccepted", "The tasks are being resumed", &res)))
        .into_response())
}
