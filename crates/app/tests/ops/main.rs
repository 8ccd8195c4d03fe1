//! The application's operations called directly, without HTTP, on SQLite and on a real
//! PostgreSQL server (`GANTRY_TEST_POSTGRES`, an admin URL; `scripts/test` starts one).

mod collections;
mod identity;
mod jobs;
mod registry;

use gantry_app::{App, Config};
use gantry_domain::{Principal, TokenScope};

pub use gantry_store::{Backend, both_backends};

/// An application on a fresh database and data directory.
pub struct TestApp {
    pub app: App,
    pub config: Config,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// A second Gantry process on the same database and data.
    pub async fn another(&self) -> App {
        App::open(self.config.clone(), "http://gantry.test".into()).await.unwrap()
    }
}

impl std::ops::Deref for TestApp {
    type Target = App;
    fn deref(&self) -> &App {
        &self.app
    }
}

pub async fn open(b: Backend) -> TestApp {
    open_with(b, |_| {}).await
}

pub async fn open_with(b: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let url = gantry_store::testing::database_url(b, dir.path()).await;
    let mut config = Config { data_dir: dir.path().join("data"), database_url: Some(url), ..Default::default() };
    tweak(&mut config);
    let app = App::open(config.clone(), "http://gantry.test".into()).await.unwrap();
    TestApp { app, config, _dir: dir }
}

/// A new local user, as a caller with a credential of `scope`.
pub async fn user(app: &App, name: &str, scope: TokenScope) -> Principal {
    app.users.create(name, false, None).await.unwrap().principal(scope)
}
