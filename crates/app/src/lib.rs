//! Gantry's operations, apart from any protocol. [`App`] is the composition root: it
//! opens the stores and hands each capability what it needs.
//!
//! What the application can do, one module each:
//! - [`registry`]: repositories, uploads, manifests, tags, referrers, image detail,
//!   search, downloads;
//! - [`collections`]: visibility, description, members and group roles, the last-owner rule;
//! - [`tokens`]: API tokens; [`users`]: local accounts;
//! - [`identity`]: credentials, sessions, sign-in, device sign-in, the resource server;
//! - [`transfers`]: the Globus connection, endpoints, transfers and their job;
//! - [`gc`]: garbage collection;
//! - [`jobs`]: long work with leases (the transfer follower, cancel, gc).
//!
//! The REST API, the OCI API, the web UI and `gantry admin` all call these; none of them
//! touches the store.

pub mod collections;
pub mod config;
pub mod facility;
pub mod gc;
pub mod identity;
pub mod jobs;
pub mod registry;
pub mod secrets;
pub mod tokens;
pub mod transfers;
pub mod users;

pub use config::Config;

use collections::Collections;
use gantry_blobs::BlobStore;
use gantry_store::Store;
use identity::device::Devices;
use identity::flow::Flows;
use identity::oidc::Oidc;
use identity::provision::Provisioner;
use identity::resource_server::ResourceServer;
use identity::sealer::Sealer;
use identity::signin::SignIn;
use identity::{Authenticator, Sessions};
use registry::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokens::Tokens;
use transfers::Transfers;
use users::Users;

/// The application: every capability, ready to be called.
#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    /// The public base URL, without a trailing slash.
    pub public_url: Arc<str>,
    pub registry: Registry,
    pub collections: Collections,
    pub tokens: Tokens,
    pub users: Users,
    pub auth: Authenticator,
    pub sessions: Sessions,
    pub signin: SignIn,
    pub devices: Devices,
    /// Turns identities a provider confirmed into users.
    pub provisioner: Provisioner,
    /// Set when Gantry sends images to Globus endpoints.
    pub transfers: Option<Arc<Transfers>>,
    /// Set when a `[facility]` is configured: experiments and their data.
    pub facility: Option<facility::Facility>,
    pub gc: gc::Gc,
    /// Long work with leases, shared with the other processes on the database.
    pub jobs: jobs::Jobs,
    store: Store,
    sealer: Sealer,
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

impl App {
    /// Opens the database and blob store named by the configuration.
    pub async fn open(config: Config, public_url: String) -> anyhow::Result<App> {
        secrets::private_dir(&config.data_dir)
            .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", config.data_dir.display()))?;
        let store = Store::connect(&config.database_url()).await?;
        let blobs = Arc::new(BlobStore::local(&config.data_dir)?);
        let sealer = Sealer::load(&config.token_key_file())?;
        let (registry_key, form_key) = (sealer.derive("registry-token"), sealer.derive("web-csrf"));
        let http = http_client()?;
        let config = Arc::new(config);
        let public_url: Arc<str> = public_url.into();

        let provisioner = Provisioner::new(store.clone(), config.clone());
        let rs = match &config.resource_server {
            Some(c) => {
                let rs = ResourceServer::new(c.clone(), http.clone(), provisioner.clone());
                rs.check_policies().await?;
                Some(Arc::new(rs))
            }
            None => None,
        };
        let oidc: BTreeMap<String, Arc<Oidc>> = config
            .providers
            .iter()
            .filter(|p| matches!(p.kind, config::ProviderKind::Globus | config::ProviderKind::Oidc))
            .map(|p| (p.id.clone(), Arc::new(Oidc::new(p.clone(), http.clone()))))
            .collect();
        let collections = Collections::new(store.clone(), config.clone());
        let registry =
            Registry::new(store.clone(), blobs.clone(), collections.clone(), config.clone(), public_url.clone());
        let tokens = Tokens::new(store.clone());
        let sessions =
            Sessions::new(store.clone(), sealer.clone(), form_key, config.session_idle_secs, config.session_max_secs);
        let flows = Flows::new(store.clone());
        let jobs = jobs::Jobs::new(store.clone());
        let facility = config
            .facility
            .clone()
            .map(|f| facility::Facility::new(f, store.clone(), http.clone(), public_url.clone(), jobs.clone()));
        let signin = SignIn {
            store: store.clone(),
            config: config.clone(),
            http: http.clone(),
            sessions: sessions.clone(),
            flows: flows.clone(),
            provisioner: provisioner.clone(),
            limiter: Arc::default(),
            oidc: Arc::new(oidc),
            public_url: public_url.clone(),
            facility: facility.clone(),
        };
        let transfers = match &config.transfers {
            Some(c) => {
                let parts = transfers::Parts {
                    store: store.clone(),
                    sealer: sealer.clone(),
                    registry: registry.clone(),
                    flows,
                    jobs: jobs.clone(),
                    http: http.clone(),
                    public_url: public_url.clone(),
                    data_dir: config.data_dir.clone(),
                    facility: facility.clone(),
                };
                Some(Arc::new(Transfers::new(c.clone(), parts)?))
            }
            None => None,
        };
        Ok(App {
            auth: Authenticator::new(store.clone(), registry_key, config.registry_token_secs, rs),
            devices: Devices::new(store.clone(), tokens.clone(), public_url.clone(), config.limits.clone()),
            gc: gc::Gc::new(store.clone(), blobs, jobs.clone(), config.upload_expiry_secs, config.gc_grace_secs),
            jobs,
            users: Users::new(store.clone()),
            provisioner,
            registry,
            collections,
            tokens,
            sessions,
            signin,
            transfers,
            facility,
            config,
            public_url,
            store,
            sealer,
        })
    }

    /// The transfer service, or why there is none.
    pub fn transfers(&self) -> gantry_domain::Result<&Arc<Transfers>> {
        self.transfers.as_ref().ok_or_else(|| {
            gantry_domain::Error::new(
                gantry_domain::ErrorKind::Unsupported,
                "this server is not set up for Globus transfers",
            )
        })
    }

    /// The facility, or why there is none.
    pub fn facility(&self) -> gantry_domain::Result<&facility::Facility> {
        self.facility.as_ref().ok_or_else(|| {
            gantry_domain::Error::new(gantry_domain::ErrorKind::Unsupported, "this server has no [facility] configured")
        })
    }

    /// The work that runs beside the requests until Gantry stops: the transfer
    /// follower, garbage collection, the experiment sync.
    pub async fn background(self) {
        let gc = self.clone().collect_garbage();
        let follow = async {
            match self.transfers.clone() {
                Some(t) => t.follower().await,
                None => std::future::pending().await,
            }
        };
        let sync = async {
            match self.facility.clone() {
                Some(f) => f.keep_synced().await,
                None => std::future::pending().await,
            }
        };
        tokio::join!(follow, gc, sync);
    }

    /// Collects garbage every `gc_interval_secs` (one collection at a time across the
    /// processes sharing the database), so abandoned uploads and blobs do not pile up.
    async fn collect_garbage(self) {
        let every = self.config.gc_interval_secs;
        if every == 0 {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(every)).await;
            match self.gc.run(self.gc.grace_secs).await {
                Ok(r) if r.blobs_removed + r.uploads_removed > 0 => {
                    tracing::info!(blobs = r.blobs_removed, uploads = r.uploads_removed, "garbage collected")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("garbage collection failed: {}", e.message),
            }
        }
    }

    /// Seals and opens third-party tokens, for maintenance and tests.
    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The metadata store, for maintenance and tests; the front doors never use it.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Closes the database connections.
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// The records the operations hand out.
pub mod rows {
    pub use gantry_store::{
        Collection, GlobusLink, GroupMember, IdentityRow, ManifestRow, Member, NewIdentity, Repo, SessionRow, TokenRow,
        TransferRow, Upload, User,
    };
}
