//! A task as it is kept: its items, its plan of files, its events and counters.

use crate::pause::{PauseRule, Use};
use crate::service::Service;
use crate::store::now;
use crate::transfer::caller::Caller;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// How often a running task's progress is written down.
pub(crate) const SAVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// `2022-01-26T19:18:20+00:00`, the form Transfer writes task times in.
pub use gantry_domain::time::rfc3339_utc_offset as globus_time;

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskKind {
    Transfer,
    Delete,
}

/// Where a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TaskStatus {
    Active,
    Succeeded,
    Failed,
}

impl TaskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::Transfer => "TRANSFER",
            TaskKind::Delete => "DELETE",
        }
    }
}

impl TaskStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Active => "ACTIVE",
            TaskStatus::Succeeded => "SUCCEEDED",
            TaskStatus::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Item {
    pub source: String,
    pub destination: String,
    pub recursive: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    pub src: Vec<String>,
    pub dst: Vec<String>,
    pub dir: bool,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub code: String,
    pub description: String,
    pub details: String,
    pub is_error: bool,
    pub time: i64,
}

/// A file passed over because it could not be read and the task had
/// `skip_source_errors` set.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedError {
    /// Where it is in the plan (none when a whole item was missing before planning).
    pub index: Option<u32>,
    pub source_path: String,
    pub destination_path: String,
    pub is_directory: bool,
    pub error_code: String,
    pub error_details: String,
    pub time: i64,
}

impl SkippedError {
    pub fn doc(&self) -> Value {
        json!({"DATA_TYPE": "skipped_error", "source_path": self.source_path,
            "destination_path": self.destination_path, "is_directory": self.is_directory,
            "is_symlink": false, "is_delete_destination_extra": false, "checksum_algorithm": null,
            "error_code": self.error_code, "error_details": self.error_details, "error_time": globus_time(self.time)})
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub kind: TaskKind,
    pub status: TaskStatus,
    pub label: Option<String>,
    pub owner: String,
    pub username: String,
    pub source_endpoint: String,
    pub destination_endpoint: String,
    pub items: Vec<Item>,
    pub sync_level: Option<i64>,
    pub verify_checksum: bool,
    pub preserve_timestamp: bool,
    pub ignore_missing: bool,
    pub deadline: Option<i64>,
    /// True once the list of files and directories (kept in its own "plan" document,
    /// written once, so that progress saves stay small) has been made.
    #[serde(default)]
    pub planned: bool,
    pub next: usize,
    pub files: u64,
    pub directories: u64,
    pub files_transferred: u64,
    pub files_skipped: u64,
    pub bytes_transferred: u64,
    pub bytes_checksummed: u64,
    pub faults: u64,
    pub request_time: i64,
    pub completion_time: Option<i64>,
    pub fatal_error: Option<(String, String)>,
    pub events: Vec<Event>,
    pub canceled: bool,
    /// Files of the plan not copied because the destination was already in sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_skipped: Vec<u32>,
    #[serde(default)]
    pub skip_source_errors: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_errors: Vec<SkippedError>,
    /// Paused by an endpoint manager by id (`admin_pause`), with the message.
    #[serde(default)]
    pub admin_paused: Option<String>,
    /// The identity of the endpoint manager who canceled it, and their message.
    #[serde(default)]
    pub canceled_by_admin: Option<(String, String)>,
}

impl Task {
    /// The endpoints the task uses, each with the host it shares (if a guest
    /// collection), and how it uses them.
    pub fn uses(&self, s: &Service) -> Vec<(Vec<String>, Use)> {
        let eps = s.endpoints();
        let with_host = |id: &str| -> Vec<String> {
            match eps.iter().find(|e| e.id == id) {
                Some(e) => std::iter::once(e.id.clone()).chain(e.host_endpoint.clone()).collect(),
                None => vec![],
            }
        };
        match self.kind {
            TaskKind::Delete => vec![(with_host(&self.source_endpoint), Use::Delete)],
            TaskKind::Transfer => {
                vec![(with_host(&self.source_endpoint), Use::Read), (with_host(&self.destination_endpoint), Use::Write)]
            }
        }
    }

    /// The pause rules that pause this task now.
    pub fn pause_rules(&self, s: &Service) -> Vec<PauseRule> {
        if self.status != TaskStatus::Active {
            return vec![];
        }
        let owners = owner_ids(s, &self.owner);
        let uses = self.uses(s);
        let at = now();
        let rules = s.pauses.read().unwrap();
        let uses: Vec<(Vec<&str>, Use)> =
            uses.iter().map(|(eps, how)| (eps.iter().map(String::as_str).collect(), *how)).collect();
        rules.iter().filter(|r| uses.iter().any(|(eps, how)| r.pauses(eps, &owners, *how, at))).cloned().collect()
    }

    /// Whether the worker must leave the task alone for now.
    pub fn is_paused(&self, s: &Service) -> bool {
        self.status == TaskStatus::Active && (self.admin_paused.is_some() || !self.pause_rules(s).is_empty())
    }

    pub(crate) fn event(&mut self, code: &str, description: &str, details: &str, is_error: bool) {
        self.events.push(Event {
            code: code.into(),
            description: description.into(),
            details: details.into(),
            is_error,
            time: now(),
        });
    }

    pub fn doc(&self, s: &Service) -> Value {
        let eps = s.endpoints();
        let live = if self.status == TaskStatus::Active {
            s.live.lock().unwrap().bytes.get(&self.task_id).copied()
        } else {
            None
        };
        let bytes_transferred = live.unwrap_or(0).max(self.bytes_transferred);
        let name = |id: &str| eps.iter().find(|e| e.id == id).map(|e| e.display_name.clone());
        let elapsed = (self.completion_time.unwrap_or_else(now) - self.request_time).max(1) as u64;
        let total = if self.planned { self.files } else { self.items.len() as u64 };
        let done = self.files_transferred + self.files_skipped;
        let is_delete = self.kind == TaskKind::Delete;
        let failed = self.status == TaskStatus::Failed;
        let paused = self.is_paused(s);
        let mut doc = json!({
            "DATA_TYPE": "task", "task_id": self.task_id, "type": self.kind, "status": self.status,
            "nice_status": match self.status { TaskStatus::Active if paused => json!("PAUSED_BY_ADMIN"), TaskStatus::Active if !self.planned => json!("Queued"), TaskStatus::Active => json!("OK"), TaskStatus::Failed => json!(self.fatal_error.as_ref().map(|e| e.0.clone())), TaskStatus::Succeeded => Value::Null },
            "nice_status_short_description": if self.status == TaskStatus::Active { json!("OK") } else { Value::Null },
            "nice_status_details": null, "nice_status_expires_in": -1,
            "is_ok": !failed, "is_paused": paused, "label": self.label, "owner_id": self.owner, "username": self.username,
            "request_time": globus_time(self.request_time), "completion_time": self.completion_time.map(globus_time),
            "deadline": globus_time(self.deadline.unwrap_or(self.request_time + 86_400 * 30)),
            "source_endpoint_id": self.source_endpoint, "source_endpoint_display_name": name(&self.source_endpoint),
            "destination_endpoint_id": if is_delete { Value::Null } else { json!(self.destination_endpoint) },
            "destination_endpoint_display_name": if is_delete { Value::Null } else { json!(name(&self.destination_endpoint)) },
            "source_endpoint": self.source_endpoint, "destination_endpoint": if is_delete { Value::Null } else { json!(self.destination_endpoint) },
            "source_local_user": null, "destination_local_user": null, "source_local_user_status": null, "destination_local_user_status": null,
            "files": if is_delete { 0 } else { self.files }, "directories": self.directories, "symlinks": 0,
            "files_transferred": self.files_transferred, "files_skipped": self.files_skipped,
            "bytes_transferred": bytes_transferred, "bytes_checksummed": self.bytes_checksummed,
            "effective_bytes_per_second": bytes_transferred / elapsed, "faults": self.faults,
            "fatal_error": self.fatal_error.as_ref().map(|(c, d)| json!({"code": c, "description": d})),
            "sync_level": self.sync_level, "verify_checksum": self.verify_checksum, "preserve_timestamp": self.preserve_timestamp,
            "encrypt_data": false, "delete_destination_extra": false, "recursive_symlinks": "ignore", "skip_source_errors": self.skip_source_errors,
            "fail_on_quota_errors": false, "filter_rules": null, "history_deleted": false, "canceled_by_admin": self.canceled_by_admin.as_ref().map(|c| c.0.clone()),
            "canceled_by_admin_message": self.canceled_by_admin.as_ref().map(|c| c.1.clone()), "command": if is_delete { "API 0.10 delete" } else { "API 0.10 transfer" },
            "subtasks_total": total, "subtasks_succeeded": done, "subtasks_pending": total.saturating_sub(done + u64::from(failed)),
            "subtasks_retrying": 0, "subtasks_failed": u64::from(failed && !self.canceled),
            "subtasks_canceled": u64::from(self.canceled), "subtasks_expired": 0, "subtasks_skipped_errors": self.skipped_errors.len(),
            "delete_files": if is_delete { done } else { 0 }, "verify_checksum_failures": 0, "is_paused_by_admin": paused,
        });
        // Where a side is a guest collection: the mapped collection it shares, and where.
        let sides = [
            ("source", Some(self.source_endpoint.as_str())),
            ("destination", (!is_delete).then_some(self.destination_endpoint.as_str())),
        ];
        for (side, id) in sides {
            let ep = id.and_then(|id| eps.iter().find(|e| e.id == id));
            let host = ep.and_then(|e| e.host_endpoint.as_deref()).and_then(|h| eps.iter().find(|e| e.id == h));
            doc[format!("{side}_base_path")] = Value::Null;
            doc[format!("{side}_host_endpoint")] = json!(host.map(|h| format!("{}#{}", h.owner, h.id)));
            doc[format!("{side}_host_endpoint_display_name")] = json!(host.map(|h| h.display_name.clone()));
            doc[format!("{side}_host_endpoint_id")] = json!(host.map(|h| h.id.clone()));
            doc[format!("{side}_host_path")] = json!(ep.and_then(|e| e.host_path.clone()));
            doc[format!("{side}_mapped_collection_display_name")] = json!(host.map(|h| h.display_name.clone()));
            doc[format!("{side}_mapped_collection_id")] = json!(host.map(|h| h.id.clone()));
        }
        doc
    }
}

/// The ids of the person `owner` is (linked identities included).
pub(crate) fn owner_ids(s: &Service, owner: &str) -> Vec<String> {
    match s.config.identity_by_id(owner) {
        Some(i) => s.config.identity_set(i).iter().map(|i| i.id.clone()).collect(),
        None => vec![owner.to_string()],
    }
}

pub(crate) async fn caller_of(s: &Service, owner: &str) -> Caller {
    let person = s.config.identity_by_id(owner).map(|i| s.config.identity_set(i)).unwrap_or_default();
    Caller {
        identity: owner.to_string(),
        ids: owner_ids(s, owner),
        usernames: person.iter().map(|i| i.username.clone()).collect(),
        groups: crate::groups::groups_of(s, owner).await,
        session: None,
        scope: None,
    }
}
