//! `/api/v1/experiments`: a facility's experiments, their sessions and data.

use serde::{Deserialize, Serialize};

/// A beamtime session and its volumes of data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub session_number: i64,
    pub subject: String,
    pub body: String,
    pub start_date: String,
    pub end_date: String,
    /// The session's volumes (e.g. `raw`): the top folders of its data.
    pub volumes: Vec<String>,
}

/// An experiment (a proposal at the facility).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentInfo {
    pub proposal_id: String,
    pub subject: String,
    pub body: String,
    pub beam_line: String,
    pub favorite: bool,
    /// When the user office last confirmed it.
    pub synced: String,
    /// With `GET /api/v1/experiments/{id}` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sessions: Option<Vec<SessionInfo>>,
    /// Facility usernames of the members (administrators only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<String>>,
}

/// `GET /api/v1/experiments`: a page, and how fresh it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ExperimentPage {
    pub count: i64,
    pub page: i64,
    pub page_size: i64,
    pub results: Vec<ExperimentInfo>,
    /// The caller's facility username, when their account is linked.
    pub facility_username: Option<String>,
    /// The last sync failed or is old: this is what the user office said before.
    pub stale: bool,
    pub synced: Option<String>,
    pub sync_error: Option<String>,
}

/// One file or folder of a session's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataEntryInfo {
    pub name: String,
    /// `dir` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
    pub size: u64,
    pub modified: String,
    /// Where to open a folder (`path` of the listing) or download a file.
    pub path: String,
    /// Files: the stable download URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_url: Option<String>,
}

/// `GET /api/v1/experiments/{id}/sessions/{n}/files?path=`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DataListing {
    pub proposal_id: String,
    pub session_number: i64,
    /// `VOLUME/sub/folder`, or empty for the session's volumes.
    pub path: String,
    pub entries: Vec<DataEntryInfo>,
    /// More entries than are listed.
    pub truncated: bool,
}
