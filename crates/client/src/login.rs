//! Signing in the CLI: the device flow (approve a code in the browser, receive an API
//! token) and Globus's native-app flow with PKCE (a Globus token for Gantry's scope,
//! refreshed when it runs out).

use crate::Client;
use crate::config::{Credentials, GlobusLogin};
use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_globus::TokenResponse;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn random(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("random source");
    URL_SAFE_NO_PAD.encode(b)
}

/// Runs the device flow: `show` is told the URL and the code to check; returns the API
/// token and the username once the user approved in the browser.
pub async fn device(c: &Client, client_name: &str, show: impl Fn(&str, &str)) -> anyhow::Result<(String, String)> {
    let r = c
        .send(
            c.req(Method::POST, "/api/v1/device/authorize").json(&json!({"client_name": client_name})),
            "start sign-in",
        )
        .await?;
    let d: Value = r.json().await?;
    let device_code = d["device_code"].as_str().context("the server sent no device code")?.to_string();
    let uri = d["verification_uri_complete"].as_str().or(d["verification_uri"].as_str()).unwrap_or_default();
    show(uri, d["user_code"].as_str().unwrap_or_default());
    let mut interval = d["interval"].as_u64().unwrap_or(2).max(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(d["expires_in"].as_u64().unwrap_or(600));
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        if std::time::Instant::now() > deadline {
            bail!("the code expired before it was approved; run gantry login again");
        }
        let r = c
            .req(Method::POST, "/api/v1/device/token")
            .json(&json!({"device_code": device_code}))
            .send()
            .await
            .map_err(|e| anyhow!("cannot reach {}: {e}", c.base))?;
        let ok = r.status().is_success();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if ok {
            let token = v["token"].as_str().context("the server sent no token")?.to_string();
            return Ok((token, v["username"].as_str().unwrap_or_default().to_string()));
        }
        match v["error"].as_str().unwrap_or("") {
            "authorization_pending" => {}
            "slow_down" => interval += 1,
            _ => bail!("sign-in failed: {}", v["error_description"].as_str().unwrap_or("the server refused it")),
        }
    }
}

/// What the server says about signing in with Globus.
pub struct GlobusInfo {
    pub auth_url: String,
    pub client_id: String,
    pub scope: String,
    pub resource_server: String,
}

pub async fn globus_info(c: &Client) -> anyhow::Result<GlobusInfo> {
    let v = c.get_json("/api/v1/auth", "ask how to sign in").await?;
    let g = &v["globus"];
    let s = |k: &str| g[k].as_str().unwrap_or_default().to_string();
    if g.is_null() || s("native_client_id").is_empty() {
        bail!("{} does not take Globus sign-ins from the command line; use `gantry login {}`", c.base, c.base);
    }
    Ok(GlobusInfo {
        auth_url: s("auth_url"),
        client_id: s("native_client_id"),
        scope: s("scope"),
        resource_server: s("resource_server"),
    })
}

/// The authorize URL to open and the PKCE verifier to keep.
pub fn globus_authorize_url(g: &GlobusInfo) -> anyhow::Result<(String, String)> {
    let verifier = random(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let redirect = format!("{}/v2/web/auth-code", g.auth_url);
    let url = reqwest::Url::parse_with_params(
        &format!("{}/v2/oauth2/authorize", g.auth_url),
        [
            ("client_id", g.client_id.as_str()),
            ("redirect_uri", &redirect),
            ("scope", &g.scope),
            ("response_type", "code"),
            ("state", &random(16)),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("access_type", "offline"),
            ("prompt", "login"),
        ],
    )?;
    Ok((url.to_string(), verifier))
}

/// A grant at Globus Auth's token endpoint by a native app (no secret), with the
/// retries of the Globus client.
async fn token_request(auth_url: &str, form: &[(&str, &str)]) -> anyhow::Result<TokenResponse> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().connect_timeout(std::time::Duration::from_secs(15)).build()?;
    gantry_globus::Globus::new(http, auth_url, auth_url).token(gantry_globus::Cred::None, form).await.map_err(|e| {
        match e {
            gantry_globus::Error::Unreachable(why) => anyhow!("cannot reach Globus Auth at {auth_url}: {why}"),
            e => anyhow!("Globus Auth refused: {e}"),
        }
    })
}

/// Trades the code the user pasted for a Globus token for Gantry.
pub async fn globus_exchange(g: &GlobusInfo, code: &str, verifier: &str) -> anyhow::Result<(String, GlobusLogin)> {
    let redirect = format!("{}/v2/web/auth-code", g.auth_url);
    let v = token_request(
        &g.auth_url,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect),
            ("client_id", &g.client_id),
            ("code_verifier", verifier),
        ],
    )
    .await?;
    let t = v.for_server(&g.resource_server).context("Globus Auth sent no token for Gantry")?;
    anyhow::ensure!(!t.access_token.is_empty(), "no access token");
    Ok((
        t.access_token.clone(),
        GlobusLogin {
            auth_url: g.auth_url.clone(),
            client_id: g.client_id.clone(),
            refresh_token: t.refresh_token.clone(),
            expires_at: now() + t.expires_in.unwrap_or(0),
        },
    ))
}

/// Refreshes a saved Globus login whose access token has (almost) run out; returns
/// whether it changed.
pub async fn refresh_if_needed(c: &mut Credentials) -> anyhow::Result<bool> {
    let Some(g) = &c.globus else { return Ok(false) };
    if g.expires_at > now() + 60 {
        return Ok(false);
    }
    let refresh = g.refresh_token.clone().context("the Globus login has expired; run gantry login --globus again")?;
    let v = token_request(
        &g.auth_url,
        &[("grant_type", "refresh_token"), ("refresh_token", &refresh), ("client_id", &g.client_id)],
    )
    .await
    .context("refreshing the Globus login failed; run gantry login --globus again")?;
    anyhow::ensure!(!v.access_token.is_empty(), "no access token");
    let expires_at = now() + v.expires_in.unwrap_or(0);
    let new_refresh = v.refresh_token.unwrap_or(refresh);
    c.token = v.access_token;
    c.globus = Some(GlobusLogin { refresh_token: Some(new_refresh), expires_at, ..g.clone() });
    Ok(true)
}
