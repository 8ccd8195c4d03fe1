use crate::config::{Config, ProviderKind};
use crate::oidc::Oidc;
use gantry_blobs::BlobStore;
use gantry_store::Store;
use std::collections::BTreeMap;
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
    /// HMAC key of the CSRF tokens of forms shown before sign-in.
    pub web_key: Arc<Vec<u8>>,
    /// Encrypts third-party tokens at rest (kept outside the database).
    pub token_key: Arc<ring::aead::LessSafeKey>,
    /// OpenID Connect providers (Globus and generic), by id.
    pub oidc: Arc<BTreeMap<String, Arc<Oidc>>>,
    /// Client for calls to providers and Globus.
    pub http: reqwest::Client,
    /// Set when Gantry accepts Globus bearer tokens.
    pub rs: Option<Arc<crate::globus_rs::ResourceServer>>,
    /// Set when Gantry sends images to Globus endpoints.
    pub transfers: Option<Arc<crate::transfers::Transfers>>,
    /// Failed password sign-ins, to slow down guessing.
    pub login_limiter: Arc<crate::session::LoginLimiter>,
}

/// The HTTP client for outgoing calls: rustls with ring, no redirects followed.
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(30))
        .user_agent(concat!("gantry/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

fn new_key() -> Vec<u8> {
    let mut k = vec![0u8; 32];
    getrandom::fill(&mut k).expect("random");
    k
}

impl AppState {
    /// Opens the database and blob store named by the configuration.
    pub async fn open(config: Config, public_url: String) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", config.data_dir.display()))?;
        let store = Store::connect(&config.database_url()).await?;
        let blobs = BlobStore::local(&config.data_dir)?;
        let key = store.server_key("registry-token", new_key).await?;
        let web_key = store.server_key("web-csrf", new_key).await?;
        let token_key = crate::session::load_token_key(&config.token_key_file())?;
        let http = http_client()?;
        let oidc = config
            .providers
            .iter()
            .filter(|p| matches!(p.kind, ProviderKind::Globus | ProviderKind::Oidc))
            .map(|p| (p.id.clone(), Arc::new(Oidc::new(p.clone(), http.clone()))))
            .collect();
        let rs = match &config.resource_server {
            Some(c) => {
                let rs = crate::globus_rs::ResourceServer::new(c.clone(), http.clone());
                rs.check_policies().await?;
                Some(Arc::new(rs))
            }
            None => None,
        };
        let transfers = match &config.transfers {
            Some(c) => Some(Arc::new(crate::transfers::Transfers::new(c.clone(), http.clone(), &config.data_dir)?)),
            None => None,
        };
        Ok(AppState {
            store,
            blobs: Arc::new(blobs),
            config: Arc::new(config),
            public_url: public_url.into(),
            registry_key: Arc::new(key),
            web_key: Arc::new(web_key),
            token_key: Arc::new(token_key),
            oidc: Arc::new(oidc),
            http,
            rs,
            transfers,
            login_limiter: Arc::default(),
        })
    }
}
