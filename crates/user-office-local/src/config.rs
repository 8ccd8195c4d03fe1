//! What the user office knows: its users (with their passwords, Umbrella hashes and
//! whether they may launch resources), the experiments and their members, and the
//! client (Gantry) allowed to ask. Read from TOML; with no file a demo office is made.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfficeConfig {
    /// The facility's name, shown on the office's pages.
    #[serde(default = "default_name")]
    pub name: String,
    /// The URL the office is reached at (for `next` links); default `http://ADDR`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// HTTP Basic credentials of the client allowed to read experiments.
    pub client_username: String,
    pub client_password: String,
    #[serde(default)]
    pub users: Vec<OfficeUser>,
    #[serde(default)]
    pub experiments: Vec<Experiment>,
}

fn default_name() -> String {
    "Example Light Source".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OfficeUser {
    pub username: String,
    pub password: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    /// The hash the Umbrella federation gives this person (`eaahash`), if linked.
    #[serde(default)]
    pub eaa_hash: Option<String>,
    /// Whether the person may launch facility resources.
    #[serde(default)]
    pub authorized: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Experiment {
    pub proposal_id: String,
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub beam_line: String,
    #[serde(default)]
    pub uid: i64,
    #[serde(default)]
    pub gid: i64,
    /// Office usernames of the experiment's members.
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub session_number: i64,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    pub start_date: String,
    pub end_date: String,
    /// Volumes (name → directory relative to the datasets root).
    pub data_set_path: BTreeMap<String, String>,
    /// Files the demo writes under the datasets root (path → content), so that the
    /// session has data to show.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
}

impl Session {
    /// Session `n` of a beamtime, its raw data in `DIR/raw`.
    pub fn new(n: i64, dir: &str) -> Session {
        Session {
            session_number: n,
            subject: format!("Beamtime {n}"),
            body: String::new(),
            start_date: "2026-11-02T08:00:00Z".into(),
            end_date: "2026-11-04T08:00:00Z".into(),
            data_set_path: BTreeMap::from([("raw".to_string(), format!("{dir}/raw"))]),
            files: BTreeMap::new(),
        }
    }
}

impl OfficeConfig {
    /// The demo office: alice and bob share one experiment, alice has another.
    pub fn demo() -> OfficeConfig {
        let session = |n: i64, dir: &str, files: &[(&str, &str)]| Session {
            files: files.iter().map(|(p, c)| (format!("{dir}/{p}"), c.to_string())).collect(),
            ..Session::new(n, dir)
        };
        let user = |u: &str, name: &str, authorized: bool| OfficeUser {
            username: u.into(),
            password: format!("{u}-office-pass"),
            name: name.into(),
            email: format!("{u}@lightsource.example"),
            eaa_hash: Some(format!("eaa-{u}-0001")),
            authorized,
        };
        OfficeConfig {
            name: default_name(),
            base_url: None,
            client_username: "gantry".into(),
            client_password: "gantry-office-secret".into(),
            users: vec![user("alice", "Alice Example", true), user("bob", "Bob Example", false)],
            experiments: vec![
                Experiment {
                    proposal_id: "20260001".into(),
                    subject: "Lysozyme crystals at 100 K".into(),
                    body: "Diffraction of lysozyme crystals grown under microgravity.".into(),
                    beam_line: "BL13-XALOC".into(),
                    uid: 20001,
                    gid: 30001,
                    members: vec!["alice".into(), "bob".into()],
                    sessions: vec![session(
                        1,
                        "2026/20260001/s1",
                        &[
                            ("raw/scan_0001.h5", "scan 1 of lysozyme\n"),
                            ("raw/scan_0002.h5", "scan 2 of lysozyme\n"),
                            ("raw/notes.txt", "beam stable; 12.4 keV\n"),
                        ],
                    )],
                },
                Experiment {
                    proposal_id: "20260002".into(),
                    subject: "Operando battery cathodes".into(),
                    body: "X-ray absorption of NMC cathodes while cycling.".into(),
                    beam_line: "BL22-CLAESS".into(),
                    uid: 20002,
                    gid: 30002,
                    members: vec!["alice".into()],
                    sessions: vec![session(
                        1,
                        "2026/20260002/s1",
                        &[("raw/cycle_01.dat", "cycle 1\n"), ("raw/cycle_02.dat", "cycle 2\n")],
                    )],
                },
            ],
        }
    }

    /// Writes the demo's session files under `datasets_root` (those missing only).
    pub fn write_files(&self, datasets_root: &Path) -> anyhow::Result<()> {
        for s in self.experiments.iter().flat_map(|e| &e.sessions) {
            for (rel, content) in &s.files {
                let p = datasets_root.join(rel);
                if p.exists() {
                    continue;
                }
                std::fs::create_dir_all(p.parent().unwrap_or(datasets_root))?;
                std::fs::write(&p, content)?;
            }
        }
        Ok(())
    }
}

/// The office's configuration file in its data folder.
pub fn default_config_path(data_dir: &Path) -> PathBuf {
    data_dir.join("user-office.toml")
}

/// Reads the configuration (`config`, or the one in `data_dir`); with neither, writes the
/// demo's there. Returns it and, when made, the path it was written to.
pub fn load(data_dir: &Path, config: Option<&Path>) -> anyhow::Result<(OfficeConfig, Option<PathBuf>)> {
    let path = config.map(Path::to_path_buf).unwrap_or_else(|| default_config_path(data_dir));
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let cfg = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok((cfg, None));
    }
    if config.is_some() {
        anyhow::bail!("{} does not exist", path.display());
    }
    std::fs::create_dir_all(data_dir)?;
    let cfg = OfficeConfig::demo();
    // It holds passwords: readable by its owner only.
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
    f.write_all(toml::to_string(&cfg)?.as_bytes())?;
    Ok((cfg, Some(path)))
}
