//! Access rules of guest collections and managed endpoints.

use crate::paths::{self};
use crate::service::Service;
use crate::store::{now, random_uuid};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::caller::*;

// ---------- access rules ----------

pub(super) fn rule_doc(r: &Rule) -> Value {
    json!({"DATA_TYPE": "access", "id": r.id, "role_id": null, "role_type": null, "principal_type": r.principal_type,
        "principal": r.principal, "path": r.path, "permissions": r.permissions, "create_time": r.create_time,
        "expiration_date": r.expiration_date, "notify_email": r.notify_email})
}

/// Only the owner manages an endpoint's access rules.
pub(super) async fn manager(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<()> {
    let c = s.transfer_caller(headers, res).await?;
    let ep = s.endpoint(id, res)?;
    if !c.usernames.contains(&ep.owner) {
        return Err(terr(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "Only the endpoint's owner manages its access rules",
            res,
        ));
    }
    s.assurance(&c, ep, res)
}

pub(super) fn check_rule(s: &Service, v: &Value, res: &str) -> TResult<(String, String, String, String)> {
    let pt = v["principal_type"].as_str().unwrap_or("").to_string();
    let principal = v["principal"].as_str().unwrap_or("").to_string();
    let path = v["path"].as_str().unwrap_or("").to_string();
    let perms = v["permissions"].as_str().unwrap_or("").to_string();
    let bad = |m: &str| terr(StatusCode::BAD_REQUEST, "InvalidPath", m, res);
    match pt.as_str() {
        "identity" if s.config.identity_by_id(&principal).is_some() => {}
        "identity" => return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown identity", res)),
        "group" if s.config.groups.iter().any(|g| g.id == principal) => {}
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
    if !path.starts_with('/') || !path.ends_with('/') || paths::components(&path).is_err() {
        return Err(bad("The path of an access rule must be an absolute directory path ending in '/'"));
    }
    if perms != "r" && perms != "rw" {
        return Err(terr(StatusCode::BAD_REQUEST, "InvalidPermissions", "permissions must be r or rw", res));
    }
    Ok((pt, principal, path, perms))
}

pub(super) async fn access_list(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    let rules: Vec<Value> =
        s.db.list::<Rule>(&format!("acl:{id}")).await.unwrap_or_default().iter().map(|(_, r)| rule_doc(r)).collect();
    axum::Json(json!({"DATA_TYPE": "access_list", "endpoint": id, "length": rules.len(), "DATA": rules}))
        .into_response()
}

pub(super) async fn access_create(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    let (pt, principal, path, perms) = match check_rule(&s, &body.0, &res) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let existing = s.db.list::<Rule>(&format!("acl:{id}")).await.unwrap_or_default();
    if existing.iter().any(|(_, r)| r.principal_type == pt && r.principal == principal && r.path == path) {
        return terr(StatusCode::CONFLICT, "Exists", "An access rule for this principal and path exists already", &res)
            .into_response();
    }
    let rule = Rule {
        id: random_uuid(),
        principal_type: pt,
        principal,
        path,
        permissions: perms,
        create_time: crate::tasks::model::globus_time(now()),
        expiration_date: body["expiration_date"].as_str().map(str::to_string),
        notify_email: body["notify_email"].as_str().map(str::to_string),
    };
    if let Err(e) = s.db.put(&format!("acl:{id}"), &rule.id, &rule, None).await {
        return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), &res).into_response();
    }
    (StatusCode::CREATED, axum::Json(json!({"DATA_TYPE": "access_create_result", "code": "Created", "access_id": rule.id,
        "id": rule.id, "message": "Access rule created successfully.", "request_id": &random_uuid()[..9], "resource": res})))
        .into_response()
}

pub(super) async fn access_get(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    match s.db.get::<Rule>(&format!("acl:{id}"), &rule).await.ok().flatten() {
        Some(r) => axum::Json(rule_doc(&r)).into_response(),
        None => {
            terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res).into_response()
        }
    }
}

pub(super) async fn access_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    let Some(mut r) = s.db.get::<Rule>(&format!("acl:{id}"), &rule).await.ok().flatten() else {
        return terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res)
            .into_response();
    };
    if let Some(p) = body["permissions"].as_str() {
        if p != "r" && p != "rw" {
            return terr(StatusCode::BAD_REQUEST, "InvalidPermissions", "permissions must be r or rw", &res)
                .into_response();
        }
        r.permissions = p.to_string();
    }
    if body.get("expiration_date").is_some() {
        r.expiration_date = body["expiration_date"].as_str().map(str::to_string);
    }
    let _ = s.db.put(&format!("acl:{id}"), &rule, &r, None).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Updated", "message": "Access rule updated successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}

pub(super) async fn access_delete(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r.into_response();
    }
    if !s.db.delete(&format!("acl:{id}"), &rule).await.unwrap_or(false) {
        return terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res)
            .into_response();
    }
    axum::Json(json!({"DATA_TYPE": "result", "code": "Deleted", "message": "Access rule deleted successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}
