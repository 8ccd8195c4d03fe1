//! The built-in Globus-compatible service, judged by the official clients: globus-cli
//! (login through the real form, whoami, session show, logout) and globus-sdk (PKCE,
//! id_token, refresh, client credentials, dependent tokens, introspection, GARE);
//! plus the tampering the authorize flow must refuse, and restarts.

use crate::clients::{python, repo_root, run};
use crate::harness::{Browser, hidden};
use gantry_globus_local::GlobusConfig;
use gantry_globus_local::config::{Client, ClientScope};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::process::Command;

pub struct GlobusServer {
    pub url: String,
    pub config: GlobusConfig,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub const NATIVE: &str = "Gantry test native app";
pub const GATEWAY: &str = "Gantry gateway";
pub const GATEWAY_SECRET: &str = "gateway-secret-for-tests";
pub const GATEWAY_CALLBACK: &str = "http://127.0.0.1:9/callback";

impl GlobusServer {
    pub async fn start() -> GlobusServer {
        Self::start_in(tempfile::tempdir().unwrap()).await
    }

    pub async fn start_in(dir: tempfile::TempDir) -> GlobusServer {
        Self::start_with(dir, |_| {}).await
    }

    /// Starts the service with the test clients, after `tweak` has changed the configuration.
    pub async fn start_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut GlobusConfig)) -> GlobusServer {
        let mut config = test_config(dir.path());
        tweak(&mut config);
        config.complete().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let (running, fut) =
            gantry_globus_local::start(config.clone(), dir.path().to_path_buf(), listener, async move {
                let _ = rx.await;
            })
            .await
            .unwrap();
        let task = tokio::spawn(async move { fut.await.unwrap() });
        GlobusServer { url: format!("http://{}", running.addr), config, dir, stop: Some(tx), task: Some(task) }
    }

    pub async fn restart(mut self) -> GlobusServer {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start_in(dir).await
    }

    pub fn client_id(&self, name: &str) -> String {
        self.config.clients.iter().find(|c| c.name == name).unwrap().id.clone()
    }

    /// A `globus` command with a fresh HOME pointed at this service.
    pub fn globus_env(&self, cmd: &mut Command, home: &std::path::Path) {
        let base = format!("{}/", self.url);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("GLOBUS_SDK_SERVICE_URL_AUTH", &base)
            .env("GLOBUS_SDK_SERVICE_URL_TRANSFER", &base)
            .env("GLOBUS_SDK_SERVICE_URL_GROUPS", &base)
            .env("GLOBUS_SDK_SERVICE_URL_SEARCH", &base)
            .env("GLOBUS_SDK_SERVICE_URL_TIMER", &base)
            .env("GLOBUS_SDK_SERVICE_URL_FLOWS", &base);
    }
}

/// The service's own default configuration for `dir`, with the test clients added: a
/// native app and a confidential gateway whose scope depends on Transfer.
pub fn test_config(dir: &std::path::Path) -> GlobusConfig {
    let mut config = GlobusConfig::default_for(dir);
    config.clients.push(Client::native(NATIVE));
    config.clients.push(Client::confidential(
        GATEWAY,
        GATEWAY_SECRET,
        vec![GATEWAY_CALLBACK.into()],
        vec![ClientScope {
            suffix: "all".into(),
            dependent_scopes: vec!["urn:globus:auth:scope:transfer.api.globus.org:all".into()],
        }],
    ));
    config
}

impl Drop for GlobusServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

pub(crate) fn globus_bin() -> std::path::PathBuf {
    python().parent().unwrap().join("globus")
}

pub(crate) async fn globus(g: &GlobusServer, home: &std::path::Path, args: &[&str]) -> (i32, String) {
    let mut c = Command::new(globus_bin());
    g.globus_env(&mut c, home);
    let o = c.args(args).output().await.unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

/// `globus login --no-local-server`, signing in through the HTML form.
pub async fn globus_login(g: &GlobusServer, home: &std::path::Path, user: &str, password: &str) -> String {
    globus_login_args(g, home, user, password, &["login", "--no-local-server"]).await
}

/// A `globus` command that signs in (`login`, `session update`, `session consent`),
/// signing in through the HTML form from a fresh browser.
pub async fn globus_login_args(
    g: &GlobusServer,
    home: &std::path::Path,
    user: &str,
    password: &str,
    args: &[&str],
) -> String {
    let mut c = Command::new(python());
    g.globus_env(&mut c, home);
    c.arg(repo_root().join("tests/clients/globus_login.py")).args([user, password, "--"]).arg(globus_bin());
    c.args(args);
    run(&mut c).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_cli_login_whoami_session_logout() {
    let g = GlobusServer::start().await;
    let home = tempfile::tempdir().unwrap();
    let out = globus_login(&g, home.path(), "alice@uni.edu", "alice-pass").await;
    assert!(out.contains("You have successfully logged in to the Globus CLI"), "{out}");
    let (code, out) = globus(&g, home.path(), &["whoami"]).await;
    assert_eq!((code, out.trim()), (0, "alice@uni.edu"));
    let (code, out) = globus(&g, home.path(), &["whoami", "--linked-identities"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("alice@uni.edu") && out.contains("alice@lab.gov"), "{out}");
    let (code, out) = globus(&g, home.path(), &["session", "show"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice@uni.edu"), "{out}");
    let alice = g.config.identity_by_username("alice@uni.edu").unwrap().id.clone();
    assert!(out.contains(&alice), "{out}");
    let (code, out) = globus(&g, home.path(), &["group", "list"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Beamline Users") && out.contains(&g.config.groups[0].id), "{out}");
    let (code, out) = globus(&g, home.path(), &["group", "show", &g.config.groups[0].id]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Beamline Users"), "{out}");
    let (code, out) = globus(&g, home.path(), &["group", "member", "list", &g.config.groups[0].id]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("carol@lab.gov") && out.contains("alice@uni.edu"), "{out}");
    // Bring the linked lab.gov identity into the session (from a fresh browser): the
    // account stays the same, so the CLI accepts the new tokens.
    let lab = g.config.identity_by_username("alice@lab.gov").unwrap().id.clone();
    let out = globus_login_args(
        &g,
        home.path(),
        "alice@lab.gov",
        "alice-lab-pass",
        &["session", "update", "alice@lab.gov", "--no-local-server"],
    )
    .await;
    assert!(out.contains("You have successfully updated your CLI session"), "{out}");
    let (code, out) = globus(&g, home.path(), &["session", "show"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("alice@lab.gov") && out.contains(&lab), "{out}");
    let (code, out) = globus(&g, home.path(), &["whoami"]).await;
    assert_eq!((code, out.trim()), (0, "alice@uni.edu"), "whoami is not affected by sessions");
    // Consent to a scope the CLI did not ask for at login.
    let groups_scope = "urn:globus:auth:scope:groups.api.globus.org:view_my_groups_and_memberships";
    let out = globus_login_args(
        &g,
        home.path(),
        "alice@uni.edu",
        "alice-pass",
        &["session", "consent", groups_scope, "--no-local-server"],
    )
    .await;
    assert!(out.contains("You have successfully updated your CLI session"), "{out}");
    // Another person cannot be brought into alice's session: the CLI refuses the tokens.
    let mut c = Command::new(python());
    g.globus_env(&mut c, home.path());
    c.arg(repo_root().join("tests/clients/globus_login.py")).args(["bob@uni.edu", "bob-pass", "--"]).arg(globus_bin());
    let o = c.args(["session", "update", "bob@uni.edu", "--no-local-server"]).output().await.unwrap();
    assert!(!o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let (code, out) = globus(&g, home.path(), &["whoami"]).await;
    assert_eq!((code, out.trim()), (0, "alice@uni.edu"), "alice's CLI login is kept");
    let (code, out) = globus(&g, home.path(), &["logout", "--yes"]).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = globus(&g, home.path(), &["whoami"]).await;
    assert_ne!(code, 0);
    assert!(out.contains("MissingLoginError"), "{out}");
    // A wrong password never gets a code.
    let mut c = Command::new(python());
    g.globus_env(&mut c, home.path());
    c.arg(repo_root().join("tests/clients/globus_login.py")).args(["alice@uni.edu", "wrong", "--"]).arg(globus_bin());
    let o = c.args(["login", "--no-local-server"]).output().await.unwrap();
    assert!(!o.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_sdk_flows() {
    let g = GlobusServer::start().await;
    let policy = g.config.policies[0].id.clone();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(python());
    g.globus_env(&mut cmd, home.path());
    let out = run(cmd.arg(repo_root().join("tests/clients/globus_sdk_checks.py")).args([
        g.client_id(NATIVE),
        g.client_id(GATEWAY),
        GATEWAY_SECRET.to_string(),
        policy.clone(),
    ]))
    .await;
    let v: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let gw = g.client_id(GATEWAY);
    assert_eq!(v["authorize_has_pkce"], true);
    let mut want = vec![
        "auth.globus.org".to_string(),
        gw.clone(),
        "groups.api.globus.org".to_string(),
        "transfer.api.globus.org".to_string(),
    ];
    want.sort();
    assert_eq!(v["resource_servers"], serde_json::json!(want));
    // Signed in with the linked lab.gov identity, the tokens speak for the account's
    // primary identity, as Globus's do; the session shows which identity signed in.
    assert_eq!(v["id_token_username"], "alice@uni.edu");
    assert_eq!(v["id_token_aud_is_client"], true);
    assert_eq!(v["refresh_works"], true);
    assert_eq!(v["client_credentials_rs"], serde_json::json!(["transfer.api.globus.org"]));
    assert_eq!(v["dependent_rs"], serde_json::json!(["transfer.api.globus.org"]));
    assert_eq!(v["introspect_active"], true);
    assert_eq!(v["introspect_username"], "alice@uni.edu");
    assert_eq!(
        v["session_identities"],
        serde_json::json!([g.config.identity_by_username("alice@lab.gov").unwrap().id])
    );
    assert_eq!(v["identity_set_len"], 2);
    assert_eq!(v["policy_evaluation"], true, "a fresh lab.gov sign-in satisfies the lab policy");
    assert_eq!(v["inactive_after_revoke"], true);
    assert_eq!(v["bad_dependent_refused"], true);
    assert_eq!(v["gare_policies"], serde_json::json!([policy]));
    assert_eq!(v["transfer_search"], serde_json::json!(["Lab Archive"]));
    assert_eq!(v["transfer_ls"], serde_json::json!(["from-sdk", "shared"]), "shared/ is the guest collection's root");
    assert_eq!(v["transfer_tasks"], 0);
    assert_eq!(v["my_groups"], serde_json::json!(["Beamline Users"]));
    assert_eq!(v["ha_refused"], true);
    assert_eq!(v["ha_gare_policies"], serde_json::json!([policy]), "globus_sdk.gare reads the service's error");
}

/// A tiny cookie-carrying browser for the tampering tests.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorize_refuses_tampering() {
    let g = GlobusServer::start().await;
    let gw = g.client_id(GATEWAY);
    let native = g.client_id(NATIVE);
    let cb = "http://127.0.0.1:9/callback";
    let auth = |client: &str, redirect: &str, extra: &str| {
        format!(
            "{}/v2/oauth2/authorize?client_id={client}&redirect_uri={}&scope=openid%20email&response_type=code&state=s1{extra}",
            g.url,
            gantry_globus_local::auth::urlencode(redirect)
        )
    };
    let mut b = Browser::new();
    // Unknown client and foreign redirect_uri: an error page, never a redirect.
    let (st, _, loc) = b.get(&auth("00000000-0000-0000-0000-000000000000", cb, "")).await;
    assert_eq!((st, loc), (StatusCode::BAD_REQUEST, None));
    let (st, _, loc) = b.get(&auth(&gw, "https://evil.example.org/cb", "")).await;
    assert_eq!((st, loc), (StatusCode::BAD_REQUEST, None));
    // A public client without PKCE is sent back with an error.
    let (st, _, loc) = b.get(&auth(&native, &format!("{}/v2/web/auth-code", g.url), "")).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert!(loc.unwrap().contains("error=invalid_request"));
    // Unknown scopes too.
    let (_, _, loc) = b.get(&auth(&gw, cb, "").replace("openid%20email", "urn:globus:auth:scope:evil.org:all")).await;
    assert!(loc.unwrap().contains("error=invalid_scope"));

    // The real flow for the confidential client, with a wrong password first.
    let (st, page, _) = b.get(&auth(&gw, cb, "&nonce=n-123")).await;
    assert_eq!(st, StatusCode::OK);
    let (req, csrf) = (hidden(&page, "request"), hidden(&page, "csrf"));
    let login = format!("{}/v2/web/login", g.url);
    let (st, _, _) =
        b.post(&login, &[("request", &req), ("csrf", &csrf), ("username", "bob@uni.edu"), ("password", "nope")]).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    // A forged form (wrong CSRF token) is refused.
    let (st, _, _) = b
        .post(&login, &[("request", &req), ("csrf", "forged"), ("username", "bob@uni.edu"), ("password", "bob-pass")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    // So is the right form posted from another browser (no binding cookie).
    let mut other = Browser::new();
    let (st, _, _) = other
        .post(&login, &[("request", &req), ("csrf", &csrf), ("username", "bob@uni.edu"), ("password", "bob-pass")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, page, _) = b
        .post(&login, &[("request", &req), ("csrf", &csrf), ("username", "bob@uni.edu"), ("password", "bob-pass")])
        .await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Allow"), "{page}");
    let (st, _, loc) = b
        .post(&format!("{}/v2/web/consent", g.url), &[("request", &req), ("csrf", &csrf), ("decision", "allow")])
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    let loc = loc.unwrap();
    assert!(loc.starts_with(cb) && loc.contains("state=s1"), "{loc}");
    let code = loc.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let c = crate::harness::http();
    let token_url = format!("{}/v2/oauth2/token", g.url);
    // Wrong secret, wrong redirect_uri: refused. Right: tokens and an id_token with the nonce.
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some("wrong"))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", cb)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", "http://127.0.0.1:9/other")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // The code was consumed by that attempt: a replay fails too.
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", cb)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");

    // Second round (already signed in): straight to consent, then a good exchange.
    let (st, page, _) = b.get(&auth(&gw, cb, "&nonce=n-456")).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains("Allow") && !page.contains("name=\"password\""), "signed-in sessions skip the login form");
    let (_, _, loc) = b
        .post(
            &format!("{}/v2/web/consent", g.url),
            &[("request", &hidden(&page, "request")), ("csrf", &hidden(&page, "csrf")), ("decision", "allow")],
        )
        .await;
    let code = loc.unwrap().split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let r = c
        .post(&token_url)
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", cb)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resource_server"], "auth.globus.org");
    assert_eq!(v["other_tokens"], serde_json::json!([]));
    let id_token = v["id_token"].as_str().unwrap();
    use base64::Engine;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["aud"], gw.as_str());
    assert_eq!(claims["preferred_username"], "bob@uni.edu");
    // prompt=login forces the form again even though signed in.
    let (_, page, _) = b.get(&auth(&gw, cb, "&prompt=login&session_message=Please%20sign%20in%20again")).await;
    assert!(page.contains("name=\"password\"") && page.contains("Please sign in again"), "{page}");
    // A policy bob cannot meet keeps him at the login form.
    let policy = &g.config.policies[0].id;
    let (_, page, _) = b.get(&auth(&gw, cb, &format!("&session_required_policies={policy}"))).await;
    assert!(page.contains("name=\"password\""), "{page}");
    let (req, csrf) = (hidden(&page, "request"), hidden(&page, "csrf"));
    let (_, page, _) = b
        .post(&login, &[("request", &req), ("csrf", &csrf), ("username", "bob@uni.edu"), ("password", "bob-pass")])
        .await;
    assert!(page.contains("name=\"password\""), "a uni.edu sign-in does not satisfy the lab.gov policy");
    let (_, page, _) = b
        .post(&login, &[("request", &req), ("csrf", &csrf), ("username", "carol@lab.gov"), ("password", "carol-pass")])
        .await;
    assert!(page.contains("Allow"), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_and_keys_survive_restart() {
    let g = GlobusServer::start().await;
    let c = crate::harness::http();
    let gw = g.client_id(GATEWAY);
    let jwks1: Value = c.get(format!("{}/jwk.json", g.url)).send().await.unwrap().json().await.unwrap();
    let r = c
        .post(format!("{}/v2/oauth2/token", g.url))
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "urn:globus:auth:scope:transfer.api.globus.org:all")])
        .send()
        .await
        .unwrap();
    let tok = r.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_string();
    let g = g.restart().await;
    let jwks2: Value = c.get(format!("{}/jwk.json", g.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks1, jwks2, "the signing key is kept");
    let r = c
        .post(format!("{}/v2/oauth2/token/validate", g.url))
        .basic_auth(&gw, Some(GATEWAY_SECRET))
        .form(&[("token", &tok)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["active"], true, "tokens survive a restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globus_cli_transfer_and_friends() {
    let g = GlobusServer::start().await;
    let home = tempfile::tempdir().unwrap();
    globus_login(&g, home.path(), "alice@uni.edu", "alice-pass").await;
    let cluster = g.config.endpoints[0].clone();
    let archive = g.config.endpoints[1].clone();
    let ok = |(code, out): (i32, String)| {
        assert_eq!(code, 0, "{out}");
        out
    };
    let out = ok(globus(&g, home.path(), &["endpoint", "search", "cluster"]).await);
    assert!(out.contains(&cluster.id) && !out.contains(&archive.id), "{out}");
    let out = ok(globus(&g, home.path(), &["endpoint", "search", "--filter-scope", "my-endpoints"]).await);
    assert!(out.contains("University Cluster"), "{out}");
    let out = ok(globus(&g, home.path(), &["endpoint", "show", &cluster.id]).await);
    assert!(out.contains("University Cluster"), "{out}");

    // Files: mkdir, ls, rename inside the endpoint's root.
    std::fs::create_dir_all(cluster.root.join("data/sub")).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(cluster.root.join("data/big.bin"), &big).unwrap();
    std::fs::write(cluster.root.join("data/sub/small.txt"), "small\n").unwrap();
    let ep = |p: &str| format!("{}:{p}", cluster.id);
    ok(globus(&g, home.path(), &["mkdir", &ep("/~/made")]).await);
    assert!(cluster.root.join("made").is_dir());
    let out = ok(globus(&g, home.path(), &["ls", &ep("/~/")]).await);
    assert!(out.contains("data/") && out.contains("made/"), "{out}");
    ok(globus(&g, home.path(), &["rename", &cluster.id, "/~/made", "/~/renamed"]).await);
    assert!(cluster.root.join("renamed").is_dir() && !cluster.root.join("made").exists());
    let (code, out) = globus(&g, home.path(), &["ls", &ep("/~/../../etc")]).await;
    assert_ne!(code, 0, "paths cannot leave the root: {out}");

    // A recursive transfer, waited for; the bytes arrive identical.
    let out = ok(globus(
        &g,
        home.path(),
        &["transfer", &ep("/~/data/"), &ep("/~/copy/"), "--recursive", "--label", "t1", "-F", "json"],
    )
    .await);
    let v: Value = serde_json::from_str(&out).unwrap();
    let task = v["task_id"].as_str().unwrap().to_string();
    ok(globus(&g, home.path(), &["task", "wait", &task, "--timeout", "60"]).await);
    assert_eq!(std::fs::read(cluster.root.join("copy/big.bin")).unwrap(), big);
    assert_eq!(std::fs::read_to_string(cluster.root.join("copy/sub/small.txt")).unwrap(), "small\n");
    let out = ok(globus(&g, home.path(), &["task", "show", &task, "-F", "json"]).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["files"].as_u64(), v["bytes_transferred"].as_u64()),
        (Some("SUCCEEDED"), Some(2), Some(3_000_006))
    );
    let out = ok(globus(&g, home.path(), &["task", "list"]).await);
    assert!(out.contains(&task) && out.contains("t1"), "{out}");
    // Label filters, exact and with wildcards, positive and negated.
    let listed = |args: &'static [&'static str]| {
        let home = home.path().to_path_buf();
        let g = &g;
        async move {
            let mut a = vec!["task", "list", "-F", "json"];
            a.extend_from_slice(args);
            let out = ok(globus(g, &home, &a).await);
            let v: Value = serde_json::from_str(&out).unwrap();
            v["DATA"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(&["--filter-label", "t1"]).await, std::slice::from_ref(&task));
    assert_eq!(listed(&["--filter-label", "t*", "--inexact"]).await, std::slice::from_ref(&task));
    assert!(listed(&["--filter-label", "t"]).await.is_empty(), "= is exact");
    assert!(listed(&["--filter-not-label", "t1"]).await.is_empty());
    assert!(listed(&["--filter-not-label", "x*", "--inexact"]).await.contains(&task));
    assert!(listed(&["--filter-requested-after", "2000-01-01"]).await.contains(&task));
    assert!(listed(&["--filter-requested-before", "2000-01-01"]).await.is_empty());
    // ls filters: -r with a filter sends two filters that Transfer ORs; !~ and orderby.
    let names = |out: String| -> Vec<String> {
        let v: Value = serde_json::from_str(&out).unwrap();
        v["DATA"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect()
    };
    let out = ok(globus(&g, home.path(), &["ls", "-r", "--filter", "~*.txt", &ep("/~/data/"), "-F", "json"]).await);
    // Directories pass the type:dir filter (that is how -r descends), files the name filter.
    assert_eq!(names(out), ["sub", "sub/small.txt"]);
    let out = ok(globus(&g, home.path(), &["ls", "--filter", "!~big*", &ep("/~/data/"), "-F", "json"]).await);
    assert_eq!(names(out), ["sub"]);
    let out = ok(globus(&g, home.path(), &["ls", &ep("/~/data/"), "-F", "json"]).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    let when = v["DATA"][0]["last_modified"].as_str().unwrap();
    assert!(when.len() == 25 && &when[10..11] == " " && when.ends_with("+00:00"), "Transfer's time format: {when}");
    let out = ok(globus(&g, home.path(), &["task", "event-list", &task]).await);
    assert!(out.contains("SUCCEEDED"), "{out}");
    let out = ok(globus(&g, home.path(), &["task", "pause-info", &task]).await);
    assert!(!out.is_empty());
    let out = ok(globus(&g, home.path(), &["task", "cancel", &task]).await);
    assert!(out.contains("already completed"), "{out}");

    // Cancel a running task. The CLI verifies checksums by default, so the copy reads
    // every byte twice; if the file was still too small to outlast the CLI's start-up,
    // it is doubled and tried again.
    std::fs::create_dir_all(cluster.root.join("cancel")).unwrap();
    let mut canceled = None;
    for round in 0..4 {
        let chunk: Vec<u8> = (0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let mut f = std::fs::File::create(cluster.root.join("cancel/big.bin")).unwrap();
        for _ in 0..(128 << round) {
            std::io::Write::write_all(&mut f, &chunk).unwrap();
        }
        drop(f);
        let out = ok(globus(
            &g,
            home.path(),
            &["transfer", &ep("/~/cancel/big.bin"), &ep("/~/cancel/copy.bin"), "-F", "json"],
        )
        .await);
        let running = serde_json::from_str::<Value>(&out).unwrap()["task_id"].as_str().unwrap().to_string();
        let out = ok(globus(&g, home.path(), &["task", "cancel", &running]).await);
        if out.contains("already completed") {
            std::fs::remove_file(cluster.root.join("cancel/copy.bin")).unwrap();
            continue;
        }
        assert!(out.contains("cancelled successfully"), "{out}");
        canceled = Some(running);
        break;
    }
    let running = canceled.expect("no transfer ran long enough to be canceled");
    let out = ok(globus(&g, home.path(), &["task", "show", &running, "-F", "json"]).await);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((v["status"].as_str(), v["subtasks_canceled"].as_u64()), (Some("FAILED"), Some(1)), "{v}");
    let out = ok(globus(&g, home.path(), &["task", "event-list", &running]).await);
    assert!(out.contains("CANCELED"), "{out}");
    // The worker notices within a quarter of a second and publishes nothing.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let names: Vec<String> = std::fs::read_dir(cluster.root.join("cancel"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["big.bin"], "a canceled copy leaves no file behind");
    std::fs::remove_dir_all(cluster.root.join("cancel")).unwrap();

    // Delete.
    let out = ok(globus(&g, home.path(), &["delete", &ep("/~/copy/"), "--recursive", "-F", "json"]).await);
    let del: Value = serde_json::from_str(&out).unwrap();
    ok(globus(&g, home.path(), &["task", "wait", del["task_id"].as_str().unwrap(), "--timeout", "60"]).await);
    assert!(!cluster.root.join("copy").exists());

    // Access rules: alice shares /data/ with bob, read-only.
    let out = ok(globus(
        &g,
        home.path(),
        &["endpoint", "permission", "create", &ep("/data/"), "--permissions", "r", "--identity", "bob@uni.edu"],
    )
    .await);
    assert!(out.to_lowercase().contains("created") || out.contains("Access rule"), "{out}");
    let out = ok(globus(&g, home.path(), &["endpoint", "permission", "list", &cluster.id]).await);
    assert!(out.contains("/data/") && out.contains("bob@uni.edu"), "{out}");
    let bob_home = tempfile::tempdir().unwrap();
    globus_login(&g, bob_home.path(), "bob@uni.edu", "bob-pass").await;
    let out = ok(globus(&g, bob_home.path(), &["ls", &ep("/~/data/")]).await);
    assert!(out.contains("big.bin"), "{out}");
    let (code, _) = globus(&g, bob_home.path(), &["ls", &ep("/~/renamed/")]).await;
    assert_ne!(code, 0, "bob may read /data/ only");
    let (code, _) = globus(&g, bob_home.path(), &["mkdir", &ep("/~/data/bobdir")]).await;
    assert_ne!(code, 0, "read-only");
    let (code, _) = globus(&g, bob_home.path(), &["endpoint", "permission", "list", &cluster.id]).await;
    assert_ne!(code, 0, "only the owner lists rules");
    let out = ok(globus(&g, bob_home.path(), &["endpoint", "search", "--filter-scope", "shared-with-me"]).await);
    assert!(out.contains("University Cluster"), "{out}");

    // Bookmarks.
    ok(globus(&g, home.path(), &["bookmark", "create", &ep("/~/data/"), "my data"]).await);
    let out = ok(globus(&g, home.path(), &["bookmark", "list"]).await);
    assert!(out.contains("my data") && out.contains(&cluster.id), "{out}");
    let out = ok(globus(&g, bob_home.path(), &["bookmark", "list"]).await);
    assert!(!out.contains("my data"), "bookmarks are private: {out}");
}

/// A user's access token for `scope`, through the real form (confidential client).
pub(crate) async fn user_token(g: &GlobusServer, user: &str, password: &str, scope: &str) -> String {
    user_tokens(g, user, password, scope).await["access_token"].as_str().unwrap().to_string()
}

/// The whole token response of an authorization-code exchange.
pub(crate) async fn user_tokens(g: &GlobusServer, user: &str, password: &str, scope: &str) -> Value {
    code_flow(&g.url, &g.client_id(GATEWAY), GATEWAY_SECRET, GATEWAY_CALLBACK, user, password, scope).await
}

/// Signs in through the form and consent page, then exchanges the code (Basic auth).
pub(crate) async fn code_flow(
    base: &str,
    client: &str,
    secret: &str,
    redirect: &str,
    user: &str,
    password: &str,
    scope: &str,
) -> Value {
    let mut b = Browser::new();
    let url = format!(
        "{base}/v2/oauth2/authorize?client_id={client}&redirect_uri={}&scope={}&response_type=code&state=x",
        gantry_globus_local::auth::urlencode(redirect),
        gantry_globus_local::auth::urlencode(scope)
    );
    let (_, page, _) = b.get(&url).await;
    let (req, csrf) = (hidden(&page, "request"), hidden(&page, "csrf"));
    let (_, page, _) = b
        .post(
            &format!("{base}/v2/web/login"),
            &[("request", &req), ("csrf", &csrf), ("username", user), ("password", password)],
        )
        .await;
    assert!(page.contains("Allow"), "{page}");
    let (_, _, loc) =
        b.post(&format!("{base}/v2/web/consent"), &[("request", &req), ("csrf", &csrf), ("decision", "allow")]).await;
    let code = loc.unwrap().split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let r = crate::harness::http()
        .post(format!("{base}/v2/oauth2/token"))
        .basic_auth(client, Some(secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", redirect)])
        .send()
        .await
        .unwrap();
    r.json::<Value>().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn high_assurance_collection_asks_to_reauthenticate() {
    let g = GlobusServer::start().await;
    let archive = g.config.endpoints[1].clone();
    let policy = g.config.policies[0].id.clone();
    let home = tempfile::tempdir().unwrap();
    globus_login(&g, home.path(), "carol@lab.gov", "carol-pass").await;
    // carol (lab.gov, fresh sign-in) meets the policy: her archive lists fine.
    let (code, out) = globus(&g, home.path(), &["ls", &format!("{}:/~/", archive.id)]).await;
    assert_eq!(code, 0, "{out}");
    // alice signed in with uni.edu does not: the CLI tells her to re-authenticate.
    let home2 = tempfile::tempdir().unwrap();
    globus_login(&g, home2.path(), "alice@uni.edu", "alice-pass").await;
    let (code, out) = globus(&g, home2.path(), &["ls", &format!("{}:/~/", archive.id)]).await;
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("re-authenticate") || out.contains("session update"), "{out}");
    assert!(out.contains("globus session update") && (out.contains("lab.gov") || out.contains(&policy)), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_once_only_cancel_and_resume_after_restart() {
    let g = GlobusServer::start().await;
    let cluster = g.config.endpoints[0].clone();
    let tok = user_token(&g, "alice@uni.edu", "alice-pass", "urn:globus:auth:scope:transfer.api.globus.org:all").await;
    let c = crate::harness::http();
    let api = |p: &str| format!("{}/v0.10/{p}", g.url);
    std::fs::create_dir_all(cluster.root.join("src")).unwrap();
    for i in 0..3 {
        std::fs::write(cluster.root.join(format!("src/f{i}.dat")), vec![i as u8; 100_000 + i]).unwrap();
    }
    let sid: Value = c.get(api("submission_id")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
    let sid = sid["value"].as_str().unwrap().to_string();
    let body = serde_json::json!({"DATA_TYPE": "transfer", "submission_id": sid, "source_endpoint": cluster.id,
        "destination_endpoint": cluster.id, "label": "once", "verify_checksum": true, "preserve_timestamp": true,
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/src/", "destination_path": "/~/dst/", "recursive": true}]});
    let r = c.post(api("transfer")).bearer_auth(&tok).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 202);
    let first: Value = r.json().await.unwrap();
    let task = first["task_id"].as_str().unwrap().to_string();
    // The same submission id again: the same task, no second one.
    let r = c.post(api("transfer")).bearer_auth(&tok).json(&body).send().await.unwrap();
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["task_id"], task.as_str());
    assert_eq!(again["code"], "Duplicate");
    let wait = |task: String| {
        let c = c.clone();
        let url = api(&format!("task/{task}"));
        let tok = tok.clone();
        async move {
            for _ in 0..200 {
                let v: Value = c.get(&url).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
                if v["status"] != "ACTIVE" {
                    return v;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("task {task} never finished");
        }
    };
    let done = wait(task.clone()).await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    let list: Value = c
        .get(api("task_list?filter=type:TRANSFER/status:SUCCEEDED"))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1, "{list}");
    let src_mtime = std::fs::metadata(cluster.root.join("src/f1.dat")).unwrap().modified().unwrap();
    assert_eq!(
        std::fs::metadata(cluster.root.join("dst/f1.dat")).unwrap().modified().unwrap(),
        src_mtime,
        "preserve_timestamp"
    );

    // Simulate a crash after the first file: the task is ACTIVE again at file 1, the
    // later files are gone and a half-written temporary file lies around.
    let plan_dir = cluster.root.join("dst");
    std::fs::remove_file(plan_dir.join("f1.dat")).unwrap();
    std::fs::remove_file(plan_dir.join("f2.dat")).unwrap();
    let dir_path = g.dir.path().to_path_buf();
    let g = {
        let mut g = g;
        let _ = g.stop.take().unwrap().send(());
        g.task.take().unwrap().await.unwrap();
        let db = gantry_globus_local::store::Db::open(&dir_path.join("globus-local.db")).await.unwrap();
        let mut t: gantry_globus_local::tasks::model::Task = db.get("task", &task).await.unwrap().unwrap();
        use gantry_globus_local::tasks::model::Planned;
        let kept: Option<Vec<Planned>> = db.get("plan", &task).await.unwrap();
        assert!(kept.is_some_and(|p| p.len() == 4), "a finished task keeps its plan: its successful transfers");
        // The plan as the worker made it: the directory, then its files.
        let entry = |f: Option<usize>| {
            let mut src = vec!["src".to_string()];
            let mut dst = vec!["dst".to_string()];
            src.extend(f.map(|i| format!("f{i}.dat")));
            dst.extend(f.map(|i| format!("f{i}.dat")));
            Planned { src, dst, dir: f.is_none(), size: f.map_or(0, |i| 100_000 + i as u64) }
        };
        let plan = vec![entry(None), entry(Some(0)), entry(Some(1)), entry(Some(2))];
        db.put("plan", &task, &plan, None).await.unwrap();
        let first_file = 1;
        t.status = gantry_globus_local::tasks::model::TaskStatus::Active;
        t.completion_time = None;
        t.next = first_file + 1;
        t.files_transferred = 1;
        db.put("task", &task, &t, None).await.unwrap();
        std::fs::write(plan_dir.join(format!(".f1.dat.part-{}", &task[..8])), b"half").unwrap();
        let dir = std::mem::replace(&mut g.dir, tempfile::tempdir().unwrap());
        GlobusServer::start_in(dir).await
    };
    let tok = user_token(&g, "alice@uni.edu", "alice-pass", "urn:globus:auth:scope:transfer.api.globus.org:all").await;
    let c2 = crate::harness::http();
    let mut status = Value::Null;
    for _ in 0..200 {
        status = c2
            .get(format!("{}/v0.10/task/{task}", g.url))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["status"] != "ACTIVE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "SUCCEEDED", "the task continued after the restart: {status}");
    for i in 0..3 {
        assert_eq!(std::fs::read(plan_dir.join(format!("f{i}.dat"))).unwrap(), vec![i as u8; 100_000 + i]);
    }
    let leftovers: Vec<_> = std::fs::read_dir(&plan_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files stay behind");

    // Cancel: a task on a missing source fails at once; a finished one reports so.
    let r = c2.post(format!("{}/v0.10/task/{task}/cancel", g.url)).bearer_auth(&tok).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "TaskComplete");
    std::fs::write(cluster.root.join("src/huge.dat"), vec![7u8; 64 << 20]).unwrap();
    let body = serde_json::json!({"DATA_TYPE": "transfer", "source_endpoint": cluster.id, "destination_endpoint": cluster.id,
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/src/huge.dat", "destination_path": "/~/huge-copy.dat"}]});
    let r = c2.post(format!("{}/v0.10/transfer", g.url)).bearer_auth(&tok).json(&body).send().await.unwrap();
    let t2 = r.json::<Value>().await.unwrap()["task_id"].as_str().unwrap().to_string();
    let r = c2.post(format!("{}/v0.10/task/{t2}/cancel", g.url)).bearer_auth(&tok).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["code"] == "Canceled" || v["code"] == "TaskComplete", "{v}");
    if v["code"] == "Canceled" {
        let t: Value =
            c2.get(format!("{}/v0.10/task/{t2}", g.url)).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
        assert_eq!(t["status"], "FAILED");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let ev: Value = c2
            .get(format!("{}/v0.10/task/{t2}/event_list", g.url))
            .bearer_auth(&tok)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ev["DATA"][0]["code"], "CANCELED");
    }
    // Bob cannot see alice's tasks; a transfer into a path he may not write is refused.
    let bob = user_token(&g, "bob@uni.edu", "bob-pass", "urn:globus:auth:scope:transfer.api.globus.org:all").await;
    assert_eq!(c2.get(format!("{}/v0.10/task/{task}", g.url)).bearer_auth(&bob).send().await.unwrap().status(), 404);
    let r = c2.post(format!("{}/v0.10/transfer", g.url)).bearer_auth(&bob).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(r.headers()["content-type"], "application/json");
}

/// Keys the SDK's fixture has that ours lacks (objects recursively, lists by first item).
fn missing_keys(golden: &Value, ours: &Value, at: &str, out: &mut Vec<String>) {
    match (golden, ours) {
        (Value::Object(g), Value::Object(o)) => {
            for (k, gv) in g {
                match o.get(k) {
                    None => out.push(format!("{at}.{k}")),
                    Some(ov) => missing_keys(gv, ov, &format!("{at}.{k}"), out),
                }
            }
        }
        (Value::Array(g), Value::Array(o)) => {
            if let (Some(g0), Some(o0)) = (g.first(), o.first()) {
                missing_keys(g0, o0, &format!("{at}[0]"), out);
            }
        }
        _ => {}
    }
}

/// Our answers have every key of the responses globus-sdk ships as test fixtures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shapes_match_the_sdk_fixtures() {
    let golden_dir = tempfile::tempdir().unwrap();
    run(Command::new(python()).arg(repo_root().join("tests/clients/export_golden.py")).arg(golden_dir.path())).await;
    let golden = |name: &str| -> Value {
        let v: Value =
            serde_json::from_slice(&std::fs::read(golden_dir.path().join(format!("{name}.json"))).unwrap()).unwrap();
        v["json"].clone()
    };
    let g = GlobusServer::start().await;
    let c = crate::harness::http();
    let gw = g.client_id(GATEWAY);
    let cluster = g.config.endpoints[0].clone();
    std::fs::create_dir_all(cluster.root.join("d")).unwrap();
    std::fs::write(cluster.root.join("d/f.txt"), "x").unwrap();
    let transfer = "urn:globus:auth:scope:transfer.api.globus.org:all";
    let gw_scope = format!("https://auth.globus.org/scopes/{gw}/all");
    let full = user_tokens(
        &g,
        "alice@uni.edu",
        "alice-pass",
        &format!(
            "openid profile email {transfer} urn:globus:auth:scope:groups.api.globus.org:all {gw_scope} {}",
            gantry_globus_local::auth::consents::VIEW_CONSENTS
        ),
    )
    .await;
    let tok_for = |rs: &str| -> String {
        std::iter::once(&full)
            .chain(full["other_tokens"].as_array().unwrap())
            .find(|t| t["resource_server"] == rs)
            .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ttok, gtok, atok, gwtok) = (
        tok_for("transfer.api.globus.org"),
        tok_for("groups.api.globus.org"),
        tok_for("auth.globus.org"),
        tok_for(&gw),
    );
    let mut ours: Vec<(&str, Value)> = vec![("auth.oauth2_exchange_code_for_tokens", full.clone())];
    let post_form = |url: String, form: Vec<(&'static str, String)>| {
        let c = c.clone();
        let gw = gw.clone();
        async move {
            c.post(url)
                .basic_auth(&gw, Some(GATEWAY_SECRET))
                .form(&form)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    ours.push((
        "auth.oauth2_client_credentials_tokens",
        post_form(
            format!("{}/v2/oauth2/token", g.url),
            vec![("grant_type", "client_credentials".into()), ("scope", transfer.into())],
        )
        .await,
    ));
    ours.push((
        "auth.oauth2_get_dependent_tokens",
        post_form(
            format!("{}/v2/oauth2/token", g.url),
            vec![("grant_type", "urn:globus:auth:grant_type:dependent_token".into()), ("token", gwtok.clone())],
        )
        .await,
    ));
    ours.push((
        "auth.oauth2_token_introspect",
        post_form(format!("{}/v2/oauth2/token/introspect", g.url), vec![("token", gwtok.clone())]).await,
    ));
    ours.push((
        "auth.oauth2_revoke_token",
        post_form(format!("{}/v2/oauth2/token/revoke", g.url), vec![("token", "nothing".into())]).await,
    ));
    let alice = g.config.identity_by_username("alice@uni.edu").unwrap().id.clone();
    let get = |url: String, tok: String| {
        let c = c.clone();
        async move { c.get(url).bearer_auth(tok).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    ours.push(("auth.get_identities", get(format!("{}/v2/api/identities?ids={alice}", g.url), atok.clone()).await));
    ours.push((
        "auth.get_policy",
        get(format!("{}/v2/api/policies/{}", g.url, g.config.policies[0].id), atok.clone()).await,
    ));
    let inst = c
        .post(format!("{}/v2/api/clients", g.url))
        .json(
            &serde_json::json!({"client": {"template_id": gantry_globus_local::scopes::CLI_TEMPLATE_ID, "name": "x"}}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    ours.push(("auth.create_native_app_instance", inst));
    ours.push(("groups.get_my_groups", get(format!("{}/v2/groups/my_groups", g.url), gtok.clone()).await));
    ours.push((
        "groups.get_group",
        get(format!("{}/v2/groups/{}?include=memberships", g.url, g.config.groups[0].id), gtok.clone()).await,
    ));
    let v010 = |p: &str| format!("{}/v0.10/{p}", g.url);
    ours.push(("transfer.get_endpoint", get(v010(&format!("endpoint/{}", cluster.id)), ttok.clone()).await));
    ours.push(("transfer.get_submission_id", get(v010("submission_id"), ttok.clone()).await));
    let post_json = |url: String, body: Value| {
        let c = c.clone();
        let t = ttok.clone();
        async move { c.post(url).bearer_auth(t).json(&body).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let tr = post_json(
        v010("transfer"),
        serde_json::json!({"DATA_TYPE": "transfer", "source_endpoint": cluster.id, "destination_endpoint": cluster.id,
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/d/f.txt", "destination_path": "/~/d/g.txt"}]}),
    )
    .await;
    let task = tr["task_id"].as_str().unwrap().to_string();
    ours.push(("transfer.submit_transfer", tr));
    ours.push((
        "transfer.submit_delete",
        post_json(
            v010("delete"),
            serde_json::json!({"DATA_TYPE": "delete", "endpoint": cluster.id, "ignore_missing": true,
        "DATA": [{"DATA_TYPE": "delete_item", "path": "/~/nothing"}]}),
        )
        .await,
    ));
    ours.push(("transfer.task_list", get(v010("task_list"), ttok.clone()).await));
    ours.push(("transfer.cancel_task", post_json(v010(&format!("task/{task}/cancel")), Value::Null).await));
    ours.push((
        "transfer.operation_mkdir",
        post_json(
            v010(&format!("operation/endpoint/{}/mkdir", cluster.id)),
            serde_json::json!({"DATA_TYPE": "mkdir", "path": "/~/new"}),
        )
        .await,
    ));
    ours.push((
        "transfer.operation_rename",
        post_json(
            v010(&format!("operation/endpoint/{}/rename", cluster.id)),
            serde_json::json!({"DATA_TYPE": "rename", "old_path": "/~/new", "new_path": "/~/newer"}),
        )
        .await,
    ));
    ours.push((
        "transfer.operation_stat",
        get(v010(&format!("operation/endpoint/{}/stat?path=/~/d/f.txt", cluster.id)), ttok.clone()).await,
    ));
    ours.push((
        "transfer.endpoint_manager_task_list",
        get(v010(&format!("endpoint_manager/task_list?filter_endpoint={}", cluster.id)), ttok.clone()).await,
    ));
    ours.push((
        "transfer.endpoint_manager_task_successful_transfers",
        get(v010(&format!("endpoint_manager/task/{task}/successful_transfers")), ttok.clone()).await,
    ));
    ours.push(("auth.get_consents", get(format!("{}/v2/api/identities/{alice}/consents", g.url), atok.clone()).await));
    ours.push((
        "auth.get_identity_providers",
        get(format!("{}/v2/api/identity_providers?domains=uni.edu", g.url), atok.clone()).await,
    ));
    use crate::harness::answer;
    let made = answer(
        c.post(format!("{}/v2/groups", g.url))
            .bearer_auth(&gtok)
            .json(&serde_json::json!({"name": "Fixture group", "description": "d"})),
    )
    .await;
    let made_id = made["id"].as_str().unwrap().to_string();
    ours.push(("groups.create_group", made));
    let policies = serde_json::json!({"is_high_assurance": false, "group_visibility": "private",
        "group_members_visibility": "managers", "join_requests": false, "signup_fields": ["address1"],
        "authentication_assurance_timeout": 28800});
    let url = format!("{}/v2/groups/{made_id}", g.url);
    let put = answer(c.put(format!("{url}/policies")).bearer_auth(&gtok).json(&policies)).await;
    ours.push(("groups.set_group_policies", put));
    let del = answer(c.delete(&url).bearer_auth(&gtok)).await;
    ours.push(("groups.delete_group", del));
    let mut report = vec![];
    for (name, v) in &ours {
        let mut miss = vec![];
        let mut gold = golden(name);
        if *name == "auth.create_native_app_instance" {
            // The SDK's fixture nests the real answer under an extra "client" key.
            gold = gold["client"].clone();
        }
        missing_keys(&gold, v, "", &mut miss);
        if !miss.is_empty() {
            report.push(format!("{name}: missing {miss:?}\n  ours: {v}"));
        }
    }
    assert!(report.is_empty(), "shapes differ from the SDK's fixtures:\n{}", report.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_collection_shares_one_directory() {
    let g = GlobusServer::start().await;
    let cluster = g.config.endpoints[0].clone();
    let guest = g.config.endpoints.iter().find(|e| e.host_endpoint.is_some()).unwrap().clone();
    assert_eq!(guest.root, cluster.root.join("shared"));
    std::fs::write(cluster.root.join("shared/result.csv"), "a,b\n").unwrap();
    std::fs::write(cluster.root.join("private.txt"), "secret").unwrap();
    let home = tempfile::tempdir().unwrap();
    globus_login(&g, home.path(), "alice@uni.edu", "alice-pass").await;
    let (code, out) = globus(&g, home.path(), &["endpoint", "search", "--filter-scope", "shared-by-me"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&guest.id) && !out.contains(&cluster.id), "{out}");
    let (code, out) =
        globus(&g, home.path(), &["api", "transfer", "GET", &format!("/v0.10/endpoint/{}", guest.id)]).await;
    assert_eq!(code, 0, "{out}");
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (doc["entity_type"].as_str(), doc["host_endpoint_id"].as_str(), doc["host_path"].as_str()),
        (Some("GCP_guest_collection"), Some(cluster.id.as_str()), Some("/shared/"))
    );
    let (code, out) = globus(&g, home.path(), &["ls", &format!("{}:/~/", guest.id)]).await;
    assert_eq!((code, out.trim()), (0, "result.csv"));
    let (code, _) = globus(&g, home.path(), &["ls", &format!("{}:/~/../", guest.id)]).await;
    assert_ne!(code, 0, "the guest collection's root is the shared directory");
    // Shared with bob, read-only: he sees the guest collection, not the rest of the host.
    let (code, out) = globus(
        &g,
        home.path(),
        &[
            "endpoint",
            "permission",
            "create",
            &format!("{}:/", guest.id),
            "--permissions",
            "r",
            "--identity",
            "bob@uni.edu",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let bob = tempfile::tempdir().unwrap();
    globus_login(&g, bob.path(), "bob@uni.edu", "bob-pass").await;
    let (code, out) = globus(&g, bob.path(), &["ls", &format!("{}:/~/", guest.id)]).await;
    assert_eq!((code, out.trim()), (0, "result.csv"));
    let (code, _) = globus(&g, bob.path(), &["ls", &format!("{}:/~/shared/", cluster.id)]).await;
    assert_ne!(code, 0, "a rule on the guest collection gives nothing on its host");
    let (code, out) = globus(&g, bob.path(), &["endpoint", "search", "--filter-scope", "shared-with-me"]).await;
    assert!(code == 0 && out.contains(&guest.id) && !out.contains(&cluster.id), "{out}");
}

/// `gantry globus-local` as its own process, killed with SIGKILL in the middle of a
/// transfer and started again: the task finishes, the bytes are identical, and no
/// temporary file is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_transfer_then_resume() {
    use crate::process::GlobusProcess;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("g");
    let g = GlobusProcess::start(&data, None).await;
    let url = g.url.clone();
    let cluster = g.config.endpoints[0].clone();
    std::fs::create_dir_all(cluster.root.join("src")).unwrap();
    let mut expected = vec![];
    for i in 0..100u32 {
        let mut chunk = vec![i as u8; 8 << 20];
        chunk[..4].copy_from_slice(&i.to_le_bytes());
        std::fs::write(cluster.root.join(format!("src/f{i:03}.bin")), &chunk).unwrap();
        expected.push(crate::harness::sha256(&chunk));
    }
    // A token for alice through a client made from the CLI's template.
    let c = crate::harness::http();
    let inst: Value = c
        .post(format!("{url}/v2/api/clients"))
        .json(
            &serde_json::json!({"client": {"template_id": gantry_globus_local::scopes::CLI_TEMPLATE_ID, "name": "t"}}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (cid, secret) = (
        inst["included"]["client_credential"]["client"].as_str().unwrap().to_string(),
        inst["included"]["client_credential"]["secret"].as_str().unwrap().to_string(),
    );
    let redirect = format!("{url}/v2/web/auth-code");
    let tokens = code_flow(
        &url,
        &cid,
        &secret,
        &redirect,
        "alice@uni.edu",
        "alice-pass",
        "urn:globus:auth:scope:transfer.api.globus.org:all",
    )
    .await;
    let tok = tokens["access_token"].as_str().unwrap().to_string();
    let body = serde_json::json!({"DATA_TYPE": "transfer", "source_endpoint": cluster.id, "destination_endpoint": cluster.id,
        "verify_checksum": true, "DATA": [{"DATA_TYPE": "transfer_item", "source_path": "/~/src/", "destination_path": "/~/dst/", "recursive": true}]});
    let r: Value = c
        .post(format!("{url}/v0.10/transfer"))
        .bearer_auth(&tok)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = r["task_id"].as_str().unwrap().to_string();
    // Kill it once some files are done and the task is still running.
    let mut caught = false;
    for _ in 0..2000 {
        let t: Value =
            c.get(format!("{url}/v0.10/task/{task}")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
        if t["status"] != "ACTIVE" {
            break;
        }
        if t["files_transferred"].as_u64().unwrap_or(0) >= 2 {
            caught = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(caught, "the task finished before it could be interrupted; make the data larger");
    g.sigkill().await;
    let g2 = GlobusProcess::start(&data, None).await;
    let url2 = g2.url.clone();
    let mut status = Value::Null;
    for _ in 0..1200 {
        status =
            c.get(format!("{url2}/v0.10/task/{task}")).bearer_auth(&tok).send().await.unwrap().json().await.unwrap();
        if status["status"] != "ACTIVE" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "SUCCEEDED", "{status}");
    for (i, want) in expected.iter().enumerate() {
        let got = std::fs::read(cluster.root.join(format!("dst/f{i:03}.bin"))).unwrap();
        assert_eq!(&crate::harness::sha256(&got), want, "file {i}");
    }
    let leftovers: Vec<_> = std::fs::read_dir(cluster.root.join("dst"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files stay behind");
}
