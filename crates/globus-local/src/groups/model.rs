//! A group as it is kept: its policies and every membership with its status. Groups
//! declared in the configuration are written once at start-up; from then on the
//! database holds them, changed only through the Groups API.

use crate::config::GlobusConfig;
use crate::store::now;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupRole {
    Member,
    Manager,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    Invited,
    Pending,
    Rejected,
    Removed,
    Left,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// Only members (of any status) see the group.
    Private,
    /// Every signed-in user sees it.
    Authenticated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MembersVisibility {
    /// Active members see each other.
    Members,
    /// Only managers and administrators see the memberships.
    Managers,
}

/// A group's policies; what a client leaves out keeps its default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Policies {
    pub group_visibility: Visibility,
    pub group_members_visibility: MembersVisibility,
    pub join_requests: bool,
    pub signup_fields: Vec<String>,
    pub is_high_assurance: bool,
    /// Sent as `null` by clients that leave it to the service: the default then.
    #[serde(deserialize_with = "timeout_or_default")]
    pub authentication_assurance_timeout: i64,
}

fn timeout_or_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<i64>::deserialize(d)?.unwrap_or(Policies::default().authentication_assurance_timeout))
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            group_visibility: Visibility::Private,
            group_members_visibility: MembersVisibility::Members,
            join_requests: false,
            signup_fields: vec![],
            is_high_assurance: false,
            authentication_assurance_timeout: 28_800,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    pub identity_id: String,
    pub username: String,
    pub role: GroupRole,
    pub status: MemberStatus,
    pub updated: i64,
    #[serde(default)]
    pub membership_fields: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredGroup {
    pub id: String,
    pub name: String,
    pub description: String,
    pub parent_id: Option<String>,
    #[serde(default)]
    pub terms_and_conditions: Option<String>,
    pub policies: Policies,
    pub members: Vec<Member>,
}

impl StoredGroup {
    /// The group a configuration declares (every member active).
    pub fn from_config(cfg: &GlobusConfig, g: &crate::config::Group) -> StoredGroup {
        let members = g
            .members
            .iter()
            .filter_map(|m| {
                let i = cfg.identity_by_username(&m.username)?;
                let role = match m.role.as_str() {
                    "admin" => GroupRole::Admin,
                    "manager" => GroupRole::Manager,
                    _ => GroupRole::Member,
                };
                Some(Member {
                    identity_id: i.id.clone(),
                    username: i.username.clone(),
                    role,
                    status: MemberStatus::Active,
                    updated: now(),
                    membership_fields: Map::new(),
                })
            })
            .collect();
        StoredGroup {
            id: g.id.clone(),
            name: g.name.clone(),
            description: g.description.clone(),
            parent_id: None,
            terms_and_conditions: None,
            policies: Policies::default(),
            members,
        }
    }

    /// The memberships of one person (all their identities), of any status.
    pub fn of<'a>(&'a self, person: &'a [String]) -> impl Iterator<Item = &'a Member> + 'a {
        self.members.iter().filter(move |m| person.contains(&m.identity_id))
    }

    /// The person's highest role among their active memberships.
    pub fn role_of(&self, person: &[String]) -> Option<GroupRole> {
        self.of(person).filter(|m| m.status == MemberStatus::Active).map(|m| m.role).max()
    }

    pub fn active_admins(&self) -> usize {
        self.members.iter().filter(|m| m.status == MemberStatus::Active && m.role == GroupRole::Admin).count()
    }

    /// Whether the person may see the group at all.
    pub fn visible_to(&self, person: &[String]) -> bool {
        self.policies.group_visibility == Visibility::Authenticated || self.of(person).next().is_some()
    }

    /// Whether the person may see every membership (not only their own).
    pub fn members_visible_to(&self, person: &[String]) -> bool {
        match self.role_of(person) {
            Some(GroupRole::Admin | GroupRole::Manager) => true,
            Some(GroupRole::Member) => self.policies.group_members_visibility == MembersVisibility::Members,
            None => false,
        }
    }

    pub fn member_mut(&mut self, identity: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.identity_id == identity)
    }

    pub fn policies_doc(&self) -> Value {
        serde_json::to_value(&self.policies).unwrap_or_default()
    }

    pub fn doc(&self, person: &[String]) -> Value {
        let mine: Vec<Value> = self.of(person).map(|m| m.doc(&self.id)).collect();
        json!({"id": self.id, "name": self.name, "description": self.description, "parent_id": self.parent_id,
            "group_type": "regular", "enforce_session": self.policies.is_high_assurance,
            "session_limit": self.policies.authentication_assurance_timeout, "session_timeouts": {},
            "my_memberships": mine, "policies": self.policies_doc(), "subscription_id": null,
            "subscription_info": null, "subscription_admin_verified_id": null,
            "terms_and_conditions": self.terms_and_conditions})
    }
}

impl Member {
    pub fn doc(&self, group_id: &str) -> Value {
        json!({"group_id": group_id, "identity_id": self.identity_id, "username": self.username,
            "role": self.role, "status": self.status, "invite_email_address": null,
            "membership_fields": self.membership_fields,
            "updated": gantry_domain::time::rfc3339_utc_offset(self.updated)})
    }
}
