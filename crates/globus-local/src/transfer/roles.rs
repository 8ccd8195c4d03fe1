//! Endpoint roles: administrator, access manager, activity manager and activity
//! monitor, held by identities or groups. The owner is an administrator without a role
//! document. Administrators manage roles; access managers (and administrators) manage
//! access rules; activity managers and monitors see (and managers act on) every task
//! on the endpoint through the endpoint manager API.

use crate::config::Endpoint;
use crate::error::GlobusError;
use crate::service::Service;
use crate::store::random_uuid;
use crate::wire::{TransferJson, result};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::caller::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Administrator,
    AccessManager,
    ActivityManager,
    ActivityMonitor,
}

/// Who holds a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalType {
    Identity,
    Group,
}

/// A role document as it is kept, under `role:<endpoint id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub principal_type: PrincipalType,
    pub principal: String,
    pub role: RoleName,
}

/// Roles that may read an endpoint's role list.
pub const ANY_ROLE: &[RoleName] =
    &[RoleName::Administrator, RoleName::AccessManager, RoleName::ActivityManager, RoleName::ActivityMonitor];

fn role_doc(r: &Role) -> Value {
    json!({"DATA_TYPE": "role", "id": r.id, "principal_type": r.principal_type, "principal": r.principal,
        "role": r.role})
}

impl Service {
    async fn role_docs(&self, endpoint: &str) -> Vec<Role> {
        let mut v: Vec<Role> = self
            .db
            .list::<Role>(&format!("role:{endpoint}"))
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The roles the caller holds on `ep`, the owner's implicit administrator first.
    pub async fn effective_roles(&self, c: &Caller, ep: &Endpoint) -> Vec<RoleName> {
        let mut out = vec![];
        if c.usernames.contains(&ep.owner) {
            out.push(RoleName::Administrator);
        }
        for r in self.role_docs(&ep.id).await {
            let holds = match r.principal_type {
                PrincipalType::Identity => c.ids.contains(&r.principal),
                PrincipalType::Group => c.groups.contains(&r.principal),
            };
            if holds && !out.contains(&r.role) {
                out.push(r.role);
            }
        }
        out
    }

    /// Refuses the call unless the caller holds one of `roles` on `ep` (and meets its
    /// sign-in requirements).
    pub async fn require_role(&self, c: &Caller, ep: &Endpoint, roles: &[RoleName], res: &str) -> TResult<()> {
        let held = self.effective_roles(c, ep).await;
        if !held.iter().any(|r| roles.contains(r)) {
            let names: Vec<String> =
                roles.iter().map(|r| serde_json::to_value(r).unwrap().as_str().unwrap_or("").to_string()).collect();
            let msg = format!("This needs one of these roles on the endpoint: {}", names.join(", "));
            return Err(terr(StatusCode::FORBIDDEN, "PermissionDenied", &msg, res));
        }
        self.assurance(c, ep, res)
    }

    /// The endpoint document as the caller sees it (with `my_effective_roles`).
    pub async fn endpoint_doc_for(&self, c: &Caller, ep: &Endpoint) -> Value {
        let mut doc = self.endpoint_doc(ep);
        doc["my_effective_roles"] = json!(self.effective_roles(c, ep).await);
        doc
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct NewRole {
    principal_type: PrincipalType,
    principal: String,
    role: RoleName,
}

fn role_not_found(id: &str, res: &str) -> GlobusError {
    terr(StatusCode::NOT_FOUND, "RoleNotFound", &format!("No role '{id}'"), res)
}

pub(super) async fn role_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.require_role(&c, &ep, ANY_ROLE, &res).await?;
    let docs: Vec<Value> = s.role_docs(&id).await.iter().map(role_doc).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "role_list", "DATA": docs})).into_response())
}

pub(super) async fn role_create(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<NewRole>,
) -> TResult<Response> {
    let res = res.as_str();
    let (c, ep) = s.caller_at(&headers, &id, res).await?;
    s.require_role(&c, &ep, &[RoleName::Administrator], res).await?;
    let known = match body.principal_type {
        PrincipalType::Identity => s.config.identity_by_id(&body.principal).is_some(),
        PrincipalType::Group => s.group_exists(&body.principal).await,
    };
    if !known {
        return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown principal", res));
    }
    let existing = s.role_docs(&id).await;
    if existing
        .iter()
        .any(|r| r.principal_type == body.principal_type && r.principal == body.principal && r.role == body.role)
    {
        return Err(terr(StatusCode::CONFLICT, "Exists", "The principal holds this role already", res));
    }
    let role =
        Role { id: random_uuid(), principal_type: body.principal_type, principal: body.principal, role: body.role };
    s.db.put(&format!("role:{id}"), &role.id, &role, None).await.map_err(|e| unavailable(e, res))?;
    Ok((StatusCode::CREATED, axum::Json(role_doc(&role))).into_response())
}

pub(super) async fn role_get(
    Call { s, headers, res }: Call,
    Path((id, role)): Path<(String, String)>,
) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    s.require_role(&c, &ep, ANY_ROLE, &res).await?;
    let found = s.db.get::<Role>(&format!("role:{id}"), &role).await.map_err(|e| unavailable(e, &res))?;
    let r = found.ok_or_else(|| role_not_found(&role, &res))?;
    Ok(axum::Json(role_doc(&r)).into_response())
}

pub(super) async fn role_delete(
    Call { s, headers, res }: Call,
    Path((id, role)): Path<(String, String)>,
) -> TResult<Response> {
    let res = res.as_str();
    let (c, ep) = s.caller_at(&headers, &id, res).await?;
    s.require_role(&c, &ep, &[RoleName::Administrator], res).await?;
    if !s.db.delete(&format!("role:{id}"), &role).await.map_err(|e| unavailable(e, res))? {
        return Err(role_not_found(&role, res));
    }
    Ok(axum::Json(result("Deleted", "Role deleted successfully", res)).into_response())
}
