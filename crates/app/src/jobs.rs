//! Long work as persisted jobs with leases, safe when several Gantry processes share one
//! database: a process claims a due job for a while (its lease), works, then reschedules
//! or finishes it; a job whose holder died is taken over when the lease runs out.
//! Used by the transfer follower, cancel, and garbage collection.

use crate::secrets::random_hex;
use gantry_domain::{Error, JobKind, Result, time::now_unix};
use gantry_store::{Job, Store};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone)]
pub struct Jobs {
    store: Store,
    /// This process, as lease holder.
    owner: Arc<str>,
}

fn until(lease: Duration) -> i64 {
    now_unix() + lease.as_secs() as i64
}

impl Jobs {
    pub fn new(store: Store) -> Jobs {
        Jobs { store, owner: format!("{}-{}", std::process::id(), random_hex(6)).into() }
    }

    /// Who this process is when it holds a lease.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Claims up to `limit` due jobs of `kind`.
    pub async fn claim_due(&self, kind: JobKind, limit: i64, lease: Duration) -> Result<Vec<Job>> {
        self.store.claim_due_jobs(kind, &self.owner, until(lease), limit).await
    }

    /// Claims the job of `kind` about `subject` now, due or not, unless another process
    /// holds it.
    pub async fn claim(&self, kind: JobKind, subject: &str, lease: Duration) -> Result<Option<Job>> {
        self.store.claim_job(&Job::id_of(kind, subject), &self.owner, until(lease)).await
    }

    /// Lets a held job go until `due_at`.
    pub async fn release(&self, job: &Job, due_at: i64, attempts: i64) -> Result<()> {
        if !self.store.release_job(&job.id, &self.owner, due_at, attempts).await? {
            tracing::warn!(job = job.id, "the job's lease ran out while it was worked on");
        }
        Ok(())
    }

    /// Removes a job whose work is done.
    pub async fn finish(&self, job: &Job) -> Result<()> {
        if !self.store.finish_job(&job.id, &self.owner).await? {
            tracing::warn!(job = job.id, "the job's lease ran out before it was finished");
        }
        Ok(())
    }

    /// Makes a job due now, for whoever takes it next.
    pub async fn hurry(&self, kind: JobKind, subject: &str) -> Result<()> {
        self.store.hurry_job(&Job::id_of(kind, subject)).await
    }

    /// Runs `work` as the one holder of the singleton job `kind`, or says it runs elsewhere.
    pub async fn exclusive<T>(
        &self,
        kind: JobKind,
        lease: Duration,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.store.create_job(kind, "all", now_unix(), None, 0).await?;
        let Some(job) = self.claim(kind, "all", lease).await? else {
            return Err(Error::conflict(format!("a {kind} job is running in another Gantry process; try again later")));
        };
        let out = work.await;
        self.release(&job, now_unix(), 0).await?;
        out
    }
}

/// Seconds to wait after `attempts` failures in a row: 2, 4, 8, … up to 256.
pub fn backoff(attempts: i64) -> i64 {
    (1i64 << attempts.clamp(1, 8)).min(300)
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!([1, 2, 3, 8, 20].map(super::backoff), [2, 4, 8, 256, 256]);
    }
}
