//! `gantry login` without pasting tokens: the device flow approved in a browser, and
//! Globus's native-app flow with a token for Gantry that is refreshed when it runs out.

use crate::cli::Cli;
use crate::globus::NATIVE;
use crate::harness::{Backend, Browser, TestServer, hidden, http};
use crate::resource_server::{globus, rs_config};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

crate::both_backends!(device_login_from_the_cli, globus_login_from_the_cli);

/// A browser signed in to Gantry with a local password.
async fn signed_in(s: &TestServer, user: &str, password: &str) -> Browser {
    let hash = gantry_app::identity::passwords::hash_password(password).unwrap();
    s.state.store().create_user(user, Some(&hash), false).await.unwrap();
    let mut b = Browser::new();
    let (_, page, _) = b.get(&format!("{}/login", s.url)).await;
    let csrf = hidden(&page, "csrf");
    let (st, _, _) = b
        .post(
            &format!("{}/login", s.url),
            &[("username", user), ("password", password), ("csrf", &csrf), ("next", "/")],
        )
        .await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    b
}

/// Starts `gantry ARGS`, reads its standard error until a line contains `marker`.
pub(crate) async fn spawn_until(cli: &Cli, args: &[&str], marker: &str) -> (tokio::process::Child, String) {
    let mut cmd = cli.cmd();
    cmd.args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    crate::process::spawn_until(cmd, marker).await
}

async fn device_login_from_the_cli(b: Backend) {
    let s = TestServer::start(b).await;
    let mut browser = signed_in(&s, "erin", "erin-password").await;

    // Approved in the browser: the CLI receives a token and is logged in.
    let cli = Cli::new(&s.url);
    let (child, line) = spawn_until(&cli, &["login", &s.url], "/device?code=").await;
    let url = line.to_string();
    let code = url.split("code=").nth(1).unwrap().to_string();
    let (st, page, _) = browser.get(&url).await;
    assert_eq!(st, StatusCode::OK);
    assert!(page.contains(&code) && page.contains("gantry login"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (st, _, _) = browser
        .post(&format!("{}/device", s.url), &[("csrf", "forged"), ("user_code", &code), ("decision", "approve")])
        .await;
    assert_eq!(st, StatusCode::FORBIDDEN, "CSRF");
    let (st, page, _) = browser
        .post(&format!("{}/device", s.url), &[("csrf", &csrf), ("user_code", &code), ("decision", "approve")])
        .await;
    assert_eq!(st, StatusCode::OK, "{page}");
    assert!(page.contains("Approved"), "{page}");
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("as erin"));
    let ls = cli.ok(&["ls", "--json"]).await;
    assert!(serde_json::from_str::<Value>(&ls).is_ok(), "{ls}");
    // The code cannot be approved twice.
    let (st, _, _) = browser
        .post(&format!("{}/device", s.url), &[("csrf", &csrf), ("user_code", &code), ("decision", "approve")])
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    // Denied in the browser: the CLI says so and saves nothing.
    let cli2 = Cli::new(&s.url);
    let (child, line) = spawn_until(&cli2, &["login", &s.url], "/device?code=").await;
    let code = line.split("code=").nth(1).unwrap().to_lowercase(); // codes are case-insensitive
    let (st, _, _) = browser
        .post(&format!("{}/device", s.url), &[("csrf", &csrf), ("user_code", &code), ("decision", "deny")])
        .await;
    assert_eq!(st, StatusCode::OK);
    let out = child.wait_with_output().await.unwrap();
    assert!(!out.status.success());
    assert!(!cli2.path(".config/gantry/credentials.json").exists());

    // The API: a token is handed out once; polling too fast is slowed down; a signed-out
    // browser is sent to sign in first.
    let c = http();
    let d: Value = c
        .post(format!("{}/api/v1/device/authorize", s.url))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll = || async {
        let r = c
            .post(format!("{}/api/v1/device/token", s.url))
            .json(&json!({"device_code": d["device_code"]}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<Value>().await.unwrap())
    };
    assert_eq!(poll().await.1["error"], "authorization_pending");
    assert_eq!(poll().await.1["error"], "slow_down");
    let (_, page, _) = browser.get(&format!("{}/device?code={}", s.url, d["user_code"].as_str().unwrap())).await;
    let csrf = hidden(&page, "csrf");
    browser
        .post(
            &format!("{}/device", s.url),
            &[("csrf", &csrf), ("user_code", d["user_code"].as_str().unwrap()), ("decision", "approve")],
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let (st, v) = poll().await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v["token"].as_str().unwrap().starts_with("gnt_"));
    let (st, v) = poll().await;
    assert_eq!((st, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_grant")));
    let (st, _, loc) = Browser::new().get(&format!("{}/device?code=ABCD-EFGH", s.url)).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(loc.as_deref(), Some("/login?next=%2Fdevice%3Fcode%3DABCD%2DEFGH"));
}

async fn globus_login_from_the_cli(b: Backend) {
    let g = globus(|c| c.access_token_lifetime = Some(120)).await;
    let mut rs = rs_config(&g);
    rs.native_client_id = Some(g.client_id(NATIVE));
    let s = TestServer::start_with(b, |c| c.resource_server = Some(rs)).await;
    let cli = Cli::new(&s.url);
    let (mut child, line) = spawn_until(&cli, &["login", &s.url, "--globus"], "/v2/oauth2/authorize").await;
    assert!(line.contains("code_challenge_method=S256") && line.contains(&g.client_id(NATIVE)), "{line}");
    // The user signs in at Globus; the native-app page shows the code to paste.
    let mut browser = Browser::new();
    let (_, page, _) = browser.get(&line).await;
    let (req, csrf) = (hidden(&page, "request"), hidden(&page, "csrf"));
    let (_, page, _) = browser
        .post(
            &format!("{}/v2/web/login", g.url),
            &[("request", &req), ("csrf", &csrf), ("username", "carol@lab.gov"), ("password", "carol-pass")],
        )
        .await;
    assert!(page.contains("Allow"), "{page}");
    let (_, _, loc) = browser
        .post(&format!("{}/v2/web/consent", g.url), &[("request", &req), ("csrf", &csrf), ("decision", "allow")])
        .await;
    let code = loc.unwrap().split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    child.stdin.take().unwrap().write_all(format!("{code}\n").as_bytes()).await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    assert!(String::from_utf8_lossy(&out.stdout).contains("as carol@lab.gov"));
    let cred_path = cli.path(".config/gantry/credentials.json");
    let cred: Value = serde_json::from_str(&std::fs::read_to_string(&cred_path).unwrap()).unwrap();
    assert!(cred["globus"]["refresh_token"].is_string(), "{cred}");
    assert!(!cred["token"].as_str().unwrap().starts_with("gnt_"), "a Globus token, not an API token");
    cli.ok(&["ls"]).await;
    // When the access token has run out, the CLI refreshes it before the next call.
    let mut expired = cred.clone();
    expired["globus"]["expires_at"] = json!(0);
    std::fs::write(&cred_path, expired.to_string()).unwrap();
    cli.ok(&["ls"]).await;
    let after: Value = serde_json::from_str(&std::fs::read_to_string(&cred_path).unwrap()).unwrap();
    assert_ne!(after["token"], cred["token"], "a fresh access token");
    assert!(after["globus"]["expires_at"].as_i64().unwrap() > 0);
    // The refreshed token works for Gantry as a resource server.
    let r =
        http().get(format!("{}/api/v1/me", s.url)).bearer_auth(after["token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["username"], "carol@lab.gov");
}
