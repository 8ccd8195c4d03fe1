//! The metadata store: one implementation of every query, over SQLite or PostgreSQL.
//!
//! Queries are portable SQL run through sqlx's `Any` driver; only the migrations differ
//! per backend. Integers are BIGINT, booleans are 0/1, times are unix seconds.

/// A query string built only from constants of this crate (column lists, conditions).
macro_rules! sql {
    ($($t:tt)*) => { sqlx::AssertSqlSafe(format!($($t)*)) };
}

mod blobs;
mod collections;
mod experiments;
mod identity;
mod jobs;
mod manifests;
pub mod testing;
mod transfers;
mod users;

pub use blobs::{CollectionUse, GcCandidate, Upload};
pub use collections::{Collection, CollectionAccess, Member, Repo};
pub use experiments::{ExperimentQuery, ExperimentRecord, ExperimentRow, ExperimentSessionRow, SyncRow};
pub use identity::{DeviceLogin, GroupMember, IdentityRow, LoginFlow, NewIdentity, SessionRow};
pub use jobs::Job;
pub use manifests::{ManifestRow, NewManifest, TagRow, TaggedManifest};
pub use transfers::{GlobusLink, TransferRow};
pub use users::{TokenRow, User};

use gantry_domain::{Error, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row};
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("backend", &self.backend).finish()
    }
}

/// Maps a database error to the domain error; unique violations become conflicts.
pub(crate) fn db_err(e: sqlx::Error) -> Error {
    if let sqlx::Error::Database(d) = &e {
        if d.is_unique_violation() {
            return Error::conflict("already exists");
        }
        if d.is_foreign_key_violation() {
            return Error::conflict("still referenced");
        }
    }
    if matches!(e, sqlx::Error::PoolTimedOut) {
        return Error::new(gantry_domain::ErrorKind::Unavailable, "database busy, retry later");
    }
    Error::internal(format!("database: {e}"))
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col).map_err(db_err)
}

impl Store {
    /// Connects to `sqlite://PATH` or `postgres://…` and brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(Error::invalid(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact_url(url)
            )));
        };
        let url =
            if backend == Backend::Sqlite && !url.contains('?') { format!("{url}?mode=rwc") } else { url.to_string() };
        let opts = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for p in [
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 15000",
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                        ] {
                            sqlx::query(p).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            });
        let pool = opts.connect(&url).await.map_err(|e| {
            Error::new(gantry_domain::ErrorKind::Unavailable, format!("cannot open database {}: {e}", redact_url(&url)))
        })?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await.map_err(|e| Error::internal(format!("database migration failed: {e}")))?;
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// Makes a new, empty PostgreSQL database `name` on the server `admin_url` names, and
/// returns its URL (test suites give each test its own database).
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String> {
    use sqlx::Connection;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(Error::invalid(format!("{name:?} is not a plain database name")));
    }
    let mut c = sqlx::postgres::PgConnection::connect(admin_url).await.map_err(db_err)?;
    sqlx::raw_sql(sql!("CREATE DATABASE {name}")).execute(&mut c).await.map_err(db_err)?;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin_url);
    Ok(format!("{base}/{name}"))
}

/// Hides the password of a database URL for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..s + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub(crate) fn parse_col<T: FromStr<Err = Error>>(row: &AnyRow, col: &str) -> Result<T> {
    let s: String = get(row, col)?;
    s.parse()
}

#[cfg(test)]
mod backfill_tests;

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(super::redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(super::redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
