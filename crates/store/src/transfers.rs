//! Connected Globus accounts and the transfers Gantry follows.

use crate::{Store, db_err, get, parse_col};
use gantry_domain::{JobKind, LinkStatus, Result, TransferStatus, time::now_unix};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobusLink {
    pub user_id: i64,
    pub identity_id: String,
    pub username: String,
    /// The token response, encrypted by the server.
    pub tokens: Vec<u8>,
    /// When the Transfer access token runs out.
    pub expires_at: i64,
    pub status: LinkStatus,
    pub last_error: Option<String>,
    pub connected_at: i64,
    pub refreshed_at: i64,
}

impl GlobusLink {
    fn from_row(r: &AnyRow) -> Result<GlobusLink> {
        Ok(GlobusLink {
            user_id: get(r, "user_id")?,
            identity_id: get(r, "identity_id")?,
            username: get(r, "username")?,
            tokens: get(r, "tokens")?,
            expires_at: get(r, "expires_at")?,
            status: parse_col(r, "status")?,
            last_error: get(r, "last_error")?,
            connected_at: get(r, "connected_at")?,
            refreshed_at: get(r, "refreshed_at")?,
        })
    }
}

const LINK_COLS: &str =
    "user_id, identity_id, username, tokens, expires_at, status, last_error, connected_at, refreshed_at";

/// A transfer of an image to a Globus endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferRow {
    pub id: String,
    pub user_id: i64,
    pub image_ref: String,
    pub digest: String,
    pub endpoint_id: String,
    /// The endpoint's display name when the transfer started.
    pub endpoint_name: Option<String>,
    pub path: String,
    pub label: Option<String>,
    pub sync_level: Option<i64>,
    pub verify_checksum: bool,
    pub preserve_timestamp: bool,
    /// For experiment data: the experiment, its session and the folder or file chosen
    /// (relative to the session, empty for all of it).
    pub experiment: Option<String>,
    pub session_number: Option<i64>,
    pub source_path: Option<String>,
    /// The facility's Globus collection the data are sent from.
    pub source_collection: Option<String>,
    /// JSON list of what is sent from the source collection, with the rule of each.
    pub sources: String,
    pub status: TransferStatus,
    pub submission_id: Option<String>,
    pub task_id: Option<String>,
    pub rule_id: Option<String>,
    pub export_id: String,
    pub files: i64,
    pub bytes_transferred: i64,
    pub bytes_total: i64,
    pub rate: i64,
    pub faults: i64,
    pub nice_status: Option<String>,
    pub error: Option<String>,
    /// JSON list of the task's events.
    pub events: String,
    /// Access rule and exported links are removed.
    pub cleaned: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub completed_at: Option<i64>,
}

impl TransferRow {
    fn from_row(r: &AnyRow) -> Result<TransferRow> {
        Ok(TransferRow {
            id: get(r, "id")?,
            user_id: get(r, "user_id")?,
            image_ref: get(r, "image_ref")?,
            digest: get(r, "digest")?,
            endpoint_id: get(r, "endpoint_id")?,
            endpoint_name: get(r, "endpoint_name")?,
            path: get(r, "path")?,
            label: get(r, "label")?,
            sync_level: get(r, "sync_level")?,
            verify_checksum: get::<i64>(r, "verify_checksum")? != 0,
            preserve_timestamp: get::<i64>(r, "preserve_timestamp")? != 0,
            experiment: get(r, "experiment")?,
            session_number: get(r, "session_number")?,
            source_path: get(r, "source_path")?,
            source_collection: get(r, "source_collection")?,
            sources: get(r, "sources")?,
            status: parse_col(r, "status")?,
            submission_id: get(r, "submission_id")?,
            task_id: get(r, "task_id")?,
            rule_id: get(r, "rule_id")?,
            export_id: get(r, "export_id")?,
            files: get(r, "files")?,
            bytes_transferred: get(r, "bytes_transferred")?,
            bytes_total: get(r, "bytes_total")?,
            rate: get(r, "rate")?,
            faults: get(r, "faults")?,
            nice_status: get(r, "nice_status")?,
            error: get(r, "error")?,
            events: get(r, "events")?,
            cleaned: get::<i64>(r, "cleaned")? != 0,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
            completed_at: get(r, "completed_at")?,
        })
    }

    pub fn is_final(&self) -> bool {
        self.status.is_final()
    }
}

const TRANSFER_COLS: &str = "id, user_id, image_ref, digest, endpoint_id, path, label, sync_level, export_id, \
    created_at, updated_at, endpoint_name, verify_checksum, preserve_timestamp, experiment, session_number, \
    source_path, source_collection, status, submission_id, task_id, rule_id, files, bytes_transferred, \
    bytes_total, rate, faults, nice_status, error, events, cleaned, completed_at, sources";

/// What changes as a transfer goes on, in the order of the last 15 of TRANSFER_COLS and of
/// the SET list of `update_transfer`.
fn bind_progress<'q>(
    q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>,
    t: &'q TransferRow,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments> {
    q.bind(t.status.as_str())
        .bind(&t.submission_id)
        .bind(&t.task_id)
        .bind(&t.rule_id)
        .bind(t.files)
        .bind(t.bytes_transferred)
        .bind(t.bytes_total)
        .bind(t.rate)
        .bind(t.faults)
        .bind(&t.nice_status)
        .bind(&t.error)
        .bind(&t.events)
        .bind(t.cleaned as i64)
        .bind(t.completed_at)
        .bind(&t.sources)
}

impl Store {
    pub async fn put_globus_link(&self, l: &GlobusLink) -> Result<()> {
        sqlx::query(sql!(
            "INSERT INTO globus_links ({LINK_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (user_id) DO UPDATE SET identity_id = excluded.identity_id, username = excluded.username, \
               tokens = excluded.tokens, expires_at = excluded.expires_at, status = excluded.status, \
               last_error = excluded.last_error, connected_at = excluded.connected_at, refreshed_at = excluded.refreshed_at"
        ))
        .bind(l.user_id)
        .bind(&l.identity_id)
        .bind(&l.username)
        .bind(&l.tokens)
        .bind(l.expires_at)
        .bind(l.status.as_str())
        .bind(&l.last_error)
        .bind(l.connected_at)
        .bind(l.refreshed_at)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn globus_link(&self, user_id: i64) -> Result<Option<GlobusLink>> {
        self.link_of(sql!("SELECT {LINK_COLS} FROM globus_links WHERE user_id = $1"), user_id).await
    }

    /// The link `sql` returns for a user.
    async fn link_of(&self, sql: impl sqlx::SqlSafeStr, user_id: i64) -> Result<Option<GlobusLink>> {
        let row = sqlx::query(sql).bind(user_id).fetch_optional(&self.pool).await.map_err(db_err)?;
        row.as_ref().map(GlobusLink::from_row).transpose()
    }

    pub async fn set_globus_status(&self, user_id: i64, status: LinkStatus, error: Option<&str>) -> Result<()> {
        sqlx::query("UPDATE globus_links SET status = $1, last_error = $2 WHERE user_id = $3")
            .bind(status.as_str())
            .bind(error)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn delete_globus_link(&self, user_id: i64) -> Result<Option<GlobusLink>> {
        self.link_of(sql!("DELETE FROM globus_links WHERE user_id = $1 RETURNING {LINK_COLS}"), user_id).await
    }

    /// Records a new transfer together with its job, held by `owner` until `lease_until`.
    pub async fn create_transfer(&self, t: &TransferRow, owner: &str, lease_until: i64) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let q = sqlx::query(sql!(
            "INSERT INTO transfers ({TRANSFER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33)"
        ))
        .bind(&t.id)
        .bind(t.user_id)
        .bind(&t.image_ref)
        .bind(&t.digest)
        .bind(&t.endpoint_id)
        .bind(&t.path)
        .bind(&t.label)
        .bind(t.sync_level)
        .bind(&t.export_id)
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(&t.endpoint_name)
        .bind(t.verify_checksum as i64)
        .bind(t.preserve_timestamp as i64)
        .bind(&t.experiment)
        .bind(t.session_number)
        .bind(&t.source_path)
        .bind(&t.source_collection);
        bind_progress(q, t).execute(&mut *tx).await.map_err(db_err)?;
        crate::jobs::insert_job(&mut *tx, JobKind::Transfer, &t.id, lease_until, Some(owner), lease_until).await?;
        tx.commit().await.map_err(db_err)
    }

    /// Saves what changes as a transfer goes on.
    pub async fn update_transfer(&self, t: &TransferRow) -> Result<()> {
        let q = sqlx::query(
            "UPDATE transfers SET status = $1, submission_id = $2, task_id = $3, rule_id = $4, files = $5, \
             bytes_transferred = $6, bytes_total = $7, rate = $8, faults = $9, nice_status = $10, error = $11, \
             events = $12, cleaned = $13, completed_at = $14, sources = $15, updated_at = $16 WHERE id = $17",
        );
        bind_progress(q, t).bind(now_unix()).bind(&t.id).execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    pub async fn transfer(&self, id: &str) -> Result<Option<TransferRow>> {
        let row = sqlx::query(sql!("SELECT {TRANSFER_COLS} FROM transfers WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(TransferRow::from_row).transpose()
    }

    /// A user's transfers, newest first.
    pub async fn transfers_of(&self, user_id: i64, limit: i64) -> Result<Vec<TransferRow>> {
        let rows = sqlx::query(sql!(
            "SELECT {TRANSFER_COLS} FROM transfers WHERE user_id = $1 ORDER BY created_at DESC, id LIMIT $2"
        ))
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(TransferRow::from_row).collect()
    }

    /// Every transfer not yet cleaned up (their rules and exports must stay).
    pub async fn unclean_transfers(&self) -> Result<Vec<TransferRow>> {
        let rows = sqlx::query(sql!("SELECT {TRANSFER_COLS} FROM transfers WHERE cleaned = 0"))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(TransferRow::from_row).collect()
    }

    /// How many of a user's transfers are under way.
    pub async fn active_transfers(&self, user_id: i64) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM transfers WHERE user_id = $1 AND status NOT IN ('SUCCEEDED', 'FAILED')",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        get(&row, "n")
    }
}
