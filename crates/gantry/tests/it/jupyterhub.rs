//! A real JupyterHub (PyPI `jupyterhub` with `oauthenticator`'s GlobusOAuthenticator at
//! its default settings, only its URLs pointed here) signs a user in through the
//! built-in Globus service's HTML login, and keeps a working Transfer token in
//! `auth_state`.

use crate::clients::{python, repo_root, run};
use crate::globus::GlobusServer;
use gantry_globus_local::config::Client;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::process::Command;

/// The `jupyterhub` of the hub's own virtualenv (scripts/test sets GANTRY_TEST_HUB).
fn jupyterhub() -> PathBuf {
    if let Ok(p) = std::env::var("GANTRY_TEST_HUB") {
        return PathBuf::from(p);
    }
    let p = repo_root().join(".venv-hub/bin/jupyterhub");
    assert!(p.exists(), "no JupyterHub: run the suite with scripts/test");
    p
}

/// A port that was free a moment ago. JupyterHub and its proxy cannot report a port
/// they chose themselves, and the hub's callback URL must be registered beforehand.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Hub(tokio::process::Child);

impl Drop for Hub {
    fn drop(&mut self) {
        // SIGTERM lets the hub stop its proxy too.
        if let Some(pid) = self.0.id() {
            let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jupyterhub_signs_in_with_globus_oauthenticator() {
    let (hub_port, hub_api, proxy_api) = (free_port(), free_port(), free_port());
    let callback = format!("http://127.0.0.1:{hub_port}/hub/oauth_callback");
    let secret = "hub-client-secret-for-tests";
    let g = GlobusServer::start_with(tempfile::tempdir().unwrap(), |c| {
        c.clients.push(Client::confidential("JupyterHub", secret, vec![callback.clone()], vec![]));
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let service_token = "gantry-test-service-token-0123456789";
    let chp_bin = repo_root().join("tests/hub/node_modules/.bin");
    assert!(chp_bin.join("configurable-http-proxy").exists(), "no configurable-http-proxy: run scripts/test");
    let path = format!("{}:{}", chp_bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new(jupyterhub());
    cmd.current_dir(dir.path())
        .arg("-f")
        .arg(repo_root().join("tests/clients/jupyterhub_config.py"))
        .env("PATH", path)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("JUPYTERHUB_CRYPT_KEY", "0".repeat(64))
        .env("GANTRY_GLOBUS_URL", &g.url)
        .env("GANTRY_HUB_CLIENT_ID", g.client_id("JupyterHub"))
        .env("GANTRY_HUB_CLIENT_SECRET", secret)
        .env("GANTRY_HUB_PORT", hub_port.to_string())
        .env("GANTRY_HUB_API_PORT", hub_api.to_string())
        .env("GANTRY_PROXY_API_PORT", proxy_api.to_string())
        .env("GANTRY_HUB_DIR", dir.path())
        .env("GANTRY_HUB_SERVICE_TOKEN", service_token)
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("hub.log")).unwrap())
        .kill_on_drop(true);
    let _hub = Hub(cmd.spawn().expect("start jupyterhub"));
    let hub = format!("http://127.0.0.1:{hub_port}");
    let http = crate::harness::http();
    let mut up = false;
    for _ in 0..120 {
        if http.get(format!("{hub}/hub/api")).send().await.is_ok_and(|r| r.status().is_success()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = || std::fs::read_to_string(dir.path().join("hub.log")).unwrap_or_default();
    assert!(up, "JupyterHub did not start:\n{}", log());

    let out = run(Command::new(python())
        .env("NO_PROXY", "127.0.0.1,localhost")
        .arg(repo_root().join("tests/clients/jupyterhub_login.py"))
        .args([&hub, service_token, "alice@uni.edu", "alice-pass"]))
    .await;
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["login_redirect"], 302, "{v}");
    assert_eq!(v["authorize_has_pkce"], true);
    assert_eq!(
        v["authorize_scopes"],
        json!(["openid", "profile", "urn:globus:auth:scope:transfer.api.globus.org:all"]),
        "the authenticator's default scopes"
    );
    assert_eq!(v["callback_is_hub"], true);
    assert_eq!(v["callback_status"], 302, "the hub took the code: {v}\n{}", log());
    assert_eq!(v["signed_in_cookie"], true);
    assert_eq!(v["hub_users"], json!(["alice"]));
    assert_eq!(v["globus_user"], "alice@uni.edu");
    assert_eq!(
        v["auth_state_resource_servers"],
        json!(["transfer.api.globus.org"]),
        "auth and groups tokens are excluded by default"
    );
    assert_eq!(v["transfer_works"], true, "the Transfer token in auth_state works");
}
