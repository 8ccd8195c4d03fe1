//! Storage: what each collection uses, and garbage collection: expired upload sessions, staged files without a session, and
//! blobs that no manifest references and nobody touched within the grace period. Safe
//! while pushes run: see `Store::gc_mark`.

use crate::jobs::Jobs;
use gantry_blobs::BlobStore;
use gantry_domain::{Digest, JobKind, Result, time::now_unix};
use gantry_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// What a garbage collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub blobs_removed: u64,
    pub uploads_removed: u64,
}

/// How long one collection may hold the gc job before another process may start one
/// (collections never conflict, since each blob is marked before it is removed; the job
/// only keeps two from doing the same work).
const GC_LEASE: Duration = Duration::from_secs(600);

#[derive(Clone)]
pub struct Gc {
    store: Store,
    blobs: Arc<BlobStore>,
    jobs: Jobs,
    upload_expiry_secs: u64,
    /// The default grace period.
    pub grace_secs: u64,
}

impl Gc {
    pub fn new(store: Store, blobs: Arc<BlobStore>, jobs: Jobs, upload_expiry_secs: u64, grace_secs: u64) -> Gc {
        Gc { store, blobs, jobs, upload_expiry_secs, grace_secs }
    }

    /// What each collection stores, and the bytes stored in all (the admin page).
    pub async fn storage_use(&self) -> Result<(Vec<gantry_store::CollectionUse>, i64)> {
        self.store.storage_use().await
    }

    /// Removes unreferenced blobs older than `grace_secs` and expired upload sessions;
    /// one collection at a time across every process sharing the database.
    pub async fn run(&self, grace_secs: u64) -> Result<GcReport> {
        self.jobs.exclusive(JobKind::Gc, GC_LEASE, self.collect(grace_secs)).await
    }

    async fn collect(&self, grace_secs: u64) -> Result<GcReport> {
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
