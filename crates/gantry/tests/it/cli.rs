//! The `gantry` binary as a user runs it: login, push, pull, ls, inspect, tag, rm, and
//! resuming interrupted pushes and pulls.

use crate::clients::make_sif;
use crate::harness::{Backend, TestServer, sha256};
use serde_json::Value;
use std::path::Path;
use tokio::process::Command;

pub struct Cli {
    pub home: tempfile::TempDir,
    pub url: String,
}

impl Cli {
    pub fn new(url: &str) -> Cli {
        Cli { home: tempfile::tempdir().unwrap(), url: url.to_string() }
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .current_dir(self.home.path());
        c
    }
    pub async fn run(&self, args: &[&str]) -> (bool, String, String) {
        let out = self.cmd().args(args).output().await.unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    pub async fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args).await;
        assert!(ok, "gantry {args:?} failed:\n{out}\n{err}");
        out
    }
    pub async fn login(&self, token: &str) {
        use tokio::io::AsyncWriteExt;
        let mut child = self
            .cmd()
            .args(["login", &self.url, "--token-stdin"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{token}\n").as_bytes()).await.unwrap();
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "login failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    pub fn path(&self, p: &str) -> std::path::PathBuf {
        self.home.path().join(p)
    }
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

async fn push_pull_and_friends(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let cli = Cli::new(&s.url);
    // Without login: a clear error naming the fix.
    let (ok, _, err) = cli.run(&["ls"]).await;
    assert!(!ok && err.contains("gantry login"), "{err}");
    // A wrong token is refused at login.
    let (ok, _, _) = {
        let mut c = cli.cmd();
        c.args(["login", &s.url, "--token-stdin"]).stdin(std::process::Stdio::null());
        let o = c.output().await.unwrap();
        (o.status.success(), (), ())
    };
    assert!(!ok);
    cli.login(&tok).await;
    let cred = cli.path(".config/gantry/credentials.json");
    assert_eq!(mode(&cred), 0o600);

    let sif = make_sif(cli.home.path(), "app.sif", &vec![9u8; 200_000]).await;
    let out = cli.ok(&["push", sif.to_str().unwrap(), "lab/app:1.0"]).await;
    assert!(out.contains("pushed lab/app:1.0 (sif"), "{out}");
    // Pushing again sends nothing new.
    let out = cli.ok(&["push", sif.to_str().unwrap(), "lab/app:1.0"]).await;
    assert!(out.contains("0 B sent"), "{out}");

    let v: Value = serde_json::from_str(&cli.ok(&["ls", "--json"]).await).unwrap();
    assert_eq!(v[0]["name"], "lab");
    let v: Value = serde_json::from_str(&cli.ok(&["ls", "lab", "--json"]).await).unwrap();
    assert_eq!(v[0]["ref"], "lab/app:1.0");
    let v: Value = serde_json::from_str(&cli.ok(&["inspect", "lab/app:1.0", "--json"]).await).unwrap();
    assert_eq!(v["architecture"], "amd64");
    let human = cli.ok(&["inspect", "lab/app:1.0"]).await;
    assert!(human.contains("architecture: amd64") && human.contains("Bootstrap: docker"), "{human}");

    cli.ok(&["pull", "lab/app:1.0"]).await;
    assert_eq!(sha256(&std::fs::read(cli.path("app_1.0.sif")).unwrap()), sha256(&std::fs::read(&sif).unwrap()));
    let digest = v["digest"].as_str().unwrap().to_string();
    cli.ok(&["pull", &format!("lab/app@{digest}"), "-o", "by-digest.sif"]).await;
    assert_eq!(std::fs::read(cli.path("by-digest.sif")).unwrap(), std::fs::read(&sif).unwrap());

    // Datasets: a directory in, the same directory out.
    let ds = cli.path("ds");
    std::fs::create_dir_all(ds.join("raw/deep")).unwrap();
    std::fs::write(ds.join("README"), "about\n").unwrap();
    std::fs::write(ds.join("raw/deep/x.bin"), vec![1u8; 70_000]).unwrap();
    cli.ok(&["push", "ds", "lab/ds:v1"]).await;
    cli.ok(&["pull", "lab/ds:v1", "-o", "ds-out"]).await;
    assert_eq!(std::fs::read(cli.path("ds-out/raw/deep/x.bin")).unwrap(), vec![1u8; 70_000]);
    assert_eq!(std::fs::read_to_string(cli.path("ds-out/README")).unwrap(), "about\n");

    // tag within and across repositories; rm.
    cli.ok(&["tag", "lab/app:1.0", "lab/app:stable"]).await;
    cli.ok(&["tag", "lab/app:1.0", "lab/mirror:1.0"]).await;
    let v: Value = serde_json::from_str(&cli.ok(&["inspect", "lab/mirror:1.0", "--json"]).await).unwrap();
    assert_eq!(v["digest"], digest.as_str());
    // A repository's tags, as a table and as JSON.
    let tags = cli.ok(&["ls", "lab/app"]).await;
    assert!(tags.starts_with("TAG ") && tags.contains("stable") && tags.contains("1.0"), "{tags}");
    let v: Value = serde_json::from_str(&cli.ok(&["ls", "lab/app", "--json"]).await).unwrap();
    assert_eq!(v["tags"].as_array().unwrap().len(), 2, "{v}");
    // Search: by name, by label, and nothing for what nothing has.
    let v: Value = serde_json::from_str(&cli.ok(&["search", "mirror", "--json"]).await).unwrap();
    assert_eq!(
        v.as_array().unwrap().iter().map(|i| i["ref"].as_str().unwrap()).collect::<Vec<_>>(),
        ["lab/mirror:1.0"]
    );
    let found = cli.ok(&["search", "--label", "maintainer=lab"]).await;
    assert!(found.contains("lab/app:1.0") && !found.contains("lab/ds:v1"), "{found}");
    let v: Value = serde_json::from_str(&cli.ok(&["search", "no-such-thing", "--json"]).await).unwrap();
    assert_eq!(v, serde_json::json!([]));
    cli.ok(&["rm", "lab/app:stable"]).await;
    let (ok, _, err) = cli.run(&["inspect", "lab/app:stable"]).await;
    assert!(!ok && err.contains("not found"), "{err}");

    // Bad input names the problem.
    let (ok, _, err) = cli.run(&["push", "ds", "Lab/Bad:1"]).await;
    assert!(!ok && err.contains("collection/name:tag"), "{err}");
    let (ok, _, err) = cli.run(&["pull", "lab/absent:1"]).await;
    assert!(!ok && err.contains("not found"), "{err}");
    // A reader that stops early (`gantry ls | head -1`): the command ends quietly.
    for args in [
        &["ls"][..],
        &["ls", "lab"],
        &["ls", "lab/app"],
        &["ls", "--json"],
        &["search", "lab"],
        &["inspect", "lab/app:1.0"],
    ] {
        let mut child = cli
            .cmd()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().await.unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && !err.contains("panicked"), "gantry {args:?} into a closed pipe: {err}");
    }
    // GANTRY_TOKEN overrides the saved login.
    let mut c = cli.cmd();
    let o = c.env("GANTRY_TOKEN", "gnt_revoked").args(["ls"]).output().await.unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("refused your token"));
}

async fn interrupted_transfers_resume(b: Backend) {
    let s = TestServer::start(b).await;
    let tok = s.user("alice").await;
    let cli = Cli::new(&s.url);
    cli.login(&tok).await;
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let file = cli.path("big.bin");
    std::fs::write(&file, &data).unwrap();
    let d = sha256(&data);

    // A push that stopped after 1 MB: the session exists on the server and the CLI
    // remembers it. Re-running the push sends only the rest.
    let o = crate::ocikit::Oci::as_user(&s.url, "alice", &tok);
    let r = o.req(reqwest::Method::POST, "/v2/lab/big/blobs/uploads/").send().await.unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = o
        .req(reqwest::Method::PATCH, &loc)
        .header("content-range", "0-999999")
        .body(data[..1_000_000].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let key = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(format!("{}|lab/big|{d}", s.url).as_bytes()))
    };
    let state = cli.path(&format!(".cache/gantry/uploads/{key}.json"));
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, serde_json::to_vec(&loc).unwrap()).unwrap();
    let out = cli.ok(&["push", "big.bin", "lab/big:v1"]).await;
    assert!(out.contains("1.9 MiB sent"), "only the missing 2 MB are sent: {out}");
    assert!(!state.exists(), "the resume note is removed once done");

    // A pull that stopped half-way continues from the .part file...
    std::fs::write(cli.path("big.bin.part"), &data[..1_500_000]).unwrap();
    std::fs::remove_file(&file).unwrap();
    cli.ok(&["pull", "lab/big:v1", "-o", "."]).await;
    assert_eq!(std::fs::read(&file).unwrap(), data);
    assert!(!cli.path("big.bin.part").exists());
    // ...and a .part holding wrong bytes is caught by the digest check, not kept.
    std::fs::remove_file(&file).unwrap();
    std::fs::write(cli.path("big.bin.part"), vec![0u8; 1_500_000]).unwrap();
    let (ok, _, err) = cli.run(&["pull", "lab/big:v1", "-o", "."]).await;
    assert!(!ok && err.contains("does not match its digest"), "{err}");
    assert!(!file.exists() && !cli.path("big.bin.part").exists());
    cli.ok(&["pull", "lab/big:v1", "-o", "."]).await;
    assert_eq!(std::fs::read(&file).unwrap(), data);
}

/// `gantry admin …` on the configured database while the server runs.
async fn admin_commands(b: Backend) {
    let s = TestServer::start(b).await;
    let admin = |args: &'static [&'static str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
        c.env("GANTRY_DATA_DIR", s.data_dir())
            .env("GANTRY_DATABASE_URL", s.config.database_url.clone().unwrap())
            .arg("admin")
            .args(args);
        c
    };
    let out =
        admin(&["user", "create", "dora", "--password-stdin"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut out = out;
        out.stdin.take().unwrap().write_all(b"a long enough password\n").await.unwrap();
        assert!(out.wait().await.unwrap().success());
    }
    let o = admin(&["user", "create", "dora"]).output().await.unwrap();
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("already exists"));
    let o = admin(&["user", "create", "../evil"]).output().await.unwrap();
    assert!(!o.status.success());
    let o = admin(&["token", "create", "--user", "dora", "--name", "ci", "--scope", "read"]).output().await.unwrap();
    assert!(o.status.success());
    let token = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(token.starts_with("gnt_"));
    let me = reqwest::Client::new().get(format!("{}/api/v1/me", s.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["token_scope"], "read");
    let list = String::from_utf8_lossy(&admin(&["token", "list", "--user", "dora"]).output().await.unwrap().stdout)
        .into_owned();
    assert!(list.contains(" ci ") && !list.contains(&token), "{list}");
    let id = list.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let mut c = Command::new(env!("CARGO_BIN_EXE_gantry"));
    let o = c
        .env("GANTRY_DATA_DIR", s.data_dir())
        .env("GANTRY_DATABASE_URL", s.config.database_url.clone().unwrap())
        .args(["admin", "token", "revoke", "--user", "dora", &id])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let me = reqwest::Client::new().get(format!("{}/api/v1/me", s.url)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let row = sqlx::query("SELECT password_hash FROM users WHERE username = 'dora'")
        .fetch_one(s.state.store().pool())
        .await
        .unwrap();
    let hash: String = sqlx::Row::get(&row, "password_hash");
    assert!(hash.starts_with("$argon2id$"), "passwords are stored as argon2 hashes");
    assert!(gantry_app::identity::passwords::verify_password("a long enough password", &hash));
    // Roles for Globus groups.
    assert!(admin(&["collection", "create", "shared", "--owner", "dora"]).output().await.unwrap().status.success());
    let gid = "6f1c0b2e-0000-4000-8000-00000000beef";
    let o = admin(&["collection", "group", "shared", "6F1C0B2E-0000-4000-8000-00000000BEEF", "contributor"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let coll = s.state.store().collection_access("shared", None).await.unwrap().unwrap().collection;
    let groups = s.state.store().list_group_members(coll.id).await.unwrap();
    assert_eq!((groups[0].group_id.as_str(), groups[0].role), (gid, gantry_domain::Role::Contributor));
    let o = admin(&["collection", "group", "shared", "not a group", "viewer"]).output().await.unwrap();
    assert!(!o.status.success());
    // The admin command line keeps the last owner too, as the API and the web do.
    let o = admin(&["collection", "member", "shared", "dora", "viewer"]).output().await.unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success() && err.contains("last owner"), "{err}");
    let members = s.state.store().list_members(coll.id).await.unwrap();
    assert_eq!(
        members.iter().map(|m| (m.username.as_str(), m.role)).collect::<Vec<_>>(),
        [("dora", gantry_domain::Role::Owner)]
    );
    s.user("erik").await;
    assert!(admin(&["collection", "member", "shared", "erik", "owner"]).output().await.unwrap().status.success());
    let o = admin(&["collection", "member", "shared", "dora", "viewer"]).output().await.unwrap();
    assert!(o.status.success(), "with another owner dora may step down: {}", String::from_utf8_lossy(&o.stderr));
}

crate::both_backends!(push_pull_and_friends, interrupted_transfers_resume, admin_commands);
