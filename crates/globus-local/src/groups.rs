//! Globus Groups v2: `my_groups` and group detail with memberships.

use crate::config::{Group, Identity};
use crate::error::auth_error;
use crate::service::Service;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::collections::HashMap;

pub const GROUPS_RS: &str = "groups.api.globus.org";

pub fn routes() -> Router<Service> {
    Router::new().route("/v2/groups/my_groups", get(my_groups)).route("/v2/groups/{id}", get(group))
}

impl Service {
    /// Whether a group of this id exists.
    pub async fn group_exists(&self, id: &str) -> bool {
        self.config.groups.iter().any(|g| g.id == id)
    }
}

/// Identities of the person a token acts for.
fn person<'a>(s: &'a Service, identity: &str) -> Vec<&'a Identity> {
    match s.config.identity_by_id(identity) {
        Some(i) => s.config.identity_set(i),
        None => vec![],
    }
}

fn membership(g: &Group, i: &Identity, s: &Service) -> Option<Value> {
    let m = g.members.iter().find(|m| m.username == i.username)?;
    let _ = s;
    Some(json!({"group_id": g.id, "identity_id": i.id, "username": i.username, "role": m.role, "status": "active",
        "invite_email_address": null, "membership_fields": {}}))
}

fn group_doc(g: &Group, mine: Vec<Value>) -> Value {
    json!({"id": g.id, "name": g.name, "description": g.description, "parent_id": null, "group_type": "regular",
        "enforce_session": false, "session_limit": 28800, "session_timeouts": {}, "my_memberships": mine,
        "policies": {"group_visibility": "private", "group_members_visibility": "members", "is_high_assurance": false,
            "authentication_assurance_timeout": 28800, "join_requests": false, "signup_fields": []},
        "subscription_id": null})
}

/// Groups the identity (or a linked identity) belongs to, with its memberships.
pub fn groups_of(s: &Service, identity: &str) -> Vec<(Group, Vec<Value>)> {
    let people = person(s, identity);
    s.config
        .groups
        .iter()
        .filter_map(|g| {
            let mine: Vec<Value> = people.iter().filter_map(|i| membership(g, i, s)).collect();
            (!mine.is_empty()).then(|| (g.clone(), mine))
        })
        .collect()
}

async fn my_groups(State(s): State<Service>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(t) = s.bearer(&headers, GROUPS_RS).await else {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "a Groups token is required").into_response();
    };
    let statuses: Vec<String> =
        q.get("statuses").map(|v| v.split(',').map(str::to_string).collect()).unwrap_or_default();
    if !statuses.is_empty() && !statuses.iter().any(|x| x == "active") {
        return axum::Json(json!([])).into_response();
    }
    let list: Vec<Value> = groups_of(&s, &t.identity).into_iter().map(|(g, mine)| group_doc(&g, mine)).collect();
    axum::Json(Value::Array(list)).into_response()
}

async fn group(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(t) = s.bearer(&headers, GROUPS_RS).await else {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "a Groups token is required").into_response();
    };
    let Some((g, mine)) = groups_of(&s, &t.identity).into_iter().find(|(g, _)| g.id == id) else {
        return auth_error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("group {id} not found")).into_response();
    };
    let mut doc = group_doc(&g, mine);
    let include: Vec<&str> = q.get("include").map(|v| v.split(',').collect()).unwrap_or_default();
    if include.contains(&"memberships") {
        doc["memberships"] = Value::Array(
            g.members
                .iter()
                .filter_map(|m| s.config.identity_by_username(&m.username))
                .filter_map(|i| membership(&g, i, &s))
                .collect(),
        );
    }
    doc["subscription_info"] = Value::Null;
    axum::Json(doc).into_response()
}
