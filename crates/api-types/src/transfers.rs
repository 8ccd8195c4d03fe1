//! Globus: the user's connection, endpoints, and transfers of images to them.

use gantry_domain::{LinkStatus, TransferStatus};
use serde::{Deserialize, Serialize};

/// `GET /api/v1/globus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct GlobusStatus {
    pub connected: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LinkStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Where to connect (or reconnect) in a browser.
    pub connect_url: String,
}

/// An endpoint or collection found by search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointInfo {
    pub id: String,
    pub display_name: Option<String>,
    pub owner: Option<String>,
    pub description: Option<String>,
    pub entity_type: Option<String>,
}

/// `GET /api/v1/globus/endpoints`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EndpointList {
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DirEntry {
    pub name: String,
    /// `dir` or `file` (or `link`), as Globus says.
    #[serde(rename = "type")]
    pub kind: String,
    pub size: Option<i64>,
    pub last_modified: Option<String>,
}

/// `GET /api/v1/globus/endpoints/{id}/ls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Listing {
    pub path: Option<String>,
    pub entries: Vec<DirEntry>,
}

/// `POST /api/v1/globus/endpoints/{id}/mkdir` (and its answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PathBody {
    pub path: String,
}

/// `POST /api/v1/transfers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewTransfer {
    /// The image to send; or, instead, `experiment` and `session` (and `source_path`).
    #[serde(rename = "ref", default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
    /// Experiment data to send: the proposal id...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    /// ...its session number...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<i64>,
    /// ...and a folder or file of it (`VOLUME/sub…`; empty or absent for the whole session).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    pub endpoint_id: String,
    pub path: String,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub sync_level: Option<i64>,
    /// Globus checks each file's checksum after it arrives (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_checksum: Option<bool>,
    /// Arrived files keep the modification time they had at the source (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preserve_timestamp: Option<bool>,
}

/// A transfer, as `GET /api/v1/transfers/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferInfo {
    pub id: String,
    /// The image sent (empty when experiment data are sent).
    #[serde(rename = "ref")]
    pub reference: String,
    /// For experiment data: the proposal id, the session and the folder or file sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    pub digest: String,
    pub endpoint_id: String,
    pub endpoint_name: Option<String>,
    pub path: String,
    pub label: Option<String>,
    pub status: TransferStatus,
    pub task_id: Option<String>,
    pub submission_id: Option<String>,
    pub files: i64,
    pub bytes_transferred: i64,
    pub bytes_total: i64,
    pub bytes_per_second: i64,
    pub faults: i64,
    pub nice_status: Option<String>,
    pub error: Option<String>,
    /// The task's events, newest first, as Globus lists them.
    pub events: Vec<TransferEvent>,
    pub cleaned_up: bool,
    pub created: String,
    pub completed: Option<String>,
    /// With real Globus, the task's page in the Globus web app.
    pub globus_url: Option<String>,
}

impl TransferInfo {
    /// What is sent, in words: the image reference, or the experiment data.
    pub fn what(&self) -> String {
        match (&self.experiment, self.session) {
            (Some(e), Some(n)) => data_label(e, n, self.source_path.as_deref().unwrap_or_default()),
            _ => self.reference.clone(),
        }
    }
}

/// `E1 session 2` (`E1 session 2: raw/sub` for a folder of it).
pub fn data_label(experiment: &str, session: i64, path: &str) -> String {
    match path.trim_matches('/') {
        "" => format!("{experiment} session {session}"),
        p => format!("{experiment} session {session}: {p}"),
    }
}

/// `GET /api/v1/transfers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferList {
    pub transfers: Vec<TransferInfo>,
}

/// One event of a transfer's Globus task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TransferEvent {
    pub code: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub is_error: bool,
    /// When, as Globus writes it (e.g. `2026-01-26T19:18:20+00:00`).
    #[serde(default)]
    pub time: String,
}
