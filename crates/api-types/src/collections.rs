//! Collections and their members.

use gantry_domain::{Role, Visibility};
use serde::{Deserialize, Serialize};

/// A collection as the caller sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionInfo {
    pub name: String,
    pub visibility: Visibility,
    pub description: String,
    pub created: String,
    /// The caller's own role, if they hold one directly or through a group.
    pub role: Option<Role>,
    pub can_push: bool,
    pub can_manage: bool,
    /// `GET /api/v1/collections/{name}`: the repositories in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
}

/// `GET /api/v1/collections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionList {
    pub collections: Vec<CollectionInfo>,
}

/// `POST /api/v1/collections`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewCollection {
    pub name: String,
    pub visibility: Option<Visibility>,
    #[serde(default)]
    pub description: String,
}

/// `PATCH /api/v1/collections/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CollectionUpdate {
    pub visibility: Option<Visibility>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberInfo {
    pub user: String,
    pub role: Role,
}

/// `GET /api/v1/collections/{name}/members`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupInfo {
    pub group: String,
    pub role: Role,
}

/// `GET /api/v1/collections/{name}/groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupInfo>,
}

/// `PUT /api/v1/collections/{name}/members/{user}` (and `/groups/{group}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoleBody {
    pub role: Role,
}
