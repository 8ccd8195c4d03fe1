//! Garbage collection: expired upload sessions, staged files without a session, and
//! blobs that no manifest references and nobody touched within the grace period. Safe
//! while pushes run: see `Store::gc_mark`.

use gantry_blobs::BlobStore;
use gantry_domain::{Digest, Result, time::now_unix};
use gantry_store::Store;
use std::sync::Arc;

/// What a garbage collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub blobs_removed: u64,
    pub uploads_removed: u64,
}

#[derive(Clone)]
pub struct Gc {
    store: Store,
    blobs: Arc<BlobStore>,
    upload_expiry_secs: u64,
    /// The default grace period.
    pub grace_secs: u64,
}

impl Gc {
    pub fn new(store: Store, blobs: Arc<BlobStore>, upload_expiry_secs: u64, grace_secs: u64) -> Gc {
        Gc { store, blobs, upload_expiry_secs, grace_secs }
    }

    /// Removes unreferenced blobs older than `grace_secs` and expired upload sessions.
    pub async fn run(&self, grace_secs: u64) -> Result<GcReport> {
        let now = now_unix();
        let mut report = GcReport::default();
        for id in self.store.stale_uploads(now - self.upload_expiry_secs as i64).await? {
            self.blobs.discard(&id).await?;
            self.store.delete_upload(&id).await?;
            report.uploads_removed += 1;
        }
        // Staged files without a session (a crash between creating the two).
        let known: std::collections::HashSet<String> = self.store.upload_ids().await?.into_iter().collect();
        for id in self.blobs.staged_ids().await? {
            if !known.contains(&id) && self.blobs.staged_age_secs(&id).await.is_some_and(|a| a > grace_secs) {
                self.blobs.discard(&id).await?;
                report.uploads_removed += 1;
            }
        }
        let cutoff = now - grace_secs as i64;
        for c in self.store.gc_candidates(cutoff).await? {
            let marked = c.marked || self.store.gc_mark(&c.digest, cutoff).await?;
            if marked {
                let d = Digest::parse(&c.digest)?;
                self.blobs.delete(&d).await?;
                self.store.gc_forget(&c.digest).await?;
                report.blobs_removed += 1;
            }
        }
        Ok(report)
    }
}
