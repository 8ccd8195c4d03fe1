//! Configuration: defaults → TOML file → `GANTRY_*` environment → `GANTRY_*_FILE` secrets.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use gantry_domain::Visibility;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod facility;
mod limits;
mod providers;

pub use facility::FacilityConfig;
pub use limits::Limits;
pub use providers::{ProviderConfig, ProviderKind, ResourceServerConfig, TransferConfig};

#[derive(Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the server listens on.
    pub listen: String,
    /// Where the SQLite database, blobs and uploads live.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; defaults to `sqlite://<data_dir>/gantry.db`.
    pub database_url: Option<String>,
    /// The URL users reach the server at (used in download URLs and auth challenges).
    pub public_url: Option<String>,
    /// Whether any signed-in user may create a collection (by pushing to it).
    pub allow_user_collections: bool,
    /// Visibility of collections created by a push.
    pub default_visibility: Visibility,
    /// Unreferenced blobs younger than this are kept by garbage collection.
    pub gc_grace_secs: u64,
    /// Upload sessions idle longer than this are removed by garbage collection.
    pub upload_expiry_secs: u64,
    /// How often the server collects garbage on its own (0: only `gantry admin gc`).
    pub gc_interval_secs: u64,
    /// Largest manifest accepted.
    pub max_manifest_bytes: usize,
    /// Lifetime of registry bearer tokens from `/v2/token`.
    pub registry_token_secs: u64,
    /// Log filter (tracing's env-filter syntax).
    pub log: String,
    /// PEM certificate chain and private key: when both are set, Gantry serves HTTPS.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// A browser session ends after this long without a request...
    pub session_idle_secs: u64,
    /// ...and this long after sign-in in any case.
    pub session_max_secs: u64,
    /// Whether local accounts may sign in with their password in the browser.
    pub password_login: bool,
    /// Sign-in providers (Globus, other OpenID Connect providers, a user office).
    pub providers: Vec<ProviderConfig>,
    /// Identities (`provider:username`, e.g. `globus:alice@uni.edu`) made administrators
    /// when they sign in.
    pub admin_identities: Vec<String>,
    /// Globus groups whose members are made administrators when they sign in.
    pub admin_groups: Vec<String>,
    /// Key that encrypts third-party tokens at rest; made on first start if missing.
    /// Defaults to `<data_dir>/token.key`.
    pub token_key_file: Option<PathBuf>,
    /// Gantry as a Globus resource server: accept Globus bearer tokens issued for its scope.
    pub resource_server: Option<ResourceServerConfig>,
    /// Sending images to Globus endpoints.
    pub transfers: Option<TransferConfig>,
    /// Timeouts and caps per connection and per client.
    pub limits: Limits,
    /// The facility's user office and experiment data.
    pub facility: Option<FacilityConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./gantry-data"),
            database_url: None,
            public_url: None,
            allow_user_collections: true,
            default_visibility: Visibility::Private,
            gc_grace_secs: 3600,
            upload_expiry_secs: 7 * 24 * 3600,
            gc_interval_secs: 3600,
            max_manifest_bytes: 4 * 1024 * 1024,
            registry_token_secs: 900,
            log: "info".into(),
            tls_cert_file: None,
            tls_key_file: None,
            session_idle_secs: 8 * 3600,
            session_max_secs: 7 * 24 * 3600,
            password_login: true,
            providers: vec![],
            admin_identities: vec![],
            admin_groups: vec![],
            token_key_file: None,
            resource_server: None,
            transfers: None,
            limits: Limits::default(),
            facility: None,
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(gantry_store::redact_url))
            .field("public_url", &self.public_url)
            .field("allow_user_collections", &self.allow_user_collections)
            .field("default_visibility", &self.default_visibility)
            .field("gc_grace_secs", &self.gc_grace_secs)
            .field("tls_cert_file", &self.tls_cert_file)
            .field("providers", &self.providers)
            .field("resource_server", &self.resource_server)
            .field("transfers", &self.transfers)
            .field("limits", &self.limits)
            .field("facility", &self.facility)
            .finish_non_exhaustive()
    }
}

/// Keys that may be given as `GANTRY_<KEY>_FILE` (a path whose content is the value).
const FILE_KEYS: &[&str] = &["database_url"];

impl Config {
    /// Loads the configuration from an optional TOML file and the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Config> {
        Self::load_from(file, std::env::vars())
    }

    pub fn load_from(file: Option<&Path>, env: impl Iterator<Item = (String, String)>) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = env.collect();
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                anyhow::bail!("configuration file {} does not exist", f.display());
            }
            fig = fig.merge(Toml::file(f));
        }
        for (k, v) in &env {
            if let Some(key) = k.strip_prefix("GANTRY_") {
                let key = key.to_ascii_lowercase();
                if Config::is_key(&key) {
                    fig = fig.merge((key.as_str(), parse_env_value(v)));
                } else if let Some(limit) = key.strip_prefix("limits_").filter(|l| Limits::KEYS.contains(l)) {
                    fig = fig.merge((format!("limits.{limit}"), parse_env_value(v)));
                } else if let Some(k) = key.strip_prefix("facility_").filter(|k| FacilityConfig::KEYS.contains(k)) {
                    // Paths and names stay text (a username of digits is still a name).
                    let value = match k {
                        "default_authorization" | "sync_secs" | "timeout_secs" | "max_pages" => parse_env_value(v),
                        _ => v.to_string().into(),
                    };
                    fig = fig.merge((format!("facility.{k}"), value));
                } else if let Some(base) = key.strip_suffix("_file").filter(|b| FILE_KEYS.contains(b)) {
                    let content =
                        std::fs::read_to_string(v).map_err(|e| anyhow::anyhow!("cannot read {k}={v}: {e}"))?;
                    fig = fig.merge((base, content.trim_end().to_string()));
                }
            }
        }
        let mut cfg: Config = fig.extract().map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        for p in &mut cfg.providers {
            if let Some(f) = &p.client_secret_file {
                let s = std::fs::read_to_string(f).map_err(|e| {
                    anyhow::anyhow!("provider {}: cannot read client_secret_file {}: {e}", p.id, f.display())
                })?;
                p.client_secret = Some(s.trim_end().to_string());
            }
        }
        if let Some(rs) = &mut cfg.resource_server
            && let Some(f) = &rs.client_secret_file
        {
            let s = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("resource_server: cannot read client_secret_file {}: {e}", f.display()))?;
            rs.client_secret = Some(s.trim_end().to_string());
        }
        if let Some(t) = &mut cfg.transfers
            && let Some(f) = &t.client_secret_file
        {
            let s = std::fs::read_to_string(f)
                .map_err(|e| anyhow::anyhow!("transfers: cannot read client_secret_file {}: {e}", f.display()))?;
            t.client_secret = Some(s.trim_end().to_string());
        }
        if let Some(f) = &mut cfg.facility
            && let Some(path) = &f.password_file
        {
            let s = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("facility: cannot read password_file {}: {e}", path.display()))?;
            f.password = Some(s.trim_end().to_string());
        }
        cfg.validate()?;
        Ok(cfg)
    }

    fn is_key(k: &str) -> bool {
        matches!(
            k,
            "listen"
                | "data_dir"
                | "database_url"
                | "public_url"
                | "allow_user_collections"
                | "default_visibility"
                | "gc_grace_secs"
                | "upload_expiry_secs"
                | "gc_interval_secs"
                | "max_manifest_bytes"
                | "registry_token_secs"
                | "log"
                | "tls_cert_file"
                | "tls_key_file"
                | "session_idle_secs"
                | "session_max_secs"
                | "password_login"
                | "token_key_file"
        )
    }

    fn validate(&self) -> anyhow::Result<()> {
        self.limits.validate()?;
        if let Some(f) = &self.facility {
            f.validate()?;
            for (what, id) in [("office_provider", &f.office_provider), ("umbrella_provider", &f.umbrella_provider)] {
                if let Some(id) = id
                    && self.provider(id).is_none()
                {
                    anyhow::bail!("facility: {what} {id:?} is not one of the configured providers");
                }
            }
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            anyhow::bail!("public_url {u:?} must start with http:// or https://");
        }
        if self.tls_cert_file.is_some() != self.tls_key_file.is_some() {
            anyhow::bail!("set both tls_cert_file and tls_key_file to serve HTTPS, or neither");
        }
        if self.max_manifest_bytes == 0 {
            anyhow::bail!("max_manifest_bytes must be positive");
        }
        if self.session_idle_secs == 0 || self.session_max_secs < self.session_idle_secs {
            anyhow::bail!("session_idle_secs must be positive and at most session_max_secs");
        }
        if let Some(rs) = &self.resource_server
            && (rs.client_id.is_empty() || rs.client_secret.as_deref().unwrap_or("").is_empty())
        {
            anyhow::bail!(
                "resource_server: set client_id and client_secret (or client_secret_file) of Gantry's Globus client"
            );
        }
        if let Some(t) = &self.transfers
            && (t.client_id.is_empty()
                || t.client_secret.as_deref().unwrap_or("").is_empty()
                || t.storage_collection.is_empty())
        {
            anyhow::bail!(
                "transfers: set client_id, client_secret (or client_secret_file) and storage_collection (the Globus \
                 collection whose root is <data_dir>/exports)"
            );
        }
        let mut ids = std::collections::HashSet::new();
        for p in &self.providers {
            let what = format!("provider {:?}", p.id);
            if p.id.is_empty() || !p.id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') || p.id == "password" {
                anyhow::bail!("{what}: an id is letters, digits and '-' (and not \"password\")");
            }
            if !ids.insert(p.id.as_str()) {
                anyhow::bail!("{what} is configured twice");
            }
            match p.kind {
                ProviderKind::Globus | ProviderKind::Oidc => {
                    let issuer = p.issuer();
                    if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                        anyhow::bail!("{what}: set issuer to the provider's URL (https://…)");
                    }
                    if p.client_id.as_deref().unwrap_or("").is_empty() {
                        anyhow::bail!("{what}: set client_id (register Gantry with the provider first)");
                    }
                }
                ProviderKind::UserOffice => {
                    if !p.url.as_deref().is_some_and(|u| u.starts_with("https://") || u.starts_with("http://")) {
                        anyhow::bail!("{what}: set url to the user office's password check (https://…)");
                    }
                }
            }
        }
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.clone(),
            None => format!("sqlite://{}", self.data_dir.join("gantry.db").display()),
        }
    }

    pub fn token_key_file(&self) -> PathBuf {
        self.token_key_file.clone().unwrap_or_else(|| self.data_dir.join("token.key"))
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self, bound: Option<std::net::SocketAddr>) -> String {
        let scheme = if self.tls_cert_file.is_some() { "https" } else { "http" };
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("{scheme}://{}", bound.map(|a| a.to_string()).unwrap_or_else(|| self.listen.clone())),
        }
    }
}

/// Environment values are strings; numbers and booleans are recognised.
fn parse_env_value(v: &str) -> figment::value::Value {
    if let Ok(b) = v.parse::<bool>() {
        return b.into();
    }
    if let Ok(n) = v.parse::<u64>() {
        return n.into();
    }
    v.to_string().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn defaults_need_no_setup() {
        let c = Config::load_from(None, env(&[])).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8080");
        assert_eq!(c.database_url(), "sqlite://./gantry-data/gantry.db");
        assert_eq!(c.public_url(None), "http://127.0.0.1:8080");
    }

    #[test]
    fn file_then_env_then_secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("g.toml");
        std::fs::write(
            &f,
            "listen = \"0.0.0.0:9000\"\ngc_grace_secs = 10\npublic_url = \"https://reg.example.org/\"\n",
        )
        .unwrap();
        let secret = dir.path().join("db");
        std::fs::write(&secret, "postgres://u:pw@localhost/g\n").unwrap();
        let c = Config::load_from(
            Some(&f),
            env(&[
                ("GANTRY_GC_GRACE_SECS", "20"),
                ("GANTRY_ALLOW_USER_COLLECTIONS", "false"),
                ("GANTRY_DATABASE_URL_FILE", secret.to_str().unwrap()),
                ("GANTRY_TOKEN", "not a config key"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.gc_grace_secs, 20);
        assert!(!c.allow_user_collections);
        assert_eq!(c.database_url(), "postgres://u:pw@localhost/g");
        assert_eq!(c.public_url(None), "https://reg.example.org");
        assert!(!format!("{c:?}").contains("pw"), "secrets are redacted in Debug");
    }

    #[test]
    fn bad_values_are_reported() {
        assert!(Config::load_from(None, env(&[("GANTRY_PUBLIC_URL", "ftp://x")])).is_err());
        assert!(Config::load_from(None, env(&[("GANTRY_GC_GRACE_SECS", "soon")])).is_err());
        assert!(Config::load_from(Some(Path::new("/nonexistent.toml")), env(&[])).is_err());
        let half = Config::load_from(None, env(&[("GANTRY_TLS_CERT_FILE", "/etc/cert.pem")])).unwrap_err();
        assert!(half.to_string().contains("tls_key_file"), "{half}");
    }

    #[test]
    fn providers_and_resource_server_from_toml() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s3cret-value\n").unwrap();
        let f = dir.path().join("g.toml");
        let toml = format!(
            r#"
admin_identities = ["globus:alice@uni.edu"]
[[providers]]
id = "globus"
kind = "globus"
client_id = "gw"
client_secret_file = "{s}"
[[providers]]
id = "office"
kind = "user_office"
url = "https://uo.example.org/check"
[resource_server]
client_id = "gw"
client_secret_file = "{s}"
allowed_domains = ["lab.gov"]
"#,
            s = secret.display()
        );
        std::fs::write(&f, toml).unwrap();
        let c = Config::load_from(Some(&f), env(&[])).unwrap();
        assert_eq!(c.providers[0].issuer(), "https://auth.globus.org");
        assert_eq!(c.providers[0].client_secret.as_deref(), Some("s3cret-value"));
        assert_eq!(c.providers[1].kind, ProviderKind::UserOffice);
        let rs = c.resource_server.as_ref().unwrap();
        assert_eq!(rs.client_secret.as_deref(), Some("s3cret-value"));
        assert_eq!(rs.scope(), "https://auth.globus.org/scopes/gw/all");
        assert_eq!((rs.cache_secs, rs.failure_cache_secs), (600, 60));
        assert!(!format!("{c:?}").contains("s3cret"), "secrets are redacted in Debug");

        for (bad, why) in [
            ("[[providers]]\nid = \"a b\"\nkind = \"oidc\"\nissuer = \"https://x\"\nclient_id = \"c\"\n", "letters"),
            ("[[providers]]\nid = \"k\"\nkind = \"oidc\"\nclient_id = \"c\"\n", "issuer"),
            ("[[providers]]\nid = \"k\"\nkind = \"oidc\"\nissuer = \"https://x\"\n", "client_id"),
            ("[[providers]]\nid = \"u\"\nkind = \"user_office\"\n", "url"),
            ("[resource_server]\nclient_id = \"gw\"\n", "client_secret"),
        ] {
            std::fs::write(&f, bad).unwrap();
            let e = Config::load_from(Some(&f), env(&[])).unwrap_err().to_string();
            assert!(e.contains(why), "{why}: {e}");
        }
    }
}
