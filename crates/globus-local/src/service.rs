//! The running service: configuration, state, keys, and the HTTP application.

use crate::config::GlobusConfig;
use crate::keys::Keys;
use crate::store::Db;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Clone)]
pub struct Service {
    pub config: Arc<GlobusConfig>,
    pub db: Db,
    pub keys: Arc<Keys>,
    /// Where clients reach the service, without a trailing slash.
    pub base_url: Arc<str>,
    pub data_dir: PathBuf,
    /// Wakes the task worker when a task is submitted.
    pub wake: Arc<tokio::sync::Notify>,
    /// Serialises task updates between the worker and cancel requests.
    pub task_lock: Arc<tokio::sync::Mutex<()>>,
    /// Bytes copied so far by running tasks (newer than their saved documents), and
    /// tasks canceled while a file was being copied.
    pub live: Arc<std::sync::Mutex<Live>>,
    /// The pause rules, as kept in the database (changed only with it).
    pub pauses: Arc<std::sync::RwLock<Vec<crate::pause::PauseRule>>>,
    /// Serialises changes to groups (each is a read, a change and a write).
    pub groups_lock: Arc<tokio::sync::Mutex<()>>,
    /// The endpoints: the configuration's, and the guest collections made through the
    /// API (kept in the database as `guest_collection` documents). Replaced whole.
    pub endpoints: Arc<std::sync::RwLock<Arc<Vec<crate::config::Endpoint>>>>,
}

#[derive(Default)]
pub struct Live {
    pub bytes: std::collections::HashMap<String, u64>,
    pub canceled: std::collections::HashSet<String>,
    /// Tasks whose last file is published: they are complete, whatever a cancel says.
    pub finishing: std::collections::HashSet<String>,
}

/// The configuration file the service uses when none is given.
pub fn default_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("globus-local.toml")
}

/// Loads `config`, or the data directory's own file, or makes (and keeps) a default.
/// Returns the configuration and, when it was just made, a summary to print.
pub fn load_config(data_dir: &Path, config: Option<&Path>) -> anyhow::Result<(GlobusConfig, Option<String>)> {
    if let Some(p) = config {
        return Ok((GlobusConfig::load(p)?, None));
    }
    let own = default_config_path(data_dir);
    if own.exists() {
        return Ok((GlobusConfig::load(&own)?, None));
    }
    let c = GlobusConfig::default_for(data_dir);
    std::fs::create_dir_all(data_dir)?;
    std::fs::write(&own, c.to_toml())?;
    let mut s = format!("No configuration given: made {} with\n", own.display());
    for i in &c.identities {
        s.push_str(&format!("  identity {:<16} password {}\n", i.username, i.password));
    }
    for g in &c.groups {
        s.push_str(&format!("  group    {} ({})\n", g.name, g.id));
    }
    for e in &c.endpoints {
        s.push_str(&format!("  endpoint {} ({}) at {}\n", e.display_name, e.id, e.root.display()));
    }
    Ok((c, Some(s)))
}

impl Service {
    /// The endpoints as they are now.
    pub fn endpoints(&self) -> Arc<Vec<crate::config::Endpoint>> {
        self.endpoints.read().unwrap().clone()
    }

    /// The endpoint of this id, as it is now.
    pub fn endpoint_by_id(&self, id: &str) -> Option<crate::config::Endpoint> {
        let eps = self.endpoints();
        eps.iter().find(|e| e.id == id).cloned()
    }

    pub async fn open(config: GlobusConfig, data_dir: &Path, base_url: String) -> anyhow::Result<Service> {
        std::fs::create_dir_all(data_dir)?;
        for e in &config.endpoints {
            std::fs::create_dir_all(&e.root).map_err(|err| {
                anyhow::anyhow!("cannot create the root of endpoint {:?} ({}): {err}", e.display_name, e.root.display())
            })?;
        }
        let db = Db::open(&data_dir.join("globus-local.db")).await?;
        let pauses = db.list::<crate::pause::PauseRule>("pause_rule").await?.into_iter().map(|(_, r)| r).collect();
        let mut endpoints = config.endpoints.clone();
        endpoints.extend(db.list::<crate::config::Endpoint>("guest_collection").await?.into_iter().map(|(_, e)| e));
        let key_path = data_dir.join("auth-signing-key.pem");
        let keys = tokio::task::spawn_blocking(move || Keys::load_or_create(&key_path)).await??;
        Ok(Service {
            config: Arc::new(config),
            db,
            keys: Arc::new(keys),
            base_url: base_url.trim_end_matches('/').into(),
            data_dir: data_dir.to_path_buf(),
            wake: Arc::new(tokio::sync::Notify::new()),
            task_lock: Arc::new(tokio::sync::Mutex::new(())),
            live: Arc::new(std::sync::Mutex::new(Live::default())),
            pauses: Arc::new(std::sync::RwLock::new(pauses)),
            groups_lock: Arc::new(tokio::sync::Mutex::new(())),
            endpoints: Arc::new(std::sync::RwLock::new(Arc::new(endpoints))),
        })
    }
}
