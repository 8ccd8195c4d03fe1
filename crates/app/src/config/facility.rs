//! `[facility]`: the facility's user office (experiments, Umbrella hashes, who may
//! launch resources) and where its experiment data sit. Set in the TOML file, or as
//! `GANTRY_FACILITY_<KEY>` in the environment (`GANTRY_FACILITY_PASSWORD_FILE` for the
//! secret).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Clone, Serialize, Deserialize)]
pub struct FacilityConfig {
    /// The facility's name, for pages.
    #[serde(default = "default_name")]
    pub name: String,
    /// `GET {experiments_url}{username}/?search=&ordering=&page=&page_size=`: a user's
    /// experiments, a page at a time.
    pub experiments_url: String,
    /// `POST eaa_hash=…` → `{"login": USERNAME}` (or 404): the facility user behind an
    /// Umbrella identity.
    #[serde(default)]
    pub hash_url: Option<String>,
    /// `POST login=…` → `{"result": true|false}`: may this user launch resources.
    #[serde(default)]
    pub is_authorized_url: Option<String>,
    /// true: everyone may launch, `is_authorized_url` is not asked.
    #[serde(default)]
    pub default_authorization: bool,
    /// HTTP Basic credentials towards the user office.
    pub username: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The experiments' raw data (read only); `data_set_path`s are relative to it.
    pub datasets_root: PathBuf,
    /// Per-user, per-experiment output of launched resources.
    #[serde(default)]
    pub output_root: Option<PathBuf>,
    /// How often every linked user's experiments are synced again.
    #[serde(default = "default_sync_secs")]
    pub sync_secs: u64,
    /// The Globus collection whose root is `datasets_root`, to send experiment data with
    /// Globus.
    #[serde(default)]
    pub globus_collection: Option<String>,
    /// The sign-in provider (`kind = "user_office"`) whose confirmed usernames are
    /// facility usernames; it also checks the password when a user links their account.
    #[serde(default)]
    pub office_provider: Option<String>,
    /// The Umbrella sign-in provider (an OpenID Connect provider) and the ID-token claim
    /// carrying the EAA hash.
    #[serde(default)]
    pub umbrella_provider: Option<String>,
    #[serde(default = "default_hash_claim")]
    pub eaa_hash_claim: String,
    /// Each call to the user office must answer within this many seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// A sync reads at most this many pages (an office whose `next` never ends is cut off).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
}

fn default_name() -> String {
    "the facility".into()
}
fn default_sync_secs() -> u64 {
    900
}
fn default_hash_claim() -> String {
    "eaahash".into()
}
fn default_timeout_secs() -> u64 {
    20
}
fn default_max_pages() -> u32 {
    1000
}

impl FacilityConfig {
    /// The keys the environment may set (`GANTRY_FACILITY_<KEY>`).
    pub const KEYS: &'static [&'static str] = &[
        "name",
        "experiments_url",
        "hash_url",
        "is_authorized_url",
        "default_authorization",
        "username",
        "password",
        "password_file",
        "datasets_root",
        "output_root",
        "sync_secs",
        "globus_collection",
        "office_provider",
        "umbrella_provider",
        "eaa_hash_claim",
        "timeout_secs",
        "max_pages",
    ];

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if !url_ok(&self.experiments_url) {
            anyhow::bail!("facility: experiments_url must be the user office's https:// URL");
        }
        for (k, v) in [("hash_url", &self.hash_url), ("is_authorized_url", &self.is_authorized_url)] {
            if v.as_deref().is_some_and(|u| !url_ok(u)) {
                anyhow::bail!("facility: {k} must be an https:// URL");
            }
        }
        if self.username.is_empty() || self.password.as_deref().unwrap_or("").is_empty() {
            anyhow::bail!("facility: set username and password (or password_file) for the user office");
        }
        if !self.datasets_root.is_absolute() {
            anyhow::bail!("facility: datasets_root must be an absolute path");
        }
        if self.sync_secs == 0 || self.timeout_secs == 0 || self.max_pages == 0 {
            anyhow::bail!("facility: sync_secs, timeout_secs and max_pages must be positive");
        }
        if self.umbrella_provider.is_some() && self.hash_url.is_none() {
            anyhow::bail!("facility: an umbrella_provider needs hash_url to find the facility user");
        }
        Ok(())
    }
}

impl std::fmt::Debug for FacilityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FacilityConfig")
            .field("name", &self.name)
            .field("experiments_url", &self.experiments_url)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("datasets_root", &self.datasets_root)
            .finish_non_exhaustive()
    }
}
