//! Access rules of guest collections and managed endpoints.

use crate::error::GlobusError;
use crate::paths::{self};
use crate::service::Service;
use crate::store::{now, random_uuid};
use crate::wire::{TransferJson, present, request_id, result};
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::*;
use super::roles::RoleName;

// ---------- access rules ----------

pub(crate) fn rule_doc(r: &Rule) -> Value {
    json!({"DATA_TYPE": "access", "id": r.id, "role_id": null, "role_type": null, "principal_type": r.principal_type,
        "principal": r.principal, "path": r.path, "permissions": r.permissions, "create_time": r.create_time,
        "expiration_date": r.expiration_date, "notify_email": r.notify_email})
}

/// Administrators (the owner among them) and access managers manage an endpoint's
/// access rules.
pub(super) async fn manager(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<()> {
    let (c, ep) = s.caller_at(headers, id, res).await?;
    s.require_role(&c, &ep, &[RoleName::Administrator, RoleName::AccessManager], res).await
}

/// A new access rule, as `globus endpoint permission create` sends it.
#[derive(Debug, Deserialize)]
pub(super) struct NewRule {
    principal_type: String,
    #[serde(default)]
    principal: String,
    path: String,
    permissions: String,
    expiration_date: Option<String>,
    notify_email: Option<String>,
}

/// A change to a rule: its permissions and its expiry (`null` removes the expiry).
#[derive(Debug, Deserialize)]
pub(super) struct RuleChange {
    permissions: Option<String>,
    #[serde(default, deserialize_with = "present")]
    expiration_date: Option<Option<String>>,
}

fn check_permissions(p: &str, res: &str) -> TResult<()> {
    match p {
        "r" | "rw" => Ok(()),
        _ => Err(terr(StatusCode::BAD_REQUEST, "InvalidPermissions", "permissions must be r or rw", res)),
    }
}

pub(super) async fn check_rule(s: &Service, v: &NewRule, res: &str) -> TResult<()> {
    let principal = v.principal.as_str();
    match v.principal_type.as_str() {
        "identity" if s.config.identity_by_id(principal).is_some() => {}
        "identity" => return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown identity", res)),
        "group" if s.group_exists(principal).await => {}
        "group" => return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown group", res)),
        "all_authenticated_users" | "anonymous" if principal.is_empty() => {}
        _ => {
            return Err(terr(
                StatusCode::BAD_REQUEST,
                "InvalidPrincipal",
                "principal_type must be identity, group, all_authenticated_users or anonymous",
                res,
            ));
        }
    }
    let path = v.path.as_str();
    if !path.starts_with('/') || !path.ends_with('/') || paths::components(path).is_err() {
        let msg = "The path of an access rule must be an absolute directory path ending in '/'";
        return Err(terr(StatusCode::BAD_REQUEST, "InvalidPath", msg, res));
    }
    check_permissions(&v.permissions, res)
}

fn not_found(rule: &str, res: &str) -> GlobusError {
    terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), res)
}

pub(super) async fn access_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    manager(&s, &headers, &id, &res).await?;
    let rules: Vec<Value> = s.rules(&id).await.iter().map(rule_doc).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "access_list", "endpoint": id, "length": rules.len(), "DATA": rules}))
        .into_response())
}

pub(super) async fn access_create(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<NewRule>,
) -> TResult<Response> {
    let res = res.as_str();
    manager(&s, &headers, &id, res).await?;
    check_rule(&s, &body, res).await?;
    let existing = s.rules(&id).await;
    if existing
        .iter()
        .any(|r| r.principal_type == body.principal_type && r.principal == body.principal && r.path == body.path)
    {
        let msg = "An access rule for this principal and path exists already";
        return Err(terr(StatusCode::CONFLICT, "Exists", msg, res));
    }
    let rule = Rule {
        id: random_uuid(),
        principal_type: body.principal_type,
        principal: body.principal,
        path: body.path,
        permissions: body.permissions,
        create_time: gantry_domain::time::rfc3339_utc_offset(now()),
        expiration_date: body.expiration_date,
        notify_email: body.notify_email,
    };
    s.db.put(&format!("acl:{id}"), &rule.id, &rule, None).await.map_err(|e| unavailable(e, res))?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"DATA_TYPE": "access_create_result", "code": "Created",
        "access_id": rule.id, "id": rule.id, "message": "Access rule created successfully.",
        "request_id": request_id(), "resource": res})),
    )
        .into_response())
}

/// A rule of an endpoint the caller manages.
async fn managed_rule(s: &Service, headers: &HeaderMap, (id, rule): (&str, &str), res: &str) -> TResult<Rule> {
    manager(s, headers, id, res).await?;
    let found = s.db.get::<Rule>(&format!("acl:{id}"), rule).await.map_err(|e| unavailable(e, res))?;
    found.ok_or_else(|| not_found(rule, res))
}

pub(super) async fn access_get(
    Call { s, headers, res }: Call,
    Path((id, rule)): Path<(String, String)>,
) -> TResult<Response> {
    let res = res.as_str();
    let r = managed_rule(&s, &headers, (&id, &rule), res).await?;
    Ok(axum::Json(rule_doc(&r)).into_response())
}

pub(super) async fn access_update(
    Call { s, headers, res }: Call,
    Path((id, rule)): Path<(String, String)>,
    TransferJson(body): TransferJson<RuleChange>,
) -> TResult<Response> {
    let res = res.as_str();
    let mut r = managed_rule(&s, &headers, (&id, &rule), res).await?;
    if let Some(p) = body.permissions {
        check_permissions(&p, res)?;
        r.permissions = p;
    }
    if let Some(expiry) = body.expiration_date {
        r.expiration_date = expiry;
    }
    s.db.put(&format!("acl:{id}"), &rule, &r, None).await.map_err(|e| unavailable(e, res))?;
    Ok(axum::Json(result("Updated", "Access rule updated successfully", res)).into_response())
}

pub(super) async fn access_delete(
    Call { s, headers, res }: Call,
    Path((id, rule)): Path<(String, String)>,
) -> TResult<Response> {
    let res = res.as_str();
    manager(&s, &headers, &id, res).await?;
    if !s.db.delete(&format!("acl:{id}"), &rule).await.unwrap_or(false) {
        return Err(not_found(&rule, res));
    }
    Ok(axum::Json(result("Deleted", "Access rule deleted successfully", res)).into_response())
}
