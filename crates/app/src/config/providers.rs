//! The sections for Globus and sign-in providers: sending images to Globus endpoints,
//! Gantry as a Globus resource server, and the sign-in providers.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Globus transfers: users connect their Globus account; Gantry's storage is a Globus
/// collection whose root is `<data_dir>/exports`.
#[derive(Clone, Serialize, Deserialize)]
pub struct TransferConfig {
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    #[serde(default = "default_transfer_url")]
    pub transfer_url: String,
    /// Gantry's Globus client (confidential); its redirect URIs must include
    /// `<public_url>/globus/callback`. With client credentials it manages the access
    /// rules of the storage collection, so its identity must be that collection's manager.
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// The Globus collection whose root is `<data_dir>/exports`.
    pub storage_collection: String,
    /// Transfers one user may have under way at once.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: i64,
    /// Seconds between looks at a running task (doubling while nothing changes, up to
    /// a minute).
    #[serde(default = "default_poll_secs")]
    pub poll_secs: u64,
    /// Scopes asked for when a user connects, besides Transfer (e.g. the `data_access`
    /// scopes of collections that require consent).
    #[serde(default)]
    pub extra_scopes: Vec<String>,
    /// The Globus web app whose helper pages Gantry sends users to (Browse Collections,
    /// for "Choose with Globus"); the built-in service serves them too.
    #[serde(default = "default_app_url")]
    pub app_url: String,
}

fn default_app_url() -> String {
    "https://app.globus.org".into()
}

fn default_transfer_url() -> String {
    "https://transfer.api.globus.org".into()
}
fn default_max_concurrent() -> i64 {
    4
}
fn default_poll_secs() -> u64 {
    2
}

impl std::fmt::Debug for TransferConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransferConfig")
            .field("auth_url", &self.auth_url)
            .field("transfer_url", &self.transfer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("storage_collection", &self.storage_collection)
            .finish_non_exhaustive()
    }
}

/// How Gantry checks Globus access tokens presented to `/api` and `/v2`.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResourceServerConfig {
    /// Globus Auth (default `https://auth.globus.org`).
    #[serde(default = "default_auth_url")]
    pub auth_url: String,
    /// Globus Groups (default `https://groups.api.globus.org`).
    #[serde(default = "default_groups_url")]
    pub groups_url: String,
    /// Gantry's client at Globus Auth; its scope is
    /// `https://auth.globus.org/scopes/<client_id>/<scope_suffix>`.
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_scope_suffix")]
    pub scope_suffix: String,
    /// The sign-in provider whose identities these are (so a token and a browser
    /// sign-in reach the same user); default `globus`.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// Identity provider domains a session must include (empty: any).
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    /// Globus authentication policies every request must meet.
    #[serde(default)]
    pub policies: Vec<String>,
    /// Globus groups the user must belong to (all of them).
    #[serde(default)]
    pub required_groups: Vec<String>,
    /// Client ids whose client-credentials tokens (service identities) are accepted.
    #[serde(default)]
    pub allowed_clients: Vec<String>,
    /// Shown by Globus when it asks the user to sign in again.
    #[serde(default)]
    pub session_message: Option<String>,
    /// A native-app (public) client for `gantry login --globus`.
    #[serde(default)]
    pub native_client_id: Option<String>,
    /// How long an accepted token is trusted without asking Globus again (at most until
    /// it expires), and how long a refused one stays refused.
    #[serde(default = "default_cache_secs")]
    pub cache_secs: u64,
    #[serde(default = "default_failure_cache_secs")]
    pub failure_cache_secs: u64,
}

impl ResourceServerConfig {
    /// Gantry as the resource server `client_id` of the Globus Auth and Groups at
    /// `globus_url`, with the defaults a configuration file would give it.
    pub fn new(globus_url: &str, client_id: &str, client_secret: &str) -> ResourceServerConfig {
        ResourceServerConfig {
            auth_url: globus_url.into(),
            groups_url: globus_url.into(),
            client_id: client_id.into(),
            client_secret: Some(client_secret.into()),
            client_secret_file: None,
            scope_suffix: default_scope_suffix(),
            provider: default_provider(),
            allowed_domains: vec![],
            policies: vec![],
            required_groups: vec![],
            allowed_clients: vec![],
            session_message: None,
            native_client_id: None,
            cache_secs: default_cache_secs(),
            failure_cache_secs: default_failure_cache_secs(),
        }
    }
}

fn default_cache_secs() -> u64 {
    600
}
fn default_failure_cache_secs() -> u64 {
    60
}

fn default_auth_url() -> String {
    "https://auth.globus.org".into()
}
fn default_groups_url() -> String {
    "https://groups.api.globus.org".into()
}
fn default_scope_suffix() -> String {
    "all".into()
}
fn default_provider() -> String {
    "globus".into()
}

impl std::fmt::Debug for ResourceServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServerConfig")
            .field("auth_url", &self.auth_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("allowed_domains", &self.allowed_domains)
            .field("policies", &self.policies)
            .field("required_groups", &self.required_groups)
            .finish_non_exhaustive()
    }
}

impl ResourceServerConfig {
    pub fn scope(&self) -> String {
        format!("https://auth.globus.org/scopes/{}/{}", self.client_id, self.scope_suffix)
    }
    pub fn auth_url(&self) -> &str {
        self.auth_url.trim_end_matches('/')
    }
    pub fn groups_url(&self) -> &str {
        self.groups_url.trim_end_matches('/')
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Globus Auth (real, or the built-in service): OpenID Connect plus linked identities,
    /// groups and tokens for Globus services.
    Globus,
    /// Any OpenID Connect provider found by discovery.
    Oidc,
    /// A facility's user office: username and password are checked by POSTing them.
    UserOffice,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct ProviderConfig {
    /// Short name used in URLs and in `admin_identities` (letters, digits, `-`).
    pub id: String,
    pub kind: ProviderKind,
    #[serde(default)]
    pub display_name: String,
    /// OpenID Connect issuer; discovery is at `<issuer>/.well-known/openid-configuration`.
    /// For Globus it defaults to `https://auth.globus.org`.
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// A file holding the client secret (read at start-up).
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested besides `openid profile email`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Globus: the Groups API (default `https://groups.api.globus.org`).
    #[serde(default)]
    pub groups_url: Option<String>,
    /// User office: the URL that username and password are POSTed to.
    #[serde(default)]
    pub url: Option<String>,
}

impl std::fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "***"))
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl ProviderConfig {
    /// A user office's password check at `url`.
    pub fn user_office(id: &str, display_name: &str, url: &str) -> ProviderConfig {
        ProviderConfig {
            id: id.into(),
            kind: ProviderKind::UserOffice,
            display_name: display_name.into(),
            issuer: None,
            client_id: None,
            client_secret: None,
            client_secret_file: None,
            scopes: vec![],
            groups_url: None,
            url: Some(url.into()),
        }
    }

    pub fn issuer(&self) -> String {
        match (&self.issuer, self.kind) {
            (Some(i), _) => i.trim_end_matches('/').to_string(),
            (None, ProviderKind::Globus) => "https://auth.globus.org".into(),
            (None, _) => String::new(),
        }
    }

    pub fn groups_url(&self) -> String {
        self.groups_url.clone().unwrap_or_else(|| "https://groups.api.globus.org".into()).trim_end_matches('/').into()
    }

    pub fn title(&self) -> &str {
        if self.display_name.is_empty() { &self.id } else { &self.display_name }
    }
}
