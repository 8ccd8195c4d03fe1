use crate::config::Config;
use gantry_blobs::BlobStore;
use gantry_store::Store;
use std::sync::Arc;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub blobs: Arc<BlobStore>,
    pub config: Arc<Config>,
    /// The public base URL, without a trailing slash.
    pub public_url: Arc<str>,
    /// HMAC key of registry bearer tokens, shared by every server on the same database.
    pub registry_key: Arc<Vec<u8>>,
}

impl AppState {
    /// Opens the database and blob store named by the configuration.
    pub async fn open(config: Config, public_url: String) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", config.data_dir.display()))?;
        let store = Store::connect(&config.database_url()).await?;
        let blobs = BlobStore::local(&config.data_dir)?;
        let key = store
            .server_key("registry-token", || {
                let mut k = vec![0u8; 32];
                getrandom::fill(&mut k).expect("random");
                k
            })
            .await?;
        Ok(AppState {
            store,
            blobs: Arc::new(blobs),
            config: Arc::new(config),
            public_url: public_url.into(),
            registry_key: Arc::new(key),
        })
    }
}
