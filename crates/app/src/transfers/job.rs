//! A transfer as a job: submitting (rule, submission id, task; each stored as it is
//! obtained, so repeating is safe), following the task with backoff, cancelling,
//! cleaning up, and reconciling what a crash left behind.

use super::{Transfers, from_globus};
use crate::jobs::backoff;
use gantry_domain::{Error, ErrorKind, JobKind, Principal, Result, TransferStatus, time};
use gantry_globus::TaskState;
use gantry_store::{Job, TransferRow};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// How long one look at a transfer may take before another process may look instead.
const FOLLOW_LEASE: Duration = Duration::from_secs(300);

/// The Globus path of what a transfer sends, and whether it is a directory.
fn source(tr: &TransferRow, first: &str) -> (String, String, bool) {
    match first.split_once('/') {
        Some((dir, _)) => {
            (format!("/{}/{dir}/", tr.export_id), format!("{}/{dir}/", tr.path.trim_end_matches('/')), true)
        }
        None => (format!("/{}/{first}", tr.export_id), format!("{}/{first}", tr.path.trim_end_matches('/')), false),
    }
}

/// `/<32 hex>/`: the directory of one export.
fn is_export_path(p: &str) -> bool {
    let inner = p.trim_matches('/');
    inner.len() == 32 && inner.bytes().all(|b| b.is_ascii_hexdigit()) && p.starts_with('/')
}

async fn remove_dir(dir: PathBuf) -> Result<()> {
    tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::internal(format!("remove {}: {e}", dir.display()))),
    })
    .await
    .map_err(|e| Error::internal(format!("cleanup stopped: {e}")))?
}

impl Transfers {
    /// Gives the rules, gets a submission id (stored first) and submits. Safe to repeat.
    pub(super) async fn submit(&self, tr: &mut TransferRow) -> Result<()> {
        let (identity, token) = self.user_token(tr.user_id).await?;
        let (source_endpoint, items) = match tr.source_collection.clone() {
            Some(collection) => {
                self.give_data_rules(tr, &collection, &identity).await?;
                let items = super::data::transfer_items(tr, &super::data::items_of(tr)?);
                (collection, items)
            }
            None => {
                self.give_export_rule(tr, &identity).await?;
                (self.cfg.storage_collection.clone(), vec![self.export_item(tr)?])
            }
        };
        if tr.submission_id.is_none() {
            tr.submission_id = Some(self.globus.submission_id(&token).await.map_err(from_globus)?);
            self.store.update_transfer(tr).await?;
        }
        let label = tr.label.clone().unwrap_or_else(|| format!("Gantry: {}", self.info(tr).what()));
        let mut doc = json!({"DATA_TYPE": "transfer", "submission_id": tr.submission_id,
            "source_endpoint": source_endpoint, "destination_endpoint": tr.endpoint_id,
            "verify_checksum": tr.verify_checksum, "preserve_timestamp": tr.preserve_timestamp, "label": label,
            "DATA": items});
        if let Some(l) = tr.sync_level {
            doc["sync_level"] = json!(l);
        }
        let task = self.globus.submit_transfer(&token, &doc).await.map_err(from_globus)?;
        tr.task_id = Some(task);
        tr.status = TransferStatus::Active;
        tr.error = None;
        self.store.update_transfer(tr).await?;
        Ok(())
    }

    /// The read rule on an image's export directory (safe to repeat).
    async fn give_export_rule(&self, tr: &mut TransferRow, identity: &str) -> Result<()> {
        if tr.rule_id.is_none() {
            let manager = self.manager_token().await?;
            let path = format!("/{}/", tr.export_id);
            let rule = self
                .globus
                .add_identity_rule(&manager, &self.cfg.storage_collection, identity, &path, "r")
                .await
                .map_err(|e| {
                    Error::new(ErrorKind::Unavailable, format!("cannot give read access on Gantry's collection: {e}"))
                })?;
            tr.rule_id = Some(rule);
            self.store.update_transfer(tr).await?;
        }
        Ok(())
    }

    /// The one transfer item of an image: its export's file or folder.
    fn export_item(&self, tr: &TransferRow) -> Result<serde_json::Value> {
        let first = std::fs::read_dir(self.exports.join(&tr.export_id))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.path().is_dir() { format!("{name}/") } else { name }
            })
            .ok_or_else(|| Error::internal("the export is empty"))?;
        let (src, dst, recursive) = source(tr, &first);
        Ok(json!({"DATA_TYPE": "transfer_item", "source_path": src, "destination_path": dst, "recursive": recursive}))
    }

    /// Ends a transfer that could not be submitted, and cleans up.
    pub(super) async fn fail(&self, tr: &mut TransferRow, why: &str) -> Result<()> {
        tr.status = TransferStatus::Failed;
        tr.error = Some(why.to_string());
        tr.completed_at = Some(time::now_unix());
        self.store.update_transfer(tr).await?;
        self.cleanup(tr).await
    }

    /// Removes the rules and the export of a finished transfer.
    async fn cleanup(&self, tr: &mut TransferRow) -> Result<()> {
        if let Some(collection) = tr.source_collection.clone() {
            self.remove_data_rules(tr, &collection).await?;
        }
        if let Some(rule) = &tr.rule_id {
            let manager = self.manager_token().await?;
            self.globus
                .delete_rule(&manager, &self.cfg.storage_collection, rule)
                .await
                .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot remove the access rule: {e}")))?;
        }
        remove_dir(self.exports.join(&tr.export_id)).await?;
        tr.cleaned = true;
        self.store.update_transfer(tr).await
    }

    /// Cancels a transfer under way.
    pub async fn cancel(&self, p: &Principal, id: &str) -> Result<TransferRow> {
        let mut tr = self.transfer_of(p, id).await?;
        if tr.is_final() {
            return Err(Error::conflict(format!("transfer {id} has ended already ({})", tr.status)));
        }
        if let Some(task) = &tr.task_id {
            let (_, token) = self.user_token(tr.user_id).await?;
            self.globus.cancel_task(&token, task).await.map_err(from_globus)?;
            // Look at once if no other process is looking; otherwise it will, soon.
            match self.jobs.claim(JobKind::Transfer, id, FOLLOW_LEASE).await? {
                Some(job) => self.follow(job).await,
                None => self.jobs.hurry(JobKind::Transfer, id).await?,
            }
        } else {
            // Not submitted yet: only the holder of the job may end it.
            let Some(job) = self.jobs.claim(JobKind::Transfer, id, FOLLOW_LEASE).await? else {
                return Err(Error::conflict(format!("transfer {id} is being submitted; try again in a moment")));
            };
            let mut fresh = self.store.transfer(id).await?.unwrap_or(tr.clone());
            if fresh.task_id.is_some() {
                self.jobs.release(&job, time::now_unix(), 0).await?;
                return Err(Error::conflict(format!("transfer {id} was just submitted; cancel it again")));
            }
            self.fail(&mut fresh, "canceled before it was submitted").await?;
            self.jobs.finish(&job).await?;
            tr = fresh;
        }
        Ok(self.store.transfer(id).await?.unwrap_or(tr))
    }

    /// One look at a transfer whose job this process holds; the job is then rescheduled,
    /// or finished when the transfer is cleaned up.
    async fn follow(&self, job: Job) {
        let now = time::now_unix();
        let mut tr = match self.store.transfer(&job.subject).await {
            Ok(Some(tr)) => tr,
            Ok(None) => return self.jobs.finish(&job).await.unwrap_or(()),
            Err(e) => {
                tracing::warn!(transfer = job.subject, "reading the transfer: {}", e.message);
                let _ = self.jobs.release(&job, now + backoff(job.attempts + 1), job.attempts + 1).await;
                return;
            }
        };
        let outcome = match self.look(&mut tr, now).await {
            Ok(Some(due)) => self.jobs.release(&job, due, 0).await,
            Ok(None) => self.jobs.finish(&job).await,
            Err(e) => {
                tracing::warn!(transfer = tr.id, "following the transfer: {}", e.message);
                let attempts = job.attempts + 1;
                tr.error = Some(e.message);
                let _ = self.store.update_transfer(&tr).await;
                self.jobs.release(&job, now + backoff(attempts), attempts).await
            }
        };
        if let Err(e) = outcome {
            tracing::warn!(transfer = tr.id, "rescheduling the transfer: {}", e.message);
        }
    }

    /// Submits what is left, reads the task, cleans up at the end. Returns when to look
    /// again, or None when the transfer is done and cleaned up.
    async fn look(&self, tr: &mut TransferRow, now: i64) -> Result<Option<i64>> {
        let poll = self.cfg.poll_secs as i64;
        if tr.is_final() {
            self.cleanup(tr).await?;
            return Ok(None);
        }
        if tr.task_id.is_none() {
            self.submit(tr).await?;
            return Ok(Some(now + poll));
        }
        let (_, token) = self.user_token(tr.user_id).await?;
        let task_id = tr.task_id.clone().unwrap_or_default();
        let task = self.globus.task(&token, &task_id).await.map_err(from_globus)?;
        let before = tr.bytes_transferred;
        tr.bytes_transferred = task.bytes_transferred.unwrap_or(tr.bytes_transferred);
        tr.rate = task.effective_bytes_per_second.unwrap_or(0);
        tr.faults = task.faults.unwrap_or(0);
        tr.nice_status = task.nice_status.clone();
        tr.error = None;
        let ended = match task.status {
            TaskState::Succeeded => Some(TransferStatus::Succeeded),
            TaskState::Failed => Some(TransferStatus::Failed),
            TaskState::Active | TaskState::Inactive => None,
        };
        let Some(status) = ended else {
            // Poll faster while bytes move, slower while nothing changes.
            let idle = (now - tr.updated_at).max(poll);
            let wait = if tr.bytes_transferred != before { poll } else { idle.min(60) };
            self.store.update_transfer(tr).await?;
            return Ok(Some(now + wait));
        };
        tr.status = status;
        tr.completed_at = Some(now);
        if status == TransferStatus::Failed {
            tr.error = task.fatal_error.and_then(|f| f.description.or(f.code));
        }
        if let Ok(ev) = self.globus.task_events(&token, &task_id).await {
            tr.events = serde_json::to_string(&ev).unwrap_or_else(|_| "[]".into());
        }
        self.store.update_transfer(tr).await?;
        self.cleanup(tr).await?;
        Ok(None)
    }

    /// Follows every unfinished transfer whose job is due, until Gantry stops.
    pub async fn follower(&self) {
        self.reconcile().await;
        loop {
            match self.jobs.claim_due(JobKind::Transfer, 16, FOLLOW_LEASE).await {
                Ok(due) => {
                    for job in due {
                        self.follow(job).await;
                    }
                }
                Err(e) => tracing::warn!("cannot claim transfer jobs: {}", e.message),
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Removes access rules and exports that no unfinished transfer owns (left by a crash).
    pub async fn reconcile(&self) {
        let open = match self.store.unclean_transfers().await {
            Ok(v) => v,
            Err(e) => return tracing::warn!("reconcile: {}", e.message),
        };
        let exports_in_use: Vec<&str> = open.iter().map(|t| t.export_id.as_str()).collect();
        match self.manager_token().await {
            Ok(manager) => match self.globus.rules(&manager, &self.cfg.storage_collection).await {
                Ok(rules) => {
                    for r in rules {
                        let path = r.path.as_deref().unwrap_or_default();
                        // A rule is left behind when no unfinished transfer owns its export
                        // (the row is made before the rule, so a rule being given counts).
                        let ours = r.permissions.as_deref() == Some("r")
                            && r.principal_type.as_deref() == Some("identity")
                            && is_export_path(path);
                        let owned = exports_in_use.contains(&path.trim_matches('/'));
                        if ours && !owned {
                            let id = &r.id;
                            match self.globus.delete_rule(&manager, &self.cfg.storage_collection, id).await {
                                Ok(()) => tracing::info!(rule = id, path, "removed an access rule left behind"),
                                Err(e) => tracing::warn!("cannot remove rule {id}: {e}"),
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("reconcile: cannot list the storage collection's rules: {e}"),
            },
            Err(e) => tracing::warn!("reconcile: {}", e.message),
        }
        for e in std::fs::read_dir(&self.exports).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !exports_in_use.contains(&name.as_str()) {
                let _ = remove_dir(e.path()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn export_paths() {
        assert!(super::is_export_path("/0123456789abcdef0123456789abcdef/"));
        assert!(!super::is_export_path("/home/alice/"));
        assert!(!super::is_export_path("/0123456789abcdef0123456789abcdef/sub/"));
    }
}
