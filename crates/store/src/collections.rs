use crate::{Store, db_err, get, parse_col};
use gantry_domain::{Error, ErrorKind, Result, Role, Visibility, time::now_unix};
use sqlx::any::AnyRow;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub id: i64,
    pub name: String,
    pub visibility: Visibility,
    pub description: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
}

impl Collection {
    fn from_row(r: &AnyRow) -> Result<Collection> {
        Ok(Collection {
            id: get(r, "id")?,
            name: get(r, "name")?,
            visibility: parse_col(r, "visibility")?,
            description: get(r, "description")?,
            created_by: get(r, "created_by")?,
            created_at: get(r, "created_at")?,
        })
    }
}

/// A collection and the caller's role on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionAccess {
    pub collection: Collection,
    pub role: Option<Role>,
}

impl CollectionAccess {
    fn from_row(r: &AnyRow) -> Result<CollectionAccess> {
        let role: Option<String> = get(r, "role")?;
        Ok(CollectionAccess { collection: Collection::from_row(r)?, role: role.map(|s| Role::parse(&s)).transpose()? })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub id: i64,
    pub collection_id: i64,
    pub name: String,
    pub created_at: i64,
}

impl Repo {
    fn from_row(r: &AnyRow) -> Result<Repo> {
        Ok(Repo {
            id: get(r, "id")?,
            collection_id: get(r, "collection_id")?,
            name: get(r, "name")?,
            created_at: get(r, "created_at")?,
        })
    }
}

const COLL_COLS: &str = "c.id, c.name, c.visibility, c.description, c.created_by, c.created_at";

/// Joins `alias.role`: the role the user `$1` holds on collection `c`, directly or through
/// a group, the highest one winning.
pub(crate) fn role_join(alias: &str) -> String {
    const RANK: &str = "CASE role WHEN 'owner' THEN 3 WHEN 'contributor' THEN 2 ELSE 1 END";
    format!(
        "LEFT JOIN (SELECT collection_id, \
           CASE MAX(rank) WHEN 3 THEN 'owner' WHEN 2 THEN 'contributor' ELSE 'viewer' END AS role FROM ( \
             SELECT collection_id, {RANK} AS rank FROM members WHERE user_id = $1 \
             UNION ALL \
             SELECT g.collection_id, {RANK} AS rank FROM group_members g \
               JOIN user_groups ug ON ug.group_id = g.group_id WHERE ug.user_id = $1 \
           ) ranks GROUP BY collection_id) {alias} ON {alias}.collection_id = c.id"
    )
}

impl Store {
    /// A collection by name with the role `user_id` holds on it.
    pub async fn collection_access(&self, name: &str, user_id: Option<i64>) -> Result<Option<CollectionAccess>> {
        let row =
            sqlx::query(sql!("SELECT {COLL_COLS}, m.role FROM collections c {} WHERE c.name = $2", role_join("m")))
                .bind(user_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        row.as_ref().map(CollectionAccess::from_row).transpose()
    }

    /// Collections the caller may see: public ones, those it is a member of, all for admins.
    pub async fn visible_collections(&self, user_id: Option<i64>, is_admin: bool) -> Result<Vec<CollectionAccess>> {
        let rows = sqlx::query(sql!(
            "SELECT {COLL_COLS}, m.role FROM collections c {} \
             WHERE $2 = 1 OR c.visibility = 'public' OR m.role IS NOT NULL ORDER BY c.name",
            role_join("m")
        ))
        .bind(user_id)
        .bind(is_admin as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(CollectionAccess::from_row).collect()
    }

    /// Creates a collection; `owner` becomes its first owner.
    pub async fn create_collection(
        &self,
        name: &str,
        visibility: Visibility,
        description: &str,
        owner: Option<i64>,
    ) -> Result<Collection> {
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        let row = sqlx::query(
            "INSERT INTO collections (name, visibility, description, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id, name, visibility, description, created_by, created_at",
        )
        .bind(name)
        .bind(visibility.as_str())
        .bind(description)
        .bind(owner)
        .bind(now_unix())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| match db_err(e) {
            e if e.kind == ErrorKind::Conflict => Error::conflict(format!("collection {name:?} already exists")),
            e => e,
        })?;
        let c = Collection::from_row(&row)?;
        if let Some(owner) = owner {
            sqlx::query("INSERT INTO members (collection_id, user_id, role) VALUES ($1, $2, $3)")
                .bind(c.id)
                .bind(owner)
                .bind(Role::Owner.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(c)
    }

    pub async fn update_collection(
        &self,
        id: i64,
        visibility: Option<Visibility>,
        description: Option<&str>,
    ) -> Result<()> {
        if let Some(v) = visibility {
            sqlx::query("UPDATE collections SET visibility = $1 WHERE id = $2")
                .bind(v.as_str())
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        if let Some(d) = description {
            sqlx::query("UPDATE collections SET description = $1 WHERE id = $2")
                .bind(d)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    /// Deletes a collection with its repositories, manifests and tags. Blobs stay until
    /// garbage collection finds them unreferenced.
    pub async fn delete_collection(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM collections WHERE id = $1").bind(id).execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    pub async fn list_members(&self, collection_id: i64) -> Result<Vec<Member>> {
        let rows = sqlx::query(
            "SELECT m.user_id, u.username, m.role FROM members m JOIN users u ON u.id = m.user_id \
             WHERE m.collection_id = $1 ORDER BY u.username",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(Member { user_id: get(r, "user_id")?, username: get(r, "username")?, role: parse_col(r, "role")? })
            })
            .collect()
    }

    pub async fn set_member(&self, collection_id: i64, user_id: i64, role: Role) -> Result<()> {
        sqlx::query(
            "INSERT INTO members (collection_id, user_id, role) VALUES ($1, $2, $3) \
             ON CONFLICT (collection_id, user_id) DO UPDATE SET role = excluded.role",
        )
        .bind(collection_id)
        .bind(user_id)
        .bind(role.as_str())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn remove_member(&self, collection_id: i64, user_id: i64) -> Result<bool> {
        let r = sqlx::query("DELETE FROM members WHERE collection_id = $1 AND user_id = $2")
            .bind(collection_id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn repo_by_name(&self, name: &str) -> Result<Option<Repo>> {
        let row = sqlx::query("SELECT id, collection_id, name, created_at FROM repositories WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?;
        row.as_ref().map(Repo::from_row).transpose()
    }

    /// The repository with this name, created in the collection if it does not exist.
    pub async fn ensure_repo(&self, collection_id: i64, name: &str) -> Result<Repo> {
        sqlx::query(
            "INSERT INTO repositories (collection_id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
        )
        .bind(collection_id)
        .bind(name)
        .bind(now_unix())
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        self.repo_by_name(name).await?.ok_or_else(|| Error::internal("repository vanished after insert"))
    }

    pub async fn repos_in_collection(&self, collection_id: i64) -> Result<Vec<Repo>> {
        let rows = sqlx::query(
            "SELECT id, collection_id, name, created_at FROM repositories WHERE collection_id = $1 ORDER BY name",
        )
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(Repo::from_row).collect()
    }

    pub async fn delete_repo(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM repositories WHERE id = $1").bind(id).execute(&self.pool).await.map_err(db_err)?;
        Ok(())
    }

    /// Names of repositories holding at least one manifest that the caller may read,
    /// in order, after `last`, at most `n`.
    pub async fn catalog(&self, user_id: Option<i64>, is_admin: bool, last: &str, n: i64) -> Result<Vec<String>> {
        let rows = sqlx::query(sql!(
            "SELECT r.name FROM repositories r JOIN collections c ON c.id = r.collection_id {} \
             WHERE ($2 = 1 OR c.visibility = 'public' OR m.role IS NOT NULL) AND r.name > $3 \
               AND EXISTS (SELECT 1 FROM manifests mf WHERE mf.repo_id = r.id) \
             ORDER BY r.name LIMIT $4",
            role_join("m")
        ))
        .bind(user_id)
        .bind(is_admin as i64)
        .bind(last)
        .bind(n)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| get(r, "name")).collect()
    }
}
