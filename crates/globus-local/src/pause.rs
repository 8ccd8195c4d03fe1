//! Pause rules: an activity manager pauses the tasks that read from, write to or delete
//! on an endpoint (for everyone, or for one identity) until the rule is removed. The
//! rules are few; the service keeps them in memory (and in its database) so that a
//! task document can say at once whether it is paused.

use gantry_domain::time::rfc3339_utc_offset;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// What a task does on an endpoint, as far as pausing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Read,
    Write,
    Delete,
    Ls,
    Mkdir,
    Rename,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PauseRule {
    pub id: String,
    pub endpoint_id: String,
    /// Only this identity's tasks; all tasks when none.
    pub identity_id: Option<String>,
    pub message: String,
    /// When the rule takes effect (seconds since the epoch); at once when none.
    pub start_time: Option<i64>,
    pub modified_by_id: String,
    pub modified_time: i64,
    pub pause_ls: bool,
    pub pause_mkdir: bool,
    pub pause_rename: bool,
    pub pause_task_delete: bool,
    pub pause_task_transfer_write: bool,
    pub pause_task_transfer_read: bool,
}

impl PauseRule {
    /// Whether the rule pauses a task of one of `owners` that uses `endpoints` (the
    /// collection and its host) this way, at time `now`.
    pub fn pauses(&self, endpoints: &[&str], owners: &[String], how: Use, now: i64) -> bool {
        let started = self.start_time.is_none_or(|t| t <= now);
        let who = self.identity_id.as_ref().is_none_or(|i| owners.contains(i));
        let what = match how {
            Use::Read => self.pause_task_transfer_read,
            Use::Write => self.pause_task_transfer_write,
            Use::Delete => self.pause_task_delete,
            Use::Ls => self.pause_ls,
            Use::Mkdir => self.pause_mkdir,
            Use::Rename => self.pause_rename,
        };
        started && who && what && endpoints.contains(&self.endpoint_id.as_str())
    }

    /// The document the endpoint manager API shows (`limited` for a task's owner).
    pub fn doc(&self, endpoint_display_name: Option<&str>, limited: bool) -> Value {
        let mut d = json!({"DATA_TYPE": if limited { "pause_rule_limited" } else { "pause_rule" }, "id": self.id,
            "message": self.message, "start_time": self.start_time.map(rfc3339_utc_offset),
            "endpoint_id": self.endpoint_id, "endpoint_display_name": endpoint_display_name,
            "identity_id": self.identity_id, "pause_ls": self.pause_ls, "pause_mkdir": self.pause_mkdir,
            "pause_rename": self.pause_rename, "pause_task_delete": self.pause_task_delete,
            "pause_task_transfer_write": self.pause_task_transfer_write,
            "pause_task_transfer_read": self.pause_task_transfer_read});
        if !limited {
            d["modified_by_id"] = json!(self.modified_by_id);
            d["modified_time"] = json!(rfc3339_utc_offset(self.modified_time));
            d["created_by_host_manager"] = json!(false);
            d["editable"] = json!(true);
        }
        d
    }
}
