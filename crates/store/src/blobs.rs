use crate::{Store, db_err, get};
use gantry_domain::{Digest, Error, Result, time::now_unix};
use sqlx::any::AnyRow;

/// An upload session; `size` counts the bytes durably received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub repo_id: i64,
    pub user_id: Option<i64>,
    pub size: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Upload {
    fn from_row(r: &AnyRow) -> Result<Upload> {
        Ok(Upload {
            id: get(r, "id")?,
            repo_id: get(r, "repo_id")?,
            user_id: get(r, "user_id")?,
            size: get(r, "size")?,
            created_at: get(r, "created_at")?,
            updated_at: get(r, "updated_at")?,
        })
    }
}

/// A blob the garbage collector may remove; `marked` when a previous run already began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcCandidate {
    pub digest: String,
    pub marked: bool,
}

impl Store {
    /// Size of an available blob linked to the repository.
    /// What each collection stores: repositories, manifests, and the bytes of the
    /// distinct blobs linked into its repositories (a blob shared by two collections
    /// counts in both); with the bytes stored in all.
    pub async fn storage_use(&self) -> Result<(Vec<CollectionUse>, i64)> {
        let rows = sqlx::query(
            "SELECT c.name, \
               (SELECT COUNT(*) FROM repositories r WHERE r.collection_id = c.id) AS repositories, \
               (SELECT COUNT(*) FROM manifests m JOIN repositories r ON r.id = m.repo_id \
                 WHERE r.collection_id = c.id) AS manifests, \
               (SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM blobs b WHERE b.digest IN \
                 (SELECT rb.digest FROM repo_blobs rb JOIN repositories r ON r.id = rb.repo_id \
                   WHERE r.collection_id = c.id)) AS bytes \
             FROM collections c ORDER BY bytes DESC, c.name",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let used = rows
            .iter()
            .map(|r| {
                Ok(CollectionUse {
                    name: get(r, "name")?,
                    repositories: get(r, "repositories")?,
                    manifests: get(r, "manifests")?,
                    bytes: get(r, "bytes")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let total = sqlx::query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM blobs")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok((used, get(&total, "n")?))
    }

    pub async fn blob_in_repo(&self, repo_id: i64, digest: &Digest) -> Result<Option<i64>> {
        let row = sqlx::query(
            "SELECT b.size FROM blobs b JOIN repo_blobs rb ON rb.digest = b.digest \
             WHERE rb.repo_id = $1 AND b.digest = $2 AND b.state = 'available'",
        )
        .bind(repo_id)
        .bind(digest.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.map(|r| get(&r, "size")).transpose()
    }

    /// Size of an available blob, wherever it is linked.
    pub async fn blob_size(&self, digest: &Digest) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT size FROM blobs WHERE digest = $1 AND state = 'available'")
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.map(|r| get(&r, "size")).transpose()
    }

    /// Records a blob whose bytes are stored, and links it to the repository.
    /// Returns false when the garbage collector is removing that digest right now;
    /// the caller waits for it to finish and tries again.
    pub async fn commit_blob(&self, repo_id: i64, digest: &Digest, size: i64) -> Result<bool> {
        let now = now_unix();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let r = sqlx::query(
            "INSERT INTO blobs (digest, size, state, touched_at, created_at) VALUES ($1, $2, 'available', $3, $3) \
             ON CONFLICT (digest) DO UPDATE SET touched_at = excluded.touched_at WHERE blobs.state = 'available'",
        )
        .bind(digest.as_str())
        .bind(size)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        link_if(tx, r.rows_affected() > 0, repo_id, digest, now).await
    }

    /// Links an already stored blob into another repository (cross-repository mount).
    /// False if no such blob is available.
    pub async fn mount_blob(&self, repo_id: i64, digest: &Digest) -> Result<bool> {
        let now = now_unix();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let r = sqlx::query("UPDATE blobs SET touched_at = $1 WHERE digest = $2 AND state = 'available'")
            .bind(now)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        link_if(tx, r.rows_affected() > 0, repo_id, digest, now).await
    }

    /// Removes a blob from a repository. Refused while a manifest of the repository
    /// references it.
    pub async fn unlink_blob(&self, repo_id: i64, digest: &Digest) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let used = sqlx::query(
            "SELECT COUNT(*) AS n FROM manifest_blobs mb JOIN manifests m ON m.id = mb.manifest_id \
             WHERE m.repo_id = $1 AND mb.digest = $2",
        )
        .bind(repo_id)
        .bind(digest.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        if get::<i64>(&used, "n")? > 0 {
            return Err(Error::conflict(format!(
                "blob {digest} is referenced by a manifest of this repository; delete the manifest first"
            )));
        }
        let r = sqlx::query("DELETE FROM repo_blobs WHERE repo_id = $1 AND digest = $2")
            .bind(repo_id)
            .bind(digest.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn create_upload(&self, id: &str, repo_id: i64, user_id: Option<i64>) -> Result<Upload> {
        let now = now_unix();
        let row = sqlx::query(
            "INSERT INTO uploads (id, repo_id, user_id, size, created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4) \
             RETURNING id, repo_id, user_id, size, created_at, updated_at",
        )
        .bind(id)
        .bind(repo_id)
        .bind(user_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        Upload::from_row(&row)
    }

    /// How many upload sessions of a user were active since `since` (unix seconds).
    pub async fn count_uploads(&self, user_id: i64, since: i64) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM uploads WHERE user_id = $1 AND updated_at >= $2")
            .bind(user_id)
            .bind(since)
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        get(&row, "n")
    }

    pub async fn upload(&self, id: &str) -> Result<Option<Upload>> {
        let row = sqlx::query("SELECT id, repo_id, user_id, size, created_at, updated_at FROM uploads WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(Upload::from_row).transpose()
    }

    /// Records that `size` bytes are durably received, if the session is still at `from`.
    pub async fn advance_upload(&self, id: &str, from: i64, size: i64) -> Result<bool> {
        let r = sqlx::query("UPDATE uploads SET size = $1, updated_at = $2 WHERE id = $3 AND size = $4")
            .bind(size)
            .bind(now_unix())
            .bind(id)
            .bind(from)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn delete_upload(&self, id: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM uploads WHERE id = $1").bind(id).execute(&self.pool).await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Upload sessions not touched since `before`.
    pub async fn stale_uploads(&self, before: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM uploads WHERE updated_at < $1")
            .bind(before)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| get(r, "id")).collect()
    }

    /// All upload ids, to tell staged files that belong to no session.
    pub async fn upload_ids(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT id FROM uploads").fetch_all(&self.pool).await.map_err(db_err)?;
        rows.iter().map(|r| get(r, "id")).collect()
    }

    /// Blobs no manifest references and nobody touched since `cutoff`, plus blobs a
    /// previous collection left marked.
    pub async fn gc_candidates(&self, cutoff: i64) -> Result<Vec<GcCandidate>> {
        let rows = sqlx::query(
            "SELECT digest, state FROM blobs b WHERE state = 'deleting' OR (state = 'available' AND touched_at < $1 \
             AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = b.digest)) ORDER BY digest",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok(GcCandidate { digest: get(r, "digest")?, marked: get::<String>(r, "state")? == "deleting" }))
            .collect()
    }

    /// Marks a blob for deletion if it is still unreferenced and untouched since
    /// `cutoff`, and unlinks it from every repository. A manifest push that references
    /// the blob touches it first, so the two can never both succeed.
    pub async fn gc_mark(&self, digest: &str, cutoff: i64) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let r = sqlx::query(
            "UPDATE blobs SET state = 'deleting' WHERE digest = $1 AND state = 'available' AND touched_at < $2 \
             AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.digest = $1)",
        )
        .bind(digest)
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if r.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM repo_blobs WHERE digest = $1").bind(digest).execute(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    /// Forgets a marked blob once its bytes are gone.
    pub async fn gc_forget(&self, digest: &str) -> Result<()> {
        sqlx::query("DELETE FROM blobs WHERE digest = $1 AND state = 'deleting'")
            .bind(digest)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// True while a blob row exists in state 'deleting'.
    pub async fn blob_is_deleting(&self, digest: &Digest) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM blobs WHERE digest = $1 AND state = 'deleting'")
            .bind(digest.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(get::<i64>(&row, "n")? > 0)
    }
}

/// Ends a transaction that made a blob available: links it to the repository and
/// commits if `available`, otherwise leaves nothing done. Returns `available`.
async fn link_if(
    mut tx: sqlx::Transaction<'_, sqlx::Any>,
    available: bool,
    repo_id: i64,
    digest: &Digest,
    now: i64,
) -> Result<bool> {
    if !available {
        return Ok(false);
    }
    link(&mut tx, repo_id, digest, now).await?;
    tx.commit().await.map_err(db_err)?;
    Ok(true)
}

async fn link(tx: &mut sqlx::Transaction<'_, sqlx::Any>, repo_id: i64, digest: &Digest, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO repo_blobs (repo_id, digest, linked_at) VALUES ($1, $2, $3) \
         ON CONFLICT (repo_id, digest) DO UPDATE SET linked_at = excluded.linked_at",
    )
    .bind(repo_id)
    .bind(digest.as_str())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// One collection's share of the storage, for the admin page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionUse {
    pub name: String,
    pub repositories: i64,
    pub manifests: i64,
    pub bytes: i64,
}
