//! The group itself: listing, reading, creating, renaming, deleting; its policies; a
//! person's preferences and membership fields.

use super::model::*;
use super::{all, groups_caller, save, visible_group};
use crate::error::{GResult, GlobusError, auth_error};
use crate::service::Service;
use crate::store::{now, random_uuid};
use crate::wire::AuthJson;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub(super) fn forbidden(why: &str) -> GlobusError {
    auth_error(StatusCode::FORBIDDEN, "FORBIDDEN", why)
}

fn bad(why: &str) -> GlobusError {
    auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", why)
}

/// The group, when the person is one of its active administrators.
async fn administered(s: &Service, id: &str, person: &[String]) -> GResult<StoredGroup> {
    let g = visible_group(s, id, person).await?;
    if g.role_of(person) != Some(GroupRole::Admin) {
        return Err(forbidden("only the group's administrators may do this"));
    }
    Ok(g)
}

pub(super) async fn my_groups(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let statuses: Vec<MemberStatus> = match q.get("statuses").filter(|v| !v.is_empty()) {
        None => vec![MemberStatus::Active],
        Some(v) => v
            .split(',')
            .map(|x| serde_json::from_value(json!(x.trim())).map_err(|_| bad(&format!("unknown status {x:?}"))))
            .collect::<GResult<_>>()?,
    };
    let mut list = vec![];
    for g in all(&s).await {
        if g.of(&person).any(|m| statuses.contains(&m.status)) {
            list.push(g.doc(&person));
        }
    }
    Ok(axum::Json(Value::Array(list)).into_response())
}

pub(super) async fn get_group(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let g = visible_group(&s, &id, &person).await?;
    let mut doc = g.doc(&person);
    let include: Vec<&str> = q.get("include").map(|v| v.split(',').collect()).unwrap_or_default();
    if include.contains(&"memberships") {
        let shown: Vec<Value> = if g.members_visible_to(&person) {
            g.members.iter().map(|m| m.doc(&g.id)).collect()
        } else {
            g.of(&person).map(|m| m.doc(&g.id)).collect()
        };
        doc["memberships"] = Value::Array(shown);
    }
    Ok(axum::Json(doc).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct NewGroup {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parent_id: Option<String>,
}

fn check_name(name: &str) -> GResult<()> {
    if name.trim().is_empty() || name.len() > 200 {
        return Err(bad("a group's name must be 1 to 200 characters"));
    }
    Ok(())
}

pub(super) async fn create(
    State(s): State<Service>,
    headers: HeaderMap,
    AuthJson(body): AuthJson<NewGroup>,
) -> GResult<Response> {
    let (identity, person) = groups_caller(&s, &headers).await?;
    check_name(&body.name)?;
    if let Some(p) = &body.parent_id {
        administered(&s, p, &person).await.map_err(|_| forbidden("a subgroup needs an administrator of its parent"))?;
    }
    let username = s.config.identity_by_id(&identity).map(|i| i.username.clone()).unwrap_or_else(|| identity.clone());
    let g = StoredGroup {
        id: random_uuid(),
        name: body.name,
        description: body.description.unwrap_or_default(),
        parent_id: body.parent_id,
        terms_and_conditions: None,
        policies: Policies::default(),
        members: vec![Member {
            identity_id: identity,
            username,
            role: GroupRole::Admin,
            status: MemberStatus::Active,
            updated: now(),
            membership_fields: Map::new(),
        }],
    };
    save(&s, &g).await?;
    Ok((StatusCode::CREATED, axum::Json(g.doc(&person))).into_response())
}

#[derive(Debug, Deserialize)]
pub(super) struct GroupChange {
    name: Option<String>,
    description: Option<String>,
    terms_and_conditions: Option<String>,
    /// Subscriptions are not kept here: only "none" is accepted.
    #[serde(default)]
    subscription_admin_verified_id: Option<String>,
}

pub(super) async fn update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<GroupChange>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let _guard = s.groups_lock.lock().await;
    let mut g = administered(&s, &id, &person).await?;
    if let Some(n) = body.name {
        check_name(&n)?;
        g.name = n;
    }
    if let Some(d) = body.description {
        g.description = d;
    }
    if body.subscription_admin_verified_id.is_some() {
        return Err(bad("this service keeps no subscriptions: subscription_admin_verified_id must be null"));
    }
    if let Some(t) = body.terms_and_conditions {
        g.terms_and_conditions = Some(t).filter(|t| !t.is_empty());
    }
    save(&s, &g).await?;
    Ok(axum::Json(g.doc(&person)).into_response())
}

pub(super) async fn delete(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let _guard = s.groups_lock.lock().await;
    let g = administered(&s, &id, &person).await?;
    if all(&s).await.iter().any(|c| c.parent_id.as_deref() == Some(id.as_str())) {
        return Err(auth_error(StatusCode::CONFLICT, "CONFLICT", "the group has subgroups: delete them first"));
    }
    s.db.delete("group", &id)
        .await
        .map_err(|e| auth_error(StatusCode::INTERNAL_SERVER_ERROR, "SERVICE_UNAVAILABLE", &e.to_string()))?;
    Ok(axum::Json(g.doc(&person)).into_response())
}

pub(super) async fn get_policies(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let g = visible_group(&s, &id, &person).await?;
    Ok(axum::Json(g.policies_doc()).into_response())
}

pub(super) async fn set_policies(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<Policies>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    if !(60..=31_536_000).contains(&body.authentication_assurance_timeout) {
        return Err(bad("authentication_assurance_timeout must be 60 seconds to a year"));
    }
    let _guard = s.groups_lock.lock().await;
    let mut g = administered(&s, &id, &person).await?;
    g.policies = body;
    save(&s, &g).await?;
    Ok(axum::Json(g.policies_doc()).into_response())
}

/// A person's Groups preferences: whether administrators may add them without an
/// invitation.
#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub(super) struct Preferences {
    allow_add: bool,
}

/// Preferences belong to the identity set: they are kept under its smallest id.
fn preferences_key(s: &Service, identity: &str) -> String {
    super::person(s, identity).into_iter().min().unwrap_or_else(|| identity.to_string())
}

pub(super) async fn preferences_of(s: &Service, identity: &str) -> bool {
    let key = preferences_key(s, identity);
    s.db.get::<Preferences>("group_preferences", &key).await.ok().flatten().is_none_or(|p| p.allow_add)
}

pub(super) async fn get_preferences(State(s): State<Service>, headers: HeaderMap) -> GResult<Response> {
    let (identity, _) = groups_caller(&s, &headers).await?;
    Ok(axum::Json(json!({"allow_add": preferences_of(&s, &identity).await})).into_response())
}

pub(super) async fn set_preferences(
    State(s): State<Service>,
    headers: HeaderMap,
    AuthJson(body): AuthJson<Preferences>,
) -> GResult<Response> {
    let (identity, _) = groups_caller(&s, &headers).await?;
    s.db.put("group_preferences", &preferences_key(&s, &identity), &body, None)
        .await
        .map_err(|e| auth_error(StatusCode::INTERNAL_SERVER_ERROR, "SERVICE_UNAVAILABLE", &e.to_string()))?;
    Ok(axum::Json(json!({"allow_add": body.allow_add})).into_response())
}

/// The calling identity's membership of a group it can see.
fn own_membership<'a>(g: &'a mut StoredGroup, identity: &str) -> GResult<&'a mut Member> {
    g.member_mut(identity).ok_or_else(|| auth_error(StatusCode::NOT_FOUND, "NOT_FOUND", "you are not in this group"))
}

pub(super) async fn get_fields(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> GResult<Response> {
    let (identity, person) = groups_caller(&s, &headers).await?;
    let mut g = visible_group(&s, &id, &person).await?;
    let m = own_membership(&mut g, &identity)?;
    Ok(axum::Json(Value::Object(m.membership_fields.clone())).into_response())
}

pub(super) async fn set_fields(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<Map<String, Value>>,
) -> GResult<Response> {
    let (identity, person) = groups_caller(&s, &headers).await?;
    if body.values().any(|v| !v.is_string()) || serde_json::to_string(&body).map_or(0, |t| t.len()) > 16 * 1024 {
        return Err(bad("membership fields are text values, 16 KiB in all"));
    }
    let _guard = s.groups_lock.lock().await;
    let mut g = visible_group(&s, &id, &person).await?;
    let gid = g.id.clone();
    let m = own_membership(&mut g, &identity)?;
    m.membership_fields = body;
    let doc = m.doc(&gid);
    save(&s, &g).await?;
    Ok(axum::Json(doc).into_response())
}
