//! Where the CLI keeps its login: `$XDG_CONFIG_HOME/gantry/credentials.json` (or
//! `~/.config/…`), mode 0600. `GANTRY_URL` and `GANTRY_TOKEN` override it.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    pub url: String,
    /// A Gantry API token, or a Globus access token for Gantry's scope.
    pub token: String,
    pub username: String,
    /// Set when `token` is a Globus access token: how to refresh it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub globus: Option<GlobusLogin>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GlobusLogin {
    pub auth_url: String,
    pub client_id: String,
    pub refresh_token: Option<String>,
    /// Unix time the access token expires.
    pub expires_at: i64,
}

pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("gantry"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set XDG_CONFIG_HOME")?;
    Ok(PathBuf::from(home).join(".config/gantry"))
}

pub fn cache_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("gantry"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set XDG_CACHE_HOME")?;
    Ok(PathBuf::from(home).join(".cache/gantry"))
}

fn path() -> anyhow::Result<PathBuf> {
    Ok(config_dir()?.join("credentials.json"))
}

pub fn save(c: &Credentials) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = path()?;
    std::fs::create_dir_all(p.parent().unwrap())?;
    let tmp = p.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(serde_json::to_string_pretty(c)?.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &p)?;
    Ok(p)
}

pub fn load() -> anyhow::Result<Option<Credentials>> {
    let p = path()?;
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(
            serde_json::from_slice(&b)
                .with_context(|| format!("{} is damaged; run gantry login again", p.display()))?,
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", p.display())),
    }
}

/// The server URL and token to use: environment first, then the saved login.
pub fn resolve(url_flag: Option<&str>) -> anyhow::Result<(String, Option<String>)> {
    let saved = load()?;
    let url = url_flag
        .map(str::to_string)
        .or_else(|| std::env::var("GANTRY_URL").ok().filter(|s| !s.is_empty()))
        .or_else(|| saved.as_ref().map(|c| c.url.clone()))
        .context("no server: run `gantry login URL` or set GANTRY_URL")?;
    let token = std::env::var("GANTRY_TOKEN")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| saved.filter(|c| c.url.trim_end_matches('/') == url.trim_end_matches('/')).map(|c| c.token));
    Ok((url, token))
}
