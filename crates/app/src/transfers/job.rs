//! A transfer as a job: submitting (rule, submission id, task; each stored as it is
//! obtained, so repeating is safe), following the task with backoff, cancelling,
//! cleaning up, and reconciling what a crash left behind.

use super::{Transfers, from_globus};
use gantry_domain::{Error, ErrorKind, Principal, Result, TransferStatus, time};
use gantry_store::TransferRow;
use serde_json::json;
use std::path::PathBuf;

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
    /// Gives the rule, gets a submission id (stored first) and submits. Safe to repeat.
    pub(super) async fn submit(&self, tr: &mut TransferRow) -> Result<()> {
        let (identity, token) = self.user_token(tr.user_id).await?;
        if tr.rule_id.is_none() {
            let manager = self.manager_token().await?;
            let path = format!("/{}/", tr.export_id);
            let rule = self
                .globus
                .add_identity_rule(&manager, &self.cfg.storage_collection, &identity, &path, "r")
                .await
                .map_err(|e| {
                    Error::new(ErrorKind::Unavailable, format!("cannot give read access on Gantry's collection: {e}"))
                })?;
            tr.rule_id = Some(rule);
            self.store.update_transfer(tr).await?;
        }
        if tr.submission_id.is_none() {
            tr.submission_id = Some(self.globus.submission_id(&token).await.map_err(from_globus)?);
            self.store.update_transfer(tr).await?;
        }
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
        let label = tr.label.clone().unwrap_or_else(|| format!("Gantry: {}", tr.image_ref));
        let mut doc = json!({"DATA_TYPE": "transfer", "submission_id": tr.submission_id,
            "source_endpoint": self.cfg.storage_collection, "destination_endpoint": tr.endpoint_id,
            "verify_checksum": true, "label": label,
            "DATA": [{"DATA_TYPE": "transfer_item", "source_path": src, "destination_path": dst, "recursive": recursive}]});
        if let Some(l) = tr.sync_level {
            doc["sync_level"] = json!(l);
        }
        let task = self.globus.submit_transfer(&token, &doc).await.map_err(from_globus)?;
        tr.task_id = Some(task);
        tr.status = TransferStatus::Active;
        tr.error = None;
        tr.next_check_at = time::now_unix() + self.cfg.poll_secs as i64;
        self.store.update_transfer(tr).await?;
        Ok(())
    }

    /// Ends a transfer that could not be submitted, and cleans up.
    pub(super) async fn fail(&self, tr: &mut TransferRow, why: &str) -> Result<()> {
        tr.status = TransferStatus::Failed;
        tr.error = Some(why.to_string());
        tr.completed_at = Some(time::now_unix());
        self.store.update_transfer(tr).await?;
        self.cleanup(tr).await
    }

    /// Removes the rule and the export of a finished transfer.
    async fn cleanup(&self, tr: &mut TransferRow) -> Result<()> {
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
            tr.next_check_at = time::now_unix();
            self.store.update_transfer(&tr).await?;
            self.follow(tr.clone()).await;
        } else {
            self.fail(&mut tr, "canceled before it was submitted").await?;
        }
        Ok(self.store.transfer(id).await?.unwrap_or(tr))
    }

    /// One look at a transfer: submit what is left, read the task, clean up at the end.
    async fn follow(&self, mut tr: TransferRow) {
        let now = time::now_unix();
        let result = self.look(&mut tr, now).await;
        if let Err(e) = result {
            tracing::warn!(transfer = tr.id, "following the transfer: {}", e.message);
            tr.attempts += 1;
            tr.error = Some(e.message);
            tr.next_check_at = now + (1i64 << tr.attempts.min(8)).min(300);
            let _ = self.store.update_transfer(&tr).await;
        }
    }

    async fn look(&self, tr: &mut TransferRow, now: i64) -> Result<()> {
        if tr.is_final() {
            return self.cleanup(tr).await;
        }
        if tr.task_id.is_none() {
            return self.submit(tr).await;
        }
        let (_, token) = self.user_token(tr.user_id).await?;
        let task_id = tr.task_id.clone().unwrap_or_default();
        let task = self.globus.task(&token, &task_id).await.map_err(from_globus)?;
        let before = tr.bytes_transferred;
        tr.bytes_transferred = task["bytes_transferred"].as_i64().unwrap_or(tr.bytes_transferred);
        tr.rate = task["effective_bytes_per_second"].as_i64().unwrap_or(0);
        tr.faults = task["faults"].as_i64().unwrap_or(0);
        tr.nice_status = task["nice_status"].as_str().map(str::to_string);
        tr.error = None;
        tr.attempts = 0;
        let ended = match task["status"].as_str().unwrap_or("ACTIVE") {
            "SUCCEEDED" => Some(TransferStatus::Succeeded),
            "FAILED" => Some(TransferStatus::Failed),
            _ => None,
        };
        let Some(status) = ended else {
            // Poll faster while bytes move, slower while nothing changes.
            let idle = (now - tr.updated_at).max(self.cfg.poll_secs as i64);
            let wait = if tr.bytes_transferred != before { self.cfg.poll_secs as i64 } else { idle.min(60) };
            tr.next_check_at = now + wait;
            return self.store.update_transfer(tr).await;
        };
        tr.status = status;
        tr.completed_at = Some(now);
        if status == TransferStatus::Failed {
            let fatal = &task["fatal_error"];
            tr.error = fatal["description"].as_str().or(fatal["code"].as_str()).map(str::to_string);
        }
        if let Ok(ev) = self.globus.task_events(&token, &task_id).await {
            tr.events = ev["DATA"].to_string();
        }
        self.store.update_transfer(tr).await?;
        self.cleanup(tr).await
    }

    /// Follows every unfinished transfer until Gantry stops.
    pub async fn follower(&self) {
        self.reconcile().await;
        loop {
            match self.store.due_transfers(time::now_unix()).await {
                Ok(due) => {
                    for tr in due {
                        self.follow(tr).await;
                    }
                }
                Err(e) => tracing::warn!("cannot read transfers: {}", e.message),
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
        // Requests that were preparing a transfer died with the previous process.
        for tr in open.iter().filter(|t| t.status == TransferStatus::Preparing) {
            let mut tr = tr.clone();
            tr.next_check_at = time::now_unix();
            let _ = self.store.update_transfer(&tr).await;
        }
        let rules_in_use: Vec<&str> = open.iter().filter_map(|t| t.rule_id.as_deref()).collect();
        let exports_in_use: Vec<&str> = open.iter().map(|t| t.export_id.as_str()).collect();
        match self.manager_token().await {
            Ok(manager) => match self.globus.rules(&manager, &self.cfg.storage_collection).await {
                Ok(rules) => {
                    for r in rules {
                        let id =
                            r["id"].as_str().map(str::to_string).or_else(|| r["id"].as_i64().map(|n| n.to_string()));
                        let path = r["path"].as_str().unwrap_or("");
                        let ours = r["permissions"] == "r" && r["principal_type"] == "identity" && is_export_path(path);
                        if let Some(id) = id.filter(|id| ours && !rules_in_use.contains(&id.as_str())) {
                            match self.globus.delete_rule(&manager, &self.cfg.storage_collection, &id).await {
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
