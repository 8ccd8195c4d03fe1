//! The endpoint manager API (`/v0.10/endpoint_manager/…`): what an endpoint's
//! administrators, activity managers and activity monitors see and do about every task
//! that uses it — not only their own — and the pause rules they set. A role on a
//! mapped collection reaches the guest collections it hosts.

mod endpoints;
mod pause_rules;
mod tasks;

use crate::service::Service;
use crate::tasks::model::Task;
use crate::transfer::caller::{Caller, TResult, terr};
use crate::transfer::roles::RoleName;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

/// Who sees an endpoint's activity.
pub const MONITOR: &[RoleName] = &[RoleName::Administrator, RoleName::ActivityManager, RoleName::ActivityMonitor];
/// Who acts on it (cancel, pause, pause rules).
pub const MANAGE: &[RoleName] = &[RoleName::Administrator, RoleName::ActivityManager];

pub fn routes() -> Router<Service> {
    let em = |p: &str| format!("/v0.10/endpoint_manager/{p}");
    Router::new()
        .route(&em("monitored_endpoints"), get(endpoints::monitored_endpoints))
        .route(&em("endpoint/{id}"), get(endpoints::get_endpoint))
        .route(&em("endpoint/{id}/hosted_endpoint_list"), get(endpoints::hosted_endpoint_list))
        .route(&em("endpoint/{id}/access_list"), get(endpoints::acl_list))
        .route(&em("task_list"), get(tasks::task_list))
        .route(&em("task/{id}"), get(tasks::get_task))
        .route(&em("task/{id}/event_list"), get(tasks::event_list))
        .route(&em("task/{id}/pause_info"), get(tasks::pause_info))
        .route(&em("task/{id}/successful_transfers"), get(tasks::successful_transfers))
        .route(&em("task/{id}/skipped_errors"), get(tasks::skipped_errors))
        .route(&em("admin_cancel"), post(tasks::admin_cancel))
        .route(&em("admin_cancel/{id}"), get(tasks::admin_cancel_status))
        .route(&em("admin_pause"), post(tasks::admin_pause))
        .route(&em("admin_resume"), post(tasks::admin_resume))
        .route(&em("pause_rule_list"), get(pause_rules::list))
        .route(&em("pause_rule"), post(pause_rules::create))
        .route(&em("pause_rule/{id}"), get(pause_rules::get).put(pause_rules::update).delete(pause_rules::delete))
}

impl Service {
    /// Whether the caller holds one of `roles` on `endpoint` or on the collection hosting it.
    pub async fn holds_on(&self, c: &Caller, endpoint: &str, roles: &[RoleName]) -> bool {
        let eps = self.endpoints();
        let Some(ep) = eps.iter().find(|e| e.id == endpoint) else { return false };
        let host = ep.host_endpoint.as_deref().and_then(|h| eps.iter().find(|e| e.id == h));
        for e in std::iter::once(ep).chain(host) {
            if self.effective_roles(c, e).await.iter().any(|r| roles.contains(r)) {
                return true;
            }
        }
        false
    }

    /// Whether the caller holds one of `roles` on an endpoint the task uses.
    pub async fn manages_task(&self, c: &Caller, t: &Task, roles: &[RoleName]) -> bool {
        for (eps, _) in t.uses(self) {
            if let Some(first) = eps.first()
                && self.holds_on(c, first, roles).await
            {
                return true;
            }
        }
        false
    }

    /// A task the caller may see (or act on) as an endpoint manager; any other is "not found".
    pub async fn managed_task(&self, c: &Caller, id: &str, roles: &[RoleName], res: &str) -> TResult<Task> {
        let t: Option<Task> = self.db.get("task", id).await.map_err(|e| crate::error::unavailable(e, res))?;
        match t {
            Some(t) if self.manages_task(c, &t, roles).await => Ok(t),
            _ => Err(terr(StatusCode::NOT_FOUND, "TaskNotFound", &format!("Task '{id}' not found"), res)),
        }
    }
}
