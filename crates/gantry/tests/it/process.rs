//! The `gantry` binary as its own process: `gantry serve` configured through the
//! environment, `gantry admin` on the same data, and `gantry globus-local`.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A running `gantry serve`.
pub struct Served {
    pub url: String,
    pub data: PathBuf,
    pub db: String,
    child: Child,
    _dir: Option<tempfile::TempDir>,
}

/// `gantry` with the data directory, database and loopback address set, and `env` on top.
pub fn gantry(data: &Path, db: &str, env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
    c.env("GANTRY_DATA_DIR", data)
        .env("GANTRY_DATABASE_URL", db)
        .env("GANTRY_LISTEN", "127.0.0.1:0")
        .env("GANTRY_LOG", "info")
        .envs(env.iter().copied());
    c
}

/// Starts `cmd`, reads its standard error until a line contains `marker`, and returns
/// the child and that line; the rest of the log is drained so the child never blocks on
/// a full pipe.
pub async fn spawn_until(mut cmd: Command, marker: &str) -> (Child, String) {
    let mut child = cmd.stderr(std::process::Stdio::piped()).kill_on_drop(true).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let line = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(l) = lines.next_line().await.unwrap() {
            if l.contains(marker) {
                return l.trim().to_string();
            }
            seen.push_str(&l);
            seen.push('\n');
        }
        panic!("the process exited before printing {marker:?}: {seen}");
    })
    .await
    .expect("the process starts");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, line)
}

/// What follows `marker` in `line`.
fn after<'a>(line: &'a str, marker: &str) -> &'a str {
    &line[line.find(marker).unwrap() + marker.len()..]
}

impl Served {
    /// `gantry serve` on SQLite in a new temporary directory, with `env` (such as
    /// `GANTRY_LIMITS_HEADER_READ_SECS`) set.
    pub async fn start(env: &[(&str, &str)]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let db = crate::harness::database_url(crate::harness::Backend::Sqlite, dir.path()).await;
        let mut s = Self::start_in(&data, &db, env).await;
        s._dir = Some(dir);
        s
    }

    /// `gantry serve` on the given data directory and database.
    pub async fn start_in(data: &Path, db: &str, env: &[(&str, &str)]) -> Served {
        crate::harness::init();
        let mut cmd = gantry(data, db, env);
        cmd.arg("serve").stdout(std::process::Stdio::null());
        let (child, line) = spawn_until(cmd, "listening on ").await;
        let addr = after(&line, "listening on ").split_whitespace().next().unwrap().to_string();
        Served { url: format!("http://{addr}"), data: data.to_path_buf(), db: db.to_string(), child, _dir: None }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server runs")
    }

    /// The most memory the server has held so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    }

    /// Runs `gantry admin ARGS` on this server's data (with `stdin` as its input) and
    /// returns what it printed.
    pub async fn admin(&self, args: &[&str], stdin: Option<&str>) -> String {
        admin(&self.data, &self.db, args, stdin).await
    }

    /// Creates a user and a write token; returns the token.
    pub async fn user(&self, name: &str) -> String {
        self.admin(&["user", "create", name], None).await;
        self.admin(&["token", "create", "--user", name], None).await
    }

    /// Creates a user who signs in on the web with `password`.
    pub async fn user_with_password(&self, name: &str, password: &str) {
        self.admin(&["user", "create", name, "--password-stdin"], Some(password)).await;
    }

    /// Kills the server with SIGKILL (no chance to clean up) and waits for it.
    pub async fn sigkill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// `gantry admin ARGS` on a data directory and database; what it printed.
pub async fn admin(data: &Path, db: &str, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = gantry(data, db, &[])
        .arg("admin")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(format!("{text}\n").as_bytes()).await.unwrap();
    }
    drop(input);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "gantry admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A running `gantry globus-local`.
pub struct GlobusProcess {
    pub url: String,
    pub config: gantry_globus_local::GlobusConfig,
    child: Child,
}

impl GlobusProcess {
    /// `gantry globus-local` on `data`, with `config` written to a file it is given, or
    /// the configuration it makes itself on a first start.
    pub async fn start(data: &Path, config: Option<&gantry_globus_local::GlobusConfig>) -> GlobusProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gantry"));
        cmd.args(["globus-local", "--listen", "127.0.0.1:0", "--data"]).arg(data);
        if let Some(c) = config {
            std::fs::create_dir_all(data).unwrap();
            let file = data.join("given.toml");
            std::fs::write(&file, c.to_toml()).unwrap();
            cmd.arg("--config").arg(file);
        }
        let (child, line) = spawn_until(cmd, "base URL ").await;
        let url = after(&line, "base URL ").trim_end_matches(')').to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        let config = match config {
            Some(c) => c.clone(),
            None => gantry_globus_local::GlobusConfig::load(&data.join("globus-local.toml")).unwrap(),
        };
        GlobusProcess { url, config, child }
    }

    pub fn client_id(&self, name: &str) -> String {
        self.config.clients.iter().find(|c| c.name == name).unwrap().id.clone()
    }

    pub async fn sigkill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}
