//! Globus Groups v2: groups kept in the database (those of the configuration written
//! once at start-up), read as Globus shows them, and changed through the Groups API —
//! create, update, delete, policies, preferences, membership fields and the batch of
//! membership actions that `GroupsManager` and `globus group` send — under Globus's
//! rules of who may do what.

mod api;
mod members;
pub mod model;

use crate::error::{GResult, auth_error};
use crate::service::Service;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use model::{MemberStatus, StoredGroup};

pub const GROUPS_RS: &str = "groups.api.globus.org";

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/v2/groups", post(api::create))
        .route("/v2/groups/my_groups", get(api::my_groups))
        .route("/v2/groups/{id}", get(api::get_group).put(api::update).delete(api::delete).post(members::batch))
        .route("/v2/groups/{id}/policies", get(api::get_policies).put(api::set_policies))
        .route("/v2/groups/{id}/membership_fields", get(api::get_fields).put(api::set_fields))
        .route("/v2/preferences", get(api::get_preferences).put(api::set_preferences))
}

/// Writes the configuration's groups that the database does not hold yet.
pub async fn seed(s: &Service) -> anyhow::Result<()> {
    for g in &s.config.groups {
        s.db.insert_new("group", &g.id, &StoredGroup::from_config(&s.config, g)).await?;
    }
    Ok(())
}

/// The ids of the person an identity belongs to (linked identities included).
pub fn person(s: &Service, identity: &str) -> Vec<String> {
    match s.config.identity_by_id(identity) {
        Some(i) => s.config.identity_set(i).iter().map(|i| i.id.clone()).collect(),
        None => vec![identity.to_string()],
    }
}

/// Every group, as kept.
pub async fn all(s: &Service) -> Vec<StoredGroup> {
    s.db.list::<StoredGroup>("group").await.unwrap_or_default().into_iter().map(|(_, g)| g).collect()
}

/// The groups the identity (or a linked identity) is an active member of.
pub async fn groups_of(s: &Service, identity: &str) -> Vec<String> {
    let p = person(s, identity);
    all(s).await.into_iter().filter(|g| g.of(&p).any(|m| m.status == MemberStatus::Active)).map(|g| g.id).collect()
}

impl Service {
    /// Whether a group of this id exists.
    pub async fn group_exists(&self, id: &str) -> bool {
        self.db.get::<StoredGroup>("group", id).await.ok().flatten().is_some()
    }
}

/// Who a Groups call acts for: the token's identity and the person's identities.
pub(crate) async fn groups_caller(s: &Service, headers: &HeaderMap) -> GResult<(String, Vec<String>)> {
    match s.bearer(headers, GROUPS_RS).await {
        Some(t) => {
            let p = person(s, &t.identity);
            Ok((t.identity, p))
        }
        None => Err(auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "a Groups token is required")),
    }
}

/// The group, when the person may see it; otherwise not found (its existence is not told).
pub(crate) async fn visible_group(s: &Service, id: &str, person: &[String]) -> GResult<StoredGroup> {
    match s.db.get::<StoredGroup>("group", id).await {
        Ok(Some(g)) if g.visible_to(person) => Ok(g),
        Ok(_) => Err(auth_error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("group {id} not found"))),
        Err(e) => Err(auth_error(StatusCode::INTERNAL_SERVER_ERROR, "SERVICE_UNAVAILABLE", &e.to_string())),
    }
}

pub(crate) async fn save(s: &Service, g: &StoredGroup) -> GResult<()> {
    s.db.put("group", &g.id, g, None)
        .await
        .map(|_| ())
        .map_err(|e| auth_error(StatusCode::INTERNAL_SERVER_ERROR, "SERVICE_UNAVAILABLE", &e.to_string()))
}
