use crate::{Store, db_err, get};
use gantry_domain::{Digest, Error, ErrorKind, Result, Tag, time::now_unix};
use sqlx::any::AnyRow;
use std::collections::BTreeSet;

/// A manifest about to be stored, with what it references already extracted.
#[derive(Debug, Clone)]
pub struct NewManifest {
    pub digest: Digest,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub content: Vec<u8>,
    pub subject: Option<Digest>,
    /// JSON object of the manifest's annotations.
    pub annotations: Option<String>,
    /// JSON object of what Gantry learnt about the content (e.g. a SIF header).
    pub info: Option<String>,
    /// Blobs (config, layers) that must be in the repository.
    pub blobs: Vec<Digest>,
    /// Name and value of every label (annotations, SIF labels), for search.
    pub labels: Vec<(String, String)>,
    /// Lower-cased text that free-text search reads besides the repository name (title,
    /// description, definition file); empty for none.
    pub text: String,
    /// Manifests (of an index) that must be in the repository.
    pub children: Vec<Digest>,
    /// Size of the manifest plus everything it references.
    pub total_size: i64,
    pub pushed_by: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRow {
    pub id: i64,
    pub repo_id: i64,
    pub digest: String,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config_media_type: Option<String>,
    pub size: i64,
    pub total_size: i64,
    pub subject: Option<String>,
    pub annotations: Option<String>,
    pub info: Option<String>,
    pub pushed_by: Option<String>,
    pub created_at: i64,
}

impl ManifestRow {
    fn from_row(r: &AnyRow) -> Result<ManifestRow> {
        Ok(ManifestRow {
            id: get(r, "id")?,
            repo_id: get(r, "repo_id")?,
            digest: get(r, "digest")?,
            media_type: get(r, "media_type")?,
            artifact_type: get(r, "artifact_type")?,
            config_media_type: get(r, "config_media_type")?,
            size: get(r, "size")?,
            total_size: get(r, "total_size")?,
            subject: get(r, "subject")?,
            annotations: get(r, "annotations")?,
            info: get(r, "info")?,
            pushed_by: get(r, "pushed_by_name")?,
            created_at: get(r, "created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub name: String,
    pub digest: String,
    pub updated_at: i64,
}

const MANIFEST_COLS: &str = "m.id, m.repo_id, m.digest, m.media_type, m.artifact_type, m.config_media_type, m.size, \
     m.total_size, m.subject, m.annotations, m.info, u.username AS pushed_by_name, m.created_at";

fn select_manifests(cond: &str) -> sqlx::AssertSqlSafe<String> {
    sql!("SELECT {MANIFEST_COLS} FROM manifests m LEFT JOIN users u ON u.id = m.pushed_by WHERE {cond}")
}

impl Store {
    /// Stores a manifest (idempotently) and points `tag` at it, in one transaction.
    /// Every referenced blob must be available in the repository, and is touched so a
    /// concurrent garbage collection cannot remove it.
    pub async fn put_manifest(&self, repo_id: i64, m: &NewManifest, tag: Option<&Tag>) -> Result<ManifestRow> {
        let now = now_unix();
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let blobs: BTreeSet<&Digest> = m.blobs.iter().collect();
        for d in &blobs {
            let r = sqlx::query(
                "UPDATE blobs SET touched_at = $1 WHERE digest = $2 AND state = 'available' \
                 AND EXISTS (SELECT 1 FROM repo_blobs rb WHERE rb.repo_id = $3 AND rb.digest = $2)",
            )
            .bind(now)
            .bind(d.as_str())
            .bind(repo_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
            if r.rows_affected() == 0 {
                return Err(Error::new(
                    ErrorKind::ManifestBlobUnknown,
                    format!("blob {d} referenced by the manifest is not in this repository; push it first"),
                ));
            }
        }
        let children: BTreeSet<&Digest> = m.children.iter().collect();
        for c in &children {
            let n = sqlx::query("SELECT COUNT(*) AS n FROM manifests WHERE repo_id = $1 AND digest = $2")
                .bind(repo_id)
                .bind(c.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            if get::<i64>(&n, "n")? == 0 {
                return Err(Error::new(
                    ErrorKind::ManifestBlobUnknown,
                    format!("manifest {c} referenced by the index is not in this repository; push it first"),
                ));
            }
        }
        let inserted = sqlx::query(
            "INSERT INTO manifests (repo_id, digest, media_type, artifact_type, config_media_type, size, total_size, \
             content, subject, annotations, info, pushed_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (repo_id, digest) DO NOTHING",
        )
        .bind(repo_id)
        .bind(m.digest.as_str())
        .bind(&m.media_type)
        .bind(&m.artifact_type)
        .bind(&m.config_media_type)
        .bind(m.content.len() as i64)
        .bind(m.total_size)
        .bind(&m.content)
        .bind(m.subject.as_ref().map(|d| d.as_str()))
        .bind(&m.annotations)
        .bind(&m.info)
        .bind(m.pushed_by)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            > 0;
        let row = sqlx::query(select_manifests("m.repo_id = $1 AND m.digest = $2"))
            .bind(repo_id)
            .bind(m.digest.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        let stored = ManifestRow::from_row(&row)?;
        if inserted {
            for d in &blobs {
                sqlx::query("INSERT INTO manifest_blobs (manifest_id, digest) VALUES ($1, $2)")
                    .bind(stored.id)
                    .bind(d.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            for (name, value) in &m.labels {
                sqlx::query("INSERT INTO manifest_labels (manifest_id, name, value) VALUES ($1, $2, $3)")
                    .bind(stored.id)
                    .bind(name)
                    .bind(value)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            if !m.text.is_empty() {
                sqlx::query("INSERT INTO manifest_texts (manifest_id, body) VALUES ($1, $2)")
                    .bind(stored.id)
                    .bind(&m.text)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            for c in &children {
                sqlx::query("INSERT INTO manifest_children (manifest_id, child_digest) VALUES ($1, $2)")
                    .bind(stored.id)
                    .bind(c.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        if let Some(tag) = tag {
            sqlx::query(
                "INSERT INTO tags (repo_id, name, manifest_id, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repo_id, name) DO UPDATE SET manifest_id = excluded.manifest_id, updated_at = excluded.updated_at",
            )
            .bind(repo_id)
            .bind(tag.as_str())
            .bind(stored.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(stored)
    }

    pub async fn manifest_by_digest(&self, repo_id: i64, digest: &Digest) -> Result<Option<ManifestRow>> {
        let row = sqlx::query(select_manifests("m.repo_id = $1 AND m.digest = $2"))
            .bind(repo_id)
            .bind(digest.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(ManifestRow::from_row).transpose()
    }

    pub async fn manifest_by_tag(&self, repo_id: i64, tag: &Tag) -> Result<Option<ManifestRow>> {
        let row = sqlx::query(select_manifests(
            "m.id = (SELECT t.manifest_id FROM tags t WHERE t.repo_id = $1 AND t.name = $2)",
        ))
        .bind(repo_id)
        .bind(tag.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        row.as_ref().map(ManifestRow::from_row).transpose()
    }

    pub async fn manifest_content(&self, id: i64) -> Result<Vec<u8>> {
        let row = sqlx::query("SELECT content FROM manifests WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .ok_or_else(|| Error::new(ErrorKind::ManifestUnknown, "manifest unknown"))?;
        get(&row, "content")
    }

    pub async fn manifests_in_repo(&self, repo_id: i64) -> Result<Vec<ManifestRow>> {
        let rows = sqlx::query(select_manifests("m.repo_id = $1 ORDER BY m.created_at DESC, m.id DESC"))
            .bind(repo_id)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(ManifestRow::from_row).collect()
    }

    /// Tag names in lexical order after `last`, at most `n`.
    pub async fn tag_names(&self, repo_id: i64, last: &str, n: i64) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT name FROM tags WHERE repo_id = $1 AND name > $2 ORDER BY name LIMIT $3")
            .bind(repo_id)
            .bind(last)
            .bind(n)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| get(r, "name")).collect()
    }

    pub async fn tags_in_repo(&self, repo_id: i64) -> Result<Vec<TagRow>> {
        let rows = sqlx::query(
            "SELECT t.name, m.digest, t.updated_at FROM tags t JOIN manifests m ON m.id = t.manifest_id \
             WHERE t.repo_id = $1 ORDER BY t.name",
        )
        .bind(repo_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| Ok(TagRow { name: get(r, "name")?, digest: get(r, "digest")?, updated_at: get(r, "updated_at")? }))
            .collect()
    }

    pub async fn delete_tag(&self, repo_id: i64, tag: &Tag) -> Result<bool> {
        let r = sqlx::query("DELETE FROM tags WHERE repo_id = $1 AND name = $2")
            .bind(repo_id)
            .bind(tag.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Deletes a manifest with its tags. Its blobs stay until garbage collection.
    pub async fn delete_manifest(&self, repo_id: i64, digest: &Digest) -> Result<bool> {
        let r = sqlx::query("DELETE FROM manifests WHERE repo_id = $1 AND digest = $2")
            .bind(repo_id)
            .bind(digest.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Manifests of the repository whose subject is `subject`.
    pub async fn referrers(
        &self,
        repo_id: i64,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ManifestRow>> {
        let rows = sqlx::query(select_manifests(
            "m.repo_id = $1 AND m.subject = $2 AND ($3 IS NULL OR m.artifact_type = $3) ORDER BY m.digest",
        ))
        .bind(repo_id)
        .bind(subject.as_str())
        .bind(artifact_type)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(ManifestRow::from_row).collect()
    }
}

/// A tagged manifest found by search, with its repository name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedManifest {
    pub repo: String,
    pub tag: String,
    pub manifest: ManifestRow,
}

impl Store {
    /// Tagged manifests in repositories the caller may read where `needle` (lower case)
    /// is in the repository name, the manifest's searchable text (titles, labels,
    /// definition file), the name of who pushed it or of an owner of its collection;
    /// newest first, at most `limit`.
    pub async fn search_tagged(
        &self,
        user_id: Option<i64>,
        is_admin: bool,
        needle: &str,
        collection: Option<&str>,
        label: Option<(&str, Option<&str>)>,
        limit: i64,
    ) -> Result<Vec<TaggedManifest>> {
        let pattern = format!("%{}%", needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let rows = sqlx::query(sql!(
            "SELECT r.name AS repo_name, t.name AS tag_name, {MANIFEST_COLS} FROM tags t \
             JOIN manifests m ON m.id = t.manifest_id JOIN repositories r ON r.id = t.repo_id \
             JOIN collections c ON c.id = r.collection_id {} \
             LEFT JOIN users u ON u.id = m.pushed_by \
             WHERE ($2 = 1 OR c.visibility = 'public' OR mb.role IS NOT NULL) \
               AND (r.name LIKE $3 ESCAPE '\\' OR EXISTS (SELECT 1 FROM manifest_texts x \
                    WHERE x.manifest_id = m.id AND x.body LIKE $3 ESCAPE '\\') \
                    OR LOWER(u.username) LIKE $3 ESCAPE '\\' \
                    OR EXISTS (SELECT 1 FROM members om JOIN users ou ON ou.id = om.user_id \
                    WHERE om.collection_id = c.id AND om.role = 'owner' AND LOWER(ou.username) LIKE $3 ESCAPE '\\')) \
               AND ($4 IS NULL OR c.name = $4) \
               AND ($6 IS NULL OR EXISTS (SELECT 1 FROM manifest_labels l WHERE l.manifest_id = m.id \
                    AND l.name = $6 AND ($7 IS NULL OR l.value = $7))) \
             ORDER BY t.updated_at DESC, r.name, t.name LIMIT $5",
            crate::collections::role_join("mb")
        ))
        .bind(user_id)
        .bind(is_admin as i64)
        .bind(pattern)
        .bind(collection)
        .bind(limit)
        .bind(label.map(|l| l.0))
        .bind(label.and_then(|l| l.1))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(TaggedManifest {
                    repo: get(r, "repo_name")?,
                    tag: get(r, "tag_name")?,
                    manifest: ManifestRow::from_row(r)?,
                })
            })
            .collect()
    }
}
