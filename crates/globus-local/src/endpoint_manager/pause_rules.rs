//! Pause rules: created, listed, changed and removed by an endpoint's activity managers
//! (and administrators); monitors may read them. A change takes effect on the next
//! look the worker takes (within half a second).

use super::{MANAGE, MONITOR};
use crate::error::GlobusError;
use crate::pause::PauseRule;
use crate::service::Service;
use crate::store::{now, random_uuid};
use crate::transfer::caller::{Call, Caller, TResult, terr, unavailable};
use crate::wire::{TransferJson, present, result};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gantry_domain::time::parse_utc;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// A pause rule as a client sends it. Task operations are paused unless told otherwise;
/// ls, mkdir and rename are not.
#[derive(Debug, Deserialize)]
pub(super) struct RuleDoc {
    endpoint_id: Option<String>,
    message: Option<String>,
    #[serde(default, deserialize_with = "present")]
    identity_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    start_time: Option<Option<String>>,
    pause_ls: Option<bool>,
    pause_mkdir: Option<bool>,
    pause_rename: Option<bool>,
    pause_task_delete: Option<bool>,
    pause_task_transfer_write: Option<bool>,
    pause_task_transfer_read: Option<bool>,
}

fn bad(why: &str, res: &str) -> GlobusError {
    terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", why, res)
}

fn not_found(id: &str, res: &str) -> GlobusError {
    terr(StatusCode::NOT_FOUND, "ClientError.NotFound", &format!("No pause rule '{id}'"), res)
}

impl RuleDoc {
    /// Applies the fields sent to `r`, checking each.
    fn apply(self, s: &Service, r: &mut PauseRule, res: &str) -> TResult<()> {
        if let Some(m) = self.message {
            if m.trim().is_empty() {
                return Err(bad("message must say why the tasks are paused", res));
            }
            r.message = m;
        }
        if let Some(i) = self.identity_id {
            if let Some(id) = &i
                && s.config.identity_by_id(id).is_none()
            {
                return Err(bad(&format!("identity_id {id:?} is not an identity"), res));
            }
            r.identity_id = i;
        }
        if let Some(t) = self.start_time {
            r.start_time = match t {
                None => None,
                Some(t) => Some(parse_utc(&t).ok_or_else(|| bad(&format!("start_time {t:?} is not a time"), res))?),
            };
        }
        let set = |field: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut r.pause_ls, self.pause_ls);
        set(&mut r.pause_mkdir, self.pause_mkdir);
        set(&mut r.pause_rename, self.pause_rename);
        set(&mut r.pause_task_delete, self.pause_task_delete);
        set(&mut r.pause_task_transfer_write, self.pause_task_transfer_write);
        set(&mut r.pause_task_transfer_read, self.pause_task_transfer_read);
        Ok(())
    }
}

fn doc(s: &Service, r: &PauseRule) -> Value {
    let eps = s.endpoints();
    let name = eps.iter().find(|e| e.id == r.endpoint_id).map(|e| e.display_name.as_str());
    r.doc(name, false)
}

/// Writes the rule to the database and then to the rules in memory (serialised by the
/// task lock, so both stay in the same order of changes).
async fn store(s: &Service, r: &PauseRule, res: &str) -> TResult<()> {
    s.db.put("pause_rule", &r.id, r, None).await.map_err(|e| unavailable(e, res))?;
    let mut rules = s.pauses.write().unwrap();
    rules.retain(|x| x.id != r.id);
    rules.push(r.clone());
    Ok(())
}

/// A rule on an endpoint where the caller holds one of `roles`; any other is not found.
async fn rule_for(
    s: &Service,
    c: &Caller,
    id: &str,
    roles: &[crate::transfer::roles::RoleName],
    res: &str,
) -> TResult<PauseRule> {
    let r = s.pauses.read().unwrap().iter().find(|r| r.id == id).cloned();
    match r {
        Some(r) if s.holds_on(c, &r.endpoint_id, roles).await => Ok(r),
        _ => Err(not_found(id, res)),
    }
}

pub(super) async fn list(
    Call { s, headers, res }: Call,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let rules: Vec<PauseRule> = s.pauses.read().unwrap().clone();
    let mut page = vec![];
    for r in rules.iter().filter(|r| q.get("filter_endpoint").is_none_or(|e| e == &r.endpoint_id)) {
        if s.holds_on(&c, &r.endpoint_id, MONITOR).await {
            page.push(doc(&s, r));
        }
    }
    Ok(axum::Json(json!({"DATA_TYPE": "pause_rule_list", "DATA": page})).into_response())
}

pub(super) async fn create(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<RuleDoc>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let endpoint = body.endpoint_id.clone().ok_or_else(|| bad("endpoint_id is required", res))?;
    s.endpoint(&endpoint, res)?;
    if !s.holds_on(&c, &endpoint, MANAGE).await {
        let msg = "Pause rules need the activity_manager or administrator role on the endpoint";
        return Err(terr(StatusCode::FORBIDDEN, "PermissionDenied", msg, res));
    }
    if body.message.is_none() {
        return Err(bad("message is required: it is shown to the tasks' owners", res));
    }
    let mut r = PauseRule {
        id: random_uuid(),
        endpoint_id: endpoint,
        identity_id: None,
        message: String::new(),
        start_time: None,
        modified_by_id: c.identity.clone(),
        modified_time: now(),
        pause_ls: false,
        pause_mkdir: false,
        pause_rename: false,
        pause_task_delete: true,
        pause_task_transfer_write: true,
        pause_task_transfer_read: true,
    };
    body.apply(&s, &mut r, res)?;
    let _guard = s.task_lock.lock().await;
    store(&s, &r, res).await?;
    Ok((StatusCode::CREATED, axum::Json(doc(&s, &r))).into_response())
}

pub(super) async fn get(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let r = rule_for(&s, &c, &id, MONITOR, &res).await?;
    Ok(axum::Json(doc(&s, &r)).into_response())
}

pub(super) async fn update(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<RuleDoc>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let _guard = s.task_lock.lock().await;
    let mut r = rule_for(&s, &c, &id, MANAGE, res).await?;
    if body.endpoint_id.as_ref().is_some_and(|e| e != &r.endpoint_id) {
        return Err(bad("a pause rule's endpoint_id cannot change", res));
    }
    body.apply(&s, &mut r, res)?;
    r.modified_by_id = c.identity.clone();
    r.modified_time = now();
    store(&s, &r, res).await?;
    s.wake.notify_one();
    Ok(axum::Json(doc(&s, &r)).into_response())
}

pub(super) async fn delete(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let _guard = s.task_lock.lock().await;
    rule_for(&s, &c, &id, MANAGE, res).await?;
    s.db.delete("pause_rule", &id).await.map_err(|e| unavailable(e, res))?;
    s.pauses.write().unwrap().retain(|r| r.id != id);
    s.wake.notify_one();
    Ok(axum::Json(result("Deleted", "The pause rule was deleted", res)).into_response())
}
