//! Jobs with leases. Claiming is one statement: on PostgreSQL the candidates are locked
//! with `FOR UPDATE SKIP LOCKED`, so concurrent claimers take different jobs; on SQLite
//! writers are serialised and the `UPDATE` re-checks the lease. A holder renews,
//! reschedules or removes only a job it still holds.

use crate::{Backend, Store, db_err, get, parse_col};
use gantry_domain::{JobKind, Result, time::now_unix};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    /// What the job is about (a transfer's id).
    pub subject: String,
    pub due_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: i64,
    pub attempts: i64,
}

impl Job {
    fn from_row(r: &AnyRow) -> Result<Job> {
        Ok(Job {
            id: get(r, "id")?,
            kind: parse_col(r, "kind")?,
            subject: get(r, "subject")?,
            due_at: get(r, "due_at")?,
            lease_owner: get(r, "lease_owner")?,
            lease_until: get(r, "lease_until")?,
            attempts: get(r, "attempts")?,
        })
    }

    /// The id of the job of `kind` about `subject`.
    pub fn id_of(kind: JobKind, subject: &str) -> String {
        format!("{kind}:{subject}")
    }
}

/// Inserts a job unless it exists; `e` is the pool or a transaction the job is part of.
pub(crate) async fn insert_job<'e>(
    e: impl sqlx::Executor<'e, Database = sqlx::Any>,
    kind: JobKind,
    subject: &str,
    due_at: i64,
    owner: Option<&str>,
    lease_until: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO jobs (id, kind, subject, due_at, lease_owner, lease_until, attempts, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(Job::id_of(kind, subject))
    .bind(kind.as_str())
    .bind(subject)
    .bind(due_at)
    .bind(owner)
    .bind(lease_until)
    .bind(now_unix())
    .execute(e)
    .await
    .map_err(db_err)?;
    Ok(())
}

const JOB_COLS: &str = "id, kind, subject, due_at, lease_owner, lease_until, attempts";

impl Store {
    /// A new job, held by `owner` until `lease_until` (0: free) and due at `due_at`;
    /// nothing happens if it exists already.
    pub async fn create_job(
        &self,
        kind: JobKind,
        subject: &str,
        due_at: i64,
        owner: Option<&str>,
        lease_until: i64,
    ) -> Result<()> {
        insert_job(&self.pool, kind, subject, due_at, owner, lease_until).await
    }

    /// Claims up to `limit` due jobs of `kind` whose lease has run out.
    pub async fn claim_due_jobs(&self, kind: JobKind, owner: &str, lease_until: i64, limit: i64) -> Result<Vec<Job>> {
        let lock = if self.backend() == Backend::Postgres { "FOR UPDATE SKIP LOCKED" } else { "" };
        let rows = sqlx::query(sql!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2 WHERE id IN (SELECT id FROM jobs \
             WHERE kind = $3 AND due_at <= $4 AND lease_until <= $4 ORDER BY due_at LIMIT $5 {lock}) \
             AND lease_until <= $4 RETURNING {JOB_COLS}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(kind.as_str())
        .bind(now_unix())
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(Job::from_row).collect()
    }

    /// Claims one job, due or not, if its lease has run out (or `owner` holds it).
    pub async fn claim_job(&self, id: &str, owner: &str, lease_until: i64) -> Result<Option<Job>> {
        let row = sqlx::query(sql!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2 \
             WHERE id = $3 AND (lease_until <= $4 OR lease_owner = $1) RETURNING {JOB_COLS}"
        ))
        .bind(owner)
        .bind(lease_until)
        .bind(id)
        .bind(now_unix())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(Job::from_row).transpose()
    }

    /// Lets a held job go, due again at `due_at`; false if `owner` no longer holds it.
    pub async fn release_job(&self, id: &str, owner: &str, due_at: i64, attempts: i64) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE jobs SET lease_owner = NULL, lease_until = 0, due_at = $1, attempts = $2 \
             WHERE id = $3 AND lease_owner = $4",
        )
        .bind(due_at)
        .bind(attempts)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    /// Makes a job due now (when it is not held, it is taken up at the next claim).
    pub async fn hurry_job(&self, id: &str) -> Result<()> {
        sqlx::query("UPDATE jobs SET due_at = $1 WHERE id = $2")
            .bind(now_unix())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Removes a finished job that `owner` holds.
    pub async fn finish_job(&self, id: &str, owner: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn job(&self, id: &str) -> Result<Option<Job>> {
        let row = sqlx::query(sql!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(Job::from_row).transpose()
    }
}
