//! For test suites: a fresh database per test on either backend, and
//! [`both_backends!`](crate::both_backends) to run a test on both. PostgreSQL is the
//! server named by `GANTRY_TEST_POSTGRES` (an admin URL; `scripts/test` starts one).

use crate::Backend;

/// A name no other test of any running process uses.
pub fn random_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    format!("{}_{}_{}", std::process::id(), t % 1_000_000_000, N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh database URL for the backend (SQLite in `dir`, or a new PostgreSQL database).
pub async fn database_url(b: Backend, dir: &std::path::Path) -> String {
    match b {
        Backend::Sqlite => format!("sqlite://{}", dir.join("gantry.db").display()),
        Backend::Postgres => {
            let admin = std::env::var("GANTRY_TEST_POSTGRES")
                .expect("GANTRY_TEST_POSTGRES is not set: run the suite with scripts/test, which starts PostgreSQL");
            let name = format!("gantry_test_{}", random_suffix());
            crate::create_postgres_database(&admin, &name).await.expect("a fresh PostgreSQL database")
        }
    }
}

/// Generates one test per backend from `async fn name(b: Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Backend::Sqlite).await }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name($crate::Backend::Postgres).await }
            )*
        }
    };
}
