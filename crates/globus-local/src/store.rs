//! Persistent state (clients, codes, tokens, sessions, tasks, access rules) as typed
//! JSON documents in a SQLite database in the data directory.

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr;

#[derive(Clone)]
pub struct Db {
    pool: SqlitePool,
}

impl Db {
    pub async fn open(path: &Path) -> anyhow::Result<Db> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            // WAL with NORMAL survives a killed process (what the service promises); it
            // does not fsync every commit, which on ext4 would also force out the data
            // of files being copied and make transfers disk-bound.
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(15));
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(opts).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS docs (kind TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL, \
             expires_at INTEGER, PRIMARY KEY (kind, id))",
        )
        .execute(&pool)
        .await?;
        Ok(Db { pool })
    }

    pub async fn put<T: Serialize>(&self, kind: &str, id: &str, v: &T, expires_at: Option<i64>) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO docs (kind, id, value, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (kind, id) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
        )
        .bind(kind)
        .bind(id)
        .bind(serde_json::to_string(v)?)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Inserts only if absent; false when the id exists already.
    pub async fn insert_new<T: Serialize>(&self, kind: &str, id: &str, v: &T) -> anyhow::Result<bool> {
        let r = sqlx::query("INSERT INTO docs (kind, id, value) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO NOTHING")
            .bind(kind)
            .bind(id)
            .bind(serde_json::to_string(v)?)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn get<T: DeserializeOwned>(&self, kind: &str, id: &str) -> anyhow::Result<Option<T>> {
        self.one(
            "SELECT value FROM docs WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3)",
            kind,
            id,
        )
        .await
    }

    /// Removes and returns a document (single use, e.g. authorization codes).
    pub async fn take<T: DeserializeOwned>(&self, kind: &str, id: &str) -> anyhow::Result<Option<T>> {
        let sql =
            "DELETE FROM docs WHERE kind = $1 AND id = $2 AND (expires_at IS NULL OR expires_at > $3) RETURNING value";
        self.one(sql, kind, id).await
    }

    /// The live document `sql` selects (binding kind, id and now).
    async fn one<T: DeserializeOwned>(&self, sql: &'static str, kind: &str, id: &str) -> anyhow::Result<Option<T>> {
        let row = sqlx::query(sql).bind(kind).bind(id).bind(now()).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some(serde_json::from_str(r.get::<&str, _>("value"))?),
            None => None,
        })
    }

    pub async fn delete(&self, kind: &str, id: &str) -> anyhow::Result<bool> {
        let r =
            sqlx::query("DELETE FROM docs WHERE kind = $1 AND id = $2").bind(kind).bind(id).execute(&self.pool).await?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn list<T: DeserializeOwned>(&self, kind: &str) -> anyhow::Result<Vec<(String, T)>> {
        let rows = sqlx::query(
            "SELECT id, value FROM docs WHERE kind = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id",
        )
        .bind(kind)
        .bind(now())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| Ok((r.get::<String, _>("id"), serde_json::from_str(r.get::<&str, _>("value"))?))).collect()
    }

    /// Drops expired documents.
    pub async fn purge(&self) -> anyhow::Result<u64> {
        let r = sqlx::query("DELETE FROM docs WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(now())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }
}

pub use gantry_domain::time::now_unix as now;

pub fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("random source");
    hex::encode(b)
}

pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("random source");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn documents_persist_expire_and_take_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.db");
        {
            let db = Db::open(&p).await.unwrap();
            db.put("code", "c1", &serde_json::json!({"a": 1}), Some(now() + 60)).await.unwrap();
            db.put("code", "old", &1, Some(now() - 1)).await.unwrap();
            assert!(db.insert_new("sub", "s1", &1).await.unwrap());
            assert!(!db.insert_new("sub", "s1", &2).await.unwrap());
        }
        let db = Db::open(&p).await.unwrap();
        assert_eq!(db.get::<i64>("code", "old").await.unwrap(), None, "expired");
        let v: serde_json::Value = db.take("code", "c1").await.unwrap().unwrap();
        assert_eq!(v["a"], 1);
        assert!(db.take::<serde_json::Value>("code", "c1").await.unwrap().is_none(), "taken once");
        assert_eq!(db.get::<i64>("sub", "s1").await.unwrap(), Some(1));
        assert_eq!(db.purge().await.unwrap(), 1);
    }
}
