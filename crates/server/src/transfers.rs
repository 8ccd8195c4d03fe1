//! Sending images to Globus endpoints.
//!
//! - Users connect their Globus account (`/globus/connect`); the tokens are kept
//!   encrypted and refreshed by Gantry.
//! - Gantry's storage is a Globus collection whose root is `<data_dir>/exports`. For each
//!   transfer, the image's blobs are hard-linked under `exports/<export id>/` with the
//!   names they arrive with, and a read rule on that one directory is given to the
//!   user's identity. When the task ends, however it ends, the rule and the links go.
//!   Public images are exposed the same way: there is no standing rule, only rules for
//!   the identity of a transfer under way.
//! - Each transfer is a persisted job: its submission id is stored before submitting,
//!   so a retry (or a restart) can never start a second task; a follower polls the task
//!   with backoff and cleans up at the end; at start-up a reconciler removes rules and
//!   exports that no unfinished transfer owns.

use crate::api::{ApiError, Caller};
use crate::config::{ProviderConfig, ProviderKind, TransferConfig};
use crate::oidc::{Oidc, pkce_pair};
use crate::session::{BROWSER_COOKIE, LOGIN_FLOW_SECS};
use crate::state::AppState;
use crate::web::{WebError, safe_next};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{Access, Error, ErrorKind, ImageRef, Principal, RefTarget, Result, time};
use gantry_globus::{Globus, token_for};
use gantry_store::{GlobusLink, LoginFlow, TransferRow};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;

pub const TRANSFER_SCOPE: &str = "urn:globus:auth:scope:transfer.api.globus.org:all";
const TRANSFER_RS: &str = "transfer.api.globus.org";
const CONNECT: &str = "globus-connect";

/// The transfer service: configuration, the Globus client and Gantry's own token.
pub struct Transfers {
    pub cfg: TransferConfig,
    pub globus: Globus,
    oidc: Oidc,
    manager: tokio::sync::Mutex<Option<(String, i64)>>,
    pub exports: PathBuf,
}

fn from_globus(e: gantry_globus::Error) -> Error {
    if let gantry_globus::Error::Api { code, required_scopes, .. } = &e
        && code == "ConsentRequired"
        && !required_scopes.is_empty()
    {
        let q: Vec<String> = required_scopes.iter().map(|s| format!("scope={}", gantry_globus::urlencode(s))).collect();
        return Error::denied(format!(
            "Globus needs your consent to use that collection: open /globus/connect?{} on this server \
             (or run gantry globus connect --scope '{}')",
            q.join("&"),
            required_scopes.join(" ")
        ));
    }
    if let gantry_globus::Error::Api { authorization_parameters: Some(params), .. } = &e {
        // A collection's policy wants a fresher or different sign-in: say so, and how.
        let why = params["session_message"]
            .as_str()
            .unwrap_or("This collection requires a recent sign-in that meets its policy")
            .trim_end_matches('.')
            .to_string();
        let link = reauth_link(params);
        return Error::reauthenticate(format!("{why}. Sign in again with Globus: {link}"), params.clone());
    }
    if e.needs_reconnect() {
        return Error::denied(format!(
            "Globus refused your connection ({}): reconnect Globus (gantry globus connect, or /globus/connect)",
            e.code()
        ));
    }
    match e.status() {
        Some(404) => Error::not_found(format!("Globus: {e}")),
        Some(s) if (400..500).contains(&s) => Error::invalid(format!("Globus: {e}")),
        _ => Error::new(ErrorKind::Unavailable, format!("Globus is not answering properly: {e}")),
    }
}

impl Transfers {
    pub fn new(cfg: TransferConfig, http: reqwest::Client, data_dir: &std::path::Path) -> anyhow::Result<Transfers> {
        let exports = data_dir.join("exports");
        std::fs::create_dir_all(&exports)?;
        let oidc = Oidc::new(
            ProviderConfig {
                id: CONNECT.into(),
                kind: ProviderKind::Globus,
                display_name: "Globus".into(),
                issuer: Some(cfg.auth_url.clone()),
                client_id: Some(cfg.client_id.clone()),
                client_secret: cfg.client_secret.clone(),
                client_secret_file: None,
                scopes: std::iter::once(TRANSFER_SCOPE.to_string()).chain(cfg.extra_scopes.iter().cloned()).collect(),
                groups_url: None,
                url: None,
            },
            http.clone(),
        );
        let globus = Globus::new(http, &cfg.auth_url, &cfg.transfer_url);
        Ok(Transfers { cfg, globus, oidc, manager: tokio::sync::Mutex::new(None), exports })
    }

    fn secret(&self) -> &str {
        self.cfg.client_secret.as_deref().unwrap_or_default()
    }

    /// Gantry's own Transfer token (client credentials), for the storage collection's rules.
    async fn manager_token(&self) -> Result<String> {
        let mut m = self.manager.lock().await;
        if let Some((t, exp)) = m.as_ref()
            && *exp > time::now_unix() + 60
        {
            return Ok(t.clone());
        }
        let v =
            self.globus.client_credentials(&self.cfg.client_id, self.secret(), TRANSFER_SCOPE).await.map_err(|e| {
                Error::new(
                    ErrorKind::Unavailable,
                    format!("Gantry's own Globus client cannot get a Transfer token: {e}"),
                )
            })?;
        let t = token_for(&v, TRANSFER_RS)
            .and_then(|t| t["access_token"].as_str())
            .ok_or_else(|| Error::new(ErrorKind::Unavailable, "Globus sent Gantry no Transfer token"))?
            .to_string();
        let exp = time::now_unix() + v["expires_in"].as_i64().unwrap_or(3600);
        *m = Some((t.clone(), exp));
        Ok(t)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/globus/connect", get(connect))
        .route("/globus/callback", get(callback))
        .route("/api/v1/globus", get(status).delete(disconnect))
        .route("/api/v1/globus/endpoints", get(search))
        .route("/api/v1/globus/endpoints/{id}", get(endpoint))
        .route("/api/v1/globus/endpoints/{id}/ls", get(ls))
        .route("/api/v1/globus/endpoints/{id}/mkdir", post(mkdir))
        .route("/api/v1/transfers", get(list).post(create))
        .route("/api/v1/transfers/{id}", get(show))
        .route("/api/v1/transfers/{id}/cancel", post(cancel))
}

fn service(st: &AppState) -> Result<&Arc<Transfers>> {
    st.transfers
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::Unsupported, "this server is not set up for Globus transfers"))
}

// ---------- connecting a Globus account ----------

#[derive(Deserialize)]
struct ConnectQuery {
    next: Option<String>,
    /// Transfer scopes with `data_access` dependencies Globus asked consent for.
    scope: Vec<String>,
    /// What a collection's policy asks of the sign-in (from its GARE).
    policy: Vec<String>,
    domain: Vec<String>,
    message: Option<String>,
}

/// `next=…&scope=…&scope=…` (repeated keys) into the connect parameters.
fn parse_query(q: &str) -> ConnectQuery {
    let mut out = ConnectQuery { next: None, scope: vec![], policy: vec![], domain: vec![], message: None };
    for pair in q.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_encoding::percent_decode_str(&v.replace('+', " ")).decode_utf8_lossy().into_owned();
        match k {
            "next" => out.next = Some(v),
            "scope" => out.scope.push(v),
            "policy" => out.policy.push(v),
            "domain" => out.domain.push(v),
            "message" => out.message = Some(v.chars().take(300).collect()),
            _ => {}
        }
    }
    out
}

/// `/globus/connect?…` asking Globus for the sign-in that `params` (a GARE's
/// authorization parameters) require.
pub fn reauth_link(params: &Value) -> String {
    let list = |k: &str| -> Vec<String> {
        match &params[k] {
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            Value::String(s) => s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect(),
            _ => vec![],
        }
    };
    let mut q: Vec<String> = vec![];
    for p in list("session_required_policies") {
        q.push(format!("policy={}", gantry_globus::urlencode(&p)));
    }
    for d in list("session_required_single_domain") {
        q.push(format!("domain={}", gantry_globus::urlencode(&d)));
    }
    if let Some(m) = params["session_message"].as_str() {
        q.push(format!("message={}", gantry_globus::urlencode(m)));
    }
    format!("/globus/connect?{}", q.join("&"))
}

/// A Transfer scope whose only dependencies are collections' `data_access` scopes.
fn consent_scope_ok(s: &str) -> bool {
    let Some(deps) = s.strip_prefix(&format!("{TRANSFER_SCOPE}[")).and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    deps.split_whitespace().all(|d| {
        let d = d.strip_prefix('*').unwrap_or(d);
        d.strip_prefix("https://auth.globus.org/scopes/")
            .and_then(|r| r.strip_suffix("/data_access"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    })
}

/// The `data_access` consents a connection holds already (kept when reconnecting).
fn held_consents(tokens: &Value) -> Vec<String> {
    let scope = token_for(tokens, TRANSFER_RS).and_then(|t| t["scope"].as_str()).unwrap_or("");
    let mut out = vec![];
    for part in scope.split(['[', ']', ' ']) {
        let id = part.strip_prefix('*').unwrap_or(part);
        if id.starts_with("https://auth.globus.org/scopes/") && id.ends_with("/data_access") {
            let s = format!("{TRANSFER_SCOPE}[*{id}]");
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

/// Starts the consent for Transfer at Globus, for the signed-in user.
async fn connect(
    State(st): State<AppState>,
    headers: HeaderMap,
    raw: axum::extract::RawQuery,
) -> std::result::Result<Response, WebError> {
    let t = service(&st)?;
    let q = parse_query(raw.0.as_deref().unwrap_or(""));
    let Some(session) = st.web_session(&headers).await? else {
        let here = match raw.0.as_deref() {
            Some(q) if !q.is_empty() => format!("/globus/connect?{q}"),
            _ => "/globus/connect".into(),
        };
        let next = percent_encoding::utf8_percent_encode(&here, percent_encoding::NON_ALPHANUMERIC);
        return Ok(Redirect::to(&format!("/login?next={next}")).into_response());
    };
    if let Some(bad) = q.scope.iter().find(|s| !consent_scope_ok(s)) {
        return Err(Error::invalid(format!("{bad:?} is not a Transfer scope with data_access consents")).into());
    }
    let mut more = q.scope.clone();
    if let Some(link) = st.store.globus_link(session.row.user.id).await?
        && let Ok(tokens) = st.open_sealed(session.row.user.id, &link.tokens)
    {
        for s in held_consents(&tokens) {
            if !more.contains(&s) {
                more.push(s);
            }
        }
    }
    let meta = t.oidc.metadata(false).await?;
    let (browser, fresh) = st.browser_id(&headers);
    let state = crate::auth::random_token(32);
    let nonce = crate::auth::random_token(16);
    let (verifier, challenge) = pkce_pair();
    st.store
        .put_login_flow(
            &crate::auth::hash_token(&state),
            &LoginFlow {
                browser_hash: crate::auth::hash_token(&browser),
                provider: CONNECT.into(),
                nonce: nonce.clone(),
                verifier,
                return_to: safe_next(q.next.as_deref()),
                created_at: time::now_unix(),
            },
        )
        .await?;
    // A policy's demands go to Globus, which asks the user to sign in accordingly.
    let (policies, domains) = (q.policy.join(","), q.domain.join(","));
    let mut session_params: Vec<(&str, &str)> = vec![];
    if !policies.is_empty() {
        session_params.push(("session_required_policies", &policies));
    }
    if !domains.is_empty() {
        session_params.push(("session_required_single_domain", &domains));
    }
    if let Some(m) = &q.message {
        session_params.push(("session_message", m));
    }
    if !session_params.is_empty() {
        session_params.push(("prompt", "login"));
    }
    let redirect = format!("{}/globus/callback", st.public_url);
    let url = t.oidc.authorize_url(
        &meta,
        &crate::oidc::AuthRequest { redirect_uri: &redirect, state: &state, nonce: &nonce, challenge: &challenge },
        &session_params,
        &more,
    )?;
    let mut r = Redirect::to(&url).into_response();
    if fresh {
        r.headers_mut().append(header::SET_COOKIE, st.set_cookie(BROWSER_COOKIE, &browser, 24 * 3600));
    }
    Ok(r)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

async fn callback(
    State(st): State<AppState>,
    headers: HeaderMap,
    q: Query<CallbackQuery>,
) -> std::result::Result<Response, WebError> {
    let t = service(&st)?;
    let session = st.web_session(&headers).await?.ok_or_else(|| Error::unauthorized("sign in to Gantry first"))?;
    let again = "start again with Connect Globus";
    let state = q.state.as_deref().ok_or_else(|| Error::invalid(format!("Globus sent no state; {again}")))?;
    let flow = st
        .store
        .take_login_flow(&crate::auth::hash_token(state))
        .await?
        .filter(|f| f.provider == CONNECT)
        .ok_or_else(|| Error::invalid(format!("this link was already used or has expired; {again}")))?;
    if let Some(e) = &q.error {
        return Err(Error::denied(format!("Globus did not connect: {e}")).into());
    }
    let browser = crate::session::cookie(&headers, &st.cookie_name(BROWSER_COOKIE)).unwrap_or_default();
    if !crate::session::same_secret(&crate::auth::hash_token(&browser), &flow.browser_hash)
        || flow.created_at + LOGIN_FLOW_SECS < time::now_unix()
    {
        return Err(Error::denied(format!("this connection was started elsewhere or too long ago; {again}")).into());
    }
    let meta = t.oidc.metadata(false).await?;
    let code = q.code.as_deref().ok_or_else(|| Error::invalid("Globus sent no code"))?;
    let tokens = t.oidc.exchange(&meta, code, &format!("{}/globus/callback", st.public_url), &flow.verifier).await?;
    let claims = t
        .oidc
        .verify_id_token(
            tokens["id_token"].as_str().ok_or_else(|| Error::unauthorized("Globus sent no ID token"))?,
            &flow.nonce,
        )
        .await?;
    let transfer = token_for(&tokens, TRANSFER_RS).ok_or_else(|| Error::denied("Globus granted no Transfer access"))?;
    let now = time::now_unix();
    st.store
        .put_globus_link(&GlobusLink {
            user_id: session.row.user.id,
            identity_id: claims.get("sub").and_then(Value::as_str).unwrap_or_default().into(),
            username: claims.get("preferred_username").and_then(Value::as_str).unwrap_or_default().into(),
            tokens: st.seal(session.row.user.id, &tokens)?,
            expires_at: now + transfer["expires_in"].as_i64().unwrap_or(0),
            status: "ok".into(),
            last_error: None,
            connected_at: now,
            refreshed_at: now,
        })
        .await?;
    Ok(Redirect::to(&flow.return_to).into_response())
}

impl AppState {
    /// The user's Globus identity and a live Transfer token, refreshed if needed.
    pub async fn user_transfer_token(&self, user_id: i64) -> Result<(String, String)> {
        let t = service(self)?;
        let link = self.store.globus_link(user_id).await?.ok_or_else(|| {
            Error::denied("connect your Globus account first (gantry globus connect, or /globus/connect)")
        })?;
        let mut tokens = self.open_sealed(user_id, &link.tokens)?;
        let now = time::now_unix();
        let current = token_for(&tokens, TRANSFER_RS).cloned().unwrap_or(Value::Null);
        if link.expires_at > now + 60
            && let Some(a) = current["access_token"].as_str()
        {
            return Ok((link.identity_id, a.to_string()));
        }
        let Some(refresh) = current["refresh_token"].as_str() else {
            self.store.set_globus_status(user_id, "reconnect", Some("the Globus token expired")).await?;
            return Err(Error::denied("your Globus connection expired: reconnect Globus"));
        };
        let fresh = match t.globus.refresh(&t.cfg.client_id, Some(t.secret()), refresh).await {
            Ok(v) => v,
            Err(e) if e.needs_reconnect() || e.status() == Some(400) => {
                self.store.set_globus_status(user_id, "reconnect", Some(&e.to_string())).await?;
                return Err(Error::denied("Globus no longer accepts your connection: reconnect Globus"));
            }
            Err(e) => return Err(from_globus(e)),
        };
        let new = token_for(&fresh, TRANSFER_RS).cloned().unwrap_or(fresh.clone());
        let access = new["access_token"].as_str().ok_or_else(|| Error::internal("refresh gave no token"))?.to_string();
        // Keep the refresh token if Globus did not rotate it.
        let mut kept = new.clone();
        if kept["refresh_token"].is_null() {
            kept["refresh_token"] = json!(refresh);
        }
        kept["resource_server"] = json!(TRANSFER_RS);
        tokens = json!({"resource_server": TRANSFER_RS, "access_token": access, "refresh_token": kept["refresh_token"],
            "expires_in": kept["expires_in"], "other_tokens": []});
        let link = GlobusLink {
            tokens: self.seal(user_id, &tokens)?,
            expires_at: now + new["expires_in"].as_i64().unwrap_or(0),
            status: "ok".into(),
            last_error: None,
            refreshed_at: now,
            ..link
        };
        self.store.put_globus_link(&link).await?;
        Ok((link.identity_id, access))
    }
}

async fn status(State(st): State<AppState>, caller: Caller) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    service(&st)?;
    let connect_url = format!("{}/globus/connect", st.public_url);
    Ok(Json(match st.store.globus_link(p.user_id).await? {
        None => json!({"connected": false, "connect_url": connect_url}),
        Some(l) => {
            // A connection is healthy if a Transfer token can be had now.
            let healthy = st.user_transfer_token(p.user_id).await.is_ok();
            let l = st.store.globus_link(p.user_id).await?.unwrap_or(l);
            json!({"connected": true, "healthy": healthy, "status": l.status, "identity_id": l.identity_id,
                   "username": l.username, "connected_at": time::rfc3339(l.connected_at),
                   "expires_at": time::rfc3339(l.expires_at), "last_error": l.last_error, "connect_url": connect_url})
        }
    }))
}

/// Disconnects: the tokens are revoked at Globus and forgotten.
async fn disconnect(State(st): State<AppState>, caller: Caller) -> std::result::Result<StatusCode, ApiError> {
    let p = caller.require_write()?;
    st.disconnect_globus(p.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

impl AppState {
    /// Forgets a user's Globus connection after revoking its tokens at Globus.
    pub async fn disconnect_globus(&self, user_id: i64) -> Result<()> {
        let t = service(self)?;
        let Some(l) = self.store.delete_globus_link(user_id).await? else {
            return Err(Error::not_found("no Globus account is connected"));
        };
        if let Ok(tokens) = self.open_sealed(user_id, &l.tokens) {
            for v in gantry_globus::secrets_of(&tokens) {
                if let Err(e) = t.globus.revoke(&t.cfg.client_id, Some(t.secret()), v).await {
                    tracing::warn!("revoking a Globus token failed: {e}");
                }
            }
        }
        Ok(())
    }
}

// ---------- finding a destination ----------

#[derive(Deserialize)]
struct SearchQuery {
    q: Option<String>,
    scope: Option<String>,
    limit: Option<u32>,
}

pub const SEARCH_SCOPES: &[&str] = &[
    "all",
    "my-endpoints",
    "my-gcp-endpoints",
    "recently-used",
    "in-use",
    "shared-by-me",
    "shared-with-me",
    "administered-by-me",
];

impl AppState {
    /// Endpoint search with the user's own Transfer token.
    pub async fn endpoint_search(&self, user_id: i64, q: Option<&str>, scope: &str, limit: u32) -> Result<Vec<Value>> {
        let t = service(self)?;
        if !SEARCH_SCOPES.contains(&scope) {
            return Err(Error::invalid(format!("unknown scope {scope:?}: use one of {}", SEARCH_SCOPES.join(", "))));
        }
        let (_, token) = self.user_transfer_token(user_id).await?;
        let v = t.globus.endpoint_search(&token, q, Some(scope), limit.min(100)).await.map_err(from_globus)?;
        Ok(v["DATA"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                json!({"id": e["id"], "display_name": e["display_name"], "owner": e["owner_string"],
                       "description": e["description"], "entity_type": e["entity_type"]})
            })
            .collect())
    }

    /// A directory listing at an endpoint: `{path, entries: [{name, type, size, last_modified}]}`.
    pub async fn endpoint_ls(&self, user_id: i64, endpoint: &str, path: &str) -> Result<Value> {
        let t = service(self)?;
        let (_, token) = self.user_transfer_token(user_id).await?;
        let v = t.globus.ls(&token, endpoint, path).await.map_err(from_globus)?;
        let entries: Vec<Value> = v["DATA"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| json!({"name": e["name"], "type": e["type"], "size": e["size"], "last_modified": e["last_modified"]}))
            .collect();
        Ok(json!({"path": v["path"], "entries": entries}))
    }

    pub async fn endpoint_mkdir(&self, user_id: i64, endpoint: &str, path: &str) -> Result<()> {
        let t = service(self)?;
        let (_, token) = self.user_transfer_token(user_id).await?;
        t.globus.mkdir(&token, endpoint, path).await.map_err(from_globus)?;
        Ok(())
    }
}

async fn search(
    State(st): State<AppState>,
    caller: Caller,
    q: Query<SearchQuery>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    let scope = q.scope.as_deref().unwrap_or("all");
    let eps = st.endpoint_search(p.user_id, q.q.as_deref(), scope, q.limit.unwrap_or(25)).await?;
    Ok(Json(json!({"endpoints": eps})))
}

async fn endpoint(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    let t = service(&st)?;
    let (_, token) = st.user_transfer_token(p.user_id).await?;
    Ok(Json(t.globus.endpoint(&token, &id).await.map_err(from_globus)?))
}

#[derive(Deserialize)]
struct PathQuery {
    path: Option<String>,
}

async fn ls(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: Query<PathQuery>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    Ok(Json(st.endpoint_ls(p.user_id, &id, q.path.as_deref().unwrap_or("/~/")).await?))
}

#[derive(Deserialize)]
struct MkdirBody {
    path: String,
}

async fn mkdir(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Json<MkdirBody>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require_write()?;
    st.endpoint_mkdir(p.user_id, &id, &body.path).await?;
    Ok(Json(json!({"path": body.path})))
}

// ---------- transfers ----------

#[derive(Deserialize)]
pub struct NewTransfer {
    #[serde(rename = "ref")]
    pub reference: String,
    pub endpoint_id: String,
    pub path: String,
    pub label: Option<String>,
    pub sync_level: Option<i64>,
}

/// What arrives at the destination: (path under the export, blob digest).
fn files_of(m: &Manifest, image: &ImageRef) -> Result<Vec<(String, gantry_domain::Digest)>> {
    let base = image.repo.basename().to_string();
    if m.is_sif() {
        let l = m
            .layers
            .iter()
            .find(|l| l.media_type == manifest::SIF_LAYER)
            .ok_or_else(|| Error::invalid("no SIF layer"))?;
        let name = match &image.target {
            RefTarget::Tag(t) => format!("{base}_{t}.sif"),
            RefTarget::Digest(d) => format!("{base}_{}.sif", &d.hex()[..12]),
        };
        return Ok(vec![(name, l.digest.clone())]);
    }
    if m.is_dataset() {
        let mut out = vec![];
        for l in &m.layers {
            let title = l.title().ok_or_else(|| Error::invalid("a dataset file has no title"))?;
            let safe = !title.is_empty()
                && !title.starts_with('/')
                && title.split('/').all(|c| !c.is_empty() && c != "." && c != "..");
            if !safe {
                return Err(Error::invalid(format!("dataset file name {title:?} is not a relative path")));
            }
            out.push((format!("{base}/{title}"), l.digest.clone()));
        }
        return Ok(out);
    }
    Err(Error::invalid("only SIF images and datasets can be sent with Globus; pull OCI images with oras or skopeo"))
}

async fn create(
    State(st): State<AppState>,
    caller: Caller,
    body: Json<NewTransfer>,
) -> std::result::Result<(StatusCode, Json<Value>), ApiError> {
    let p = caller.require_write()?.clone();
    let tr = st.start_transfer(&p, &body).await?;
    Ok((StatusCode::ACCEPTED, Json(transfer_doc(&st, &tr))))
}

impl AppState {
    /// Starts a transfer for `p` (who must be able to pull the image).
    pub async fn start_transfer(&self, p: &Principal, body: &NewTransfer) -> Result<TransferRow> {
        start(self, p, body).await
    }
}

async fn start(st: &AppState, p: &Principal, body: &NewTransfer) -> Result<TransferRow> {
    let p = p.clone();
    let t = service(st)?.clone();
    let image = ImageRef::parse(&body.reference)?;
    // Only those who may pull an image may send it.
    let ctx = st.repo(Some(&p), &image.repo, Access::Read).await?;
    let row = st.resolve(&ctx.repo, &image.target).await?;
    let m = Manifest::parse(&st.store.manifest_content(row.id).await?, Some(&row.media_type))?;
    let files = files_of(&m, &image)?;
    if !body.path.starts_with('/') {
        return Err(Error::invalid("path must be absolute at the endpoint, e.g. /~/images/"));
    }
    if body.sync_level.is_some_and(|l| !(0..=3).contains(&l)) {
        return Err(Error::invalid("sync_level is 0, 1, 2 or 3"));
    }
    if st.store.active_transfers(p.user_id).await? >= t.cfg.max_concurrent {
        return Err(Error::new(
            ErrorKind::TooManyRequests,
            format!(
                "you have {} transfers under way, the most this server allows; wait for one to end",
                t.cfg.max_concurrent
            ),
        ));
    }
    // The user's connection is checked before anything is prepared; the endpoint's
    // name is kept for display (a failure to get it is not an error).
    let (_, token) = st.user_transfer_token(p.user_id).await?;
    let endpoint_name = match t.globus.endpoint(&token, &body.endpoint_id).await {
        Ok(v) => v["display_name"].as_str().map(str::to_string),
        Err(e) if e.is_not_found() => {
            return Err(Error::not_found(format!("Globus knows no endpoint {}", body.endpoint_id)));
        }
        Err(_) => None,
    };
    let now = time::now_unix();
    let id = crate::auth::random_hex(16);
    let export_id = crate::auth::random_hex(16);
    export(st, &t, &export_id, &files)?;
    let size: i64 = m.layers.iter().map(|l| l.size).sum();
    let mut tr = TransferRow {
        id: id.clone(),
        user_id: p.user_id,
        image_ref: image.to_string(),
        digest: row.digest.clone(),
        endpoint_id: body.endpoint_id.clone(),
        endpoint_name,
        path: body.path.clone(),
        label: body.label.clone(),
        sync_level: body.sync_level,
        status: "PREPARING".into(),
        submission_id: None,
        task_id: None,
        rule_id: None,
        export_id,
        files: files.len() as i64,
        bytes_transferred: 0,
        bytes_total: size,
        rate: 0,
        faults: 0,
        nice_status: None,
        error: None,
        events: "[]".into(),
        cleaned: false,
        attempts: 0,
        // The follower leaves it to this request unless the request dies on the way.
        next_check_at: now + 120,
        created_at: now,
        updated_at: now,
        completed_at: None,
    };
    st.store.create_transfer(&tr).await?;
    // Submitting may fail half-way; the follower finishes what is left (idempotently).
    if let Err(e) = submit(st, &t, &mut tr).await {
        if e.kind == ErrorKind::Unavailable {
            tr.error = Some(e.message.clone());
            tr.attempts += 1;
            tr.next_check_at = time::now_unix() + 10;
            st.store.update_transfer(&tr).await?;
        } else {
            fail(st, &t, &mut tr, &e.message).await?;
            return Err(e);
        }
    }
    Ok(tr)
}

/// Links the image's blobs under `exports/<id>/` (a copy where links cannot be made).
fn export(st: &AppState, t: &Transfers, export_id: &str, files: &[(String, gantry_domain::Digest)]) -> Result<()> {
    let root = t.exports.join(export_id);
    for (rel, digest) in files {
        let src = st
            .blobs
            .local_path(digest)
            .ok_or_else(|| Error::new(ErrorKind::Unsupported, "Globus transfers need blobs on the local disk"))?;
        let dst = root.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap_or(&root)).map_err(|e| Error::internal(format!("export: {e}")))?;
        if std::fs::hard_link(&src, &dst).is_err() {
            std::fs::copy(&src, &dst).map_err(|e| Error::internal(format!("export {}: {e}", dst.display())))?;
        }
    }
    Ok(())
}

/// The Globus path of what a transfer sends, and whether it is a directory.
fn source(tr: &TransferRow, first: &str) -> (String, String, bool) {
    match first.split_once('/') {
        Some((dir, _)) => {
            (format!("/{}/{dir}/", tr.export_id), format!("{}/{dir}/", tr.path.trim_end_matches('/')), true)
        }
        None => (format!("/{}/{first}", tr.export_id), format!("{}/{first}", tr.path.trim_end_matches('/')), false),
    }
}

/// Gives the rule, gets a submission id (stored first) and submits. Safe to repeat.
async fn submit(st: &AppState, t: &Transfers, tr: &mut TransferRow) -> Result<()> {
    let (identity, token) = st.user_transfer_token(tr.user_id).await?;
    if tr.rule_id.is_none() {
        let manager = t.manager_token().await?;
        let rule = t
            .globus
            .add_identity_rule(&manager, &t.cfg.storage_collection, &identity, &format!("/{}/", tr.export_id), "r")
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Unavailable, format!("cannot give read access on Gantry's collection: {e}"))
            })?;
        tr.rule_id = Some(rule);
        st.store.update_transfer(tr).await?;
    }
    if tr.submission_id.is_none() {
        tr.submission_id = Some(t.globus.submission_id(&token).await.map_err(from_globus)?);
        st.store.update_transfer(tr).await?;
    }
    let first = std::fs::read_dir(t.exports.join(&tr.export_id))
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() { format!("{name}/") } else { name }
        })
        .ok_or_else(|| Error::internal("the export is empty"))?;
    let (src, dst, recursive) = source(tr, &first);
    let mut doc = json!({"DATA_TYPE": "transfer", "submission_id": tr.submission_id, "source_endpoint": t.cfg.storage_collection,
        "destination_endpoint": tr.endpoint_id, "verify_checksum": true, "label": tr.label.clone().unwrap_or_else(|| format!("Gantry: {}", tr.image_ref)),
        "DATA": [{"DATA_TYPE": "transfer_item", "source_path": src, "destination_path": dst, "recursive": recursive}]});
    if let Some(l) = tr.sync_level {
        doc["sync_level"] = json!(l);
    }
    let task = t.globus.submit_transfer(&token, &doc).await.map_err(from_globus)?;
    tr.task_id = Some(task);
    tr.status = "ACTIVE".into();
    tr.error = None;
    tr.next_check_at = time::now_unix() + t.cfg.poll_secs as i64;
    st.store.update_transfer(tr).await?;
    Ok(())
}

/// Ends a transfer that could not be submitted, and cleans up.
async fn fail(st: &AppState, t: &Transfers, tr: &mut TransferRow, why: &str) -> Result<()> {
    tr.status = "FAILED".into();
    tr.error = Some(why.to_string());
    tr.completed_at = Some(time::now_unix());
    st.store.update_transfer(tr).await?;
    cleanup(st, t, tr).await
}

/// Removes the rule and the export of a finished transfer.
async fn cleanup(st: &AppState, t: &Transfers, tr: &mut TransferRow) -> Result<()> {
    if let Some(rule) = &tr.rule_id {
        let manager = t.manager_token().await?;
        t.globus
            .delete_rule(&manager, &t.cfg.storage_collection, rule)
            .await
            .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot remove the access rule: {e}")))?;
    }
    let dir = t.exports.join(&tr.export_id);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(|e| Error::internal(format!("remove {}: {e}", dir.display())))?;
    }
    tr.cleaned = true;
    st.store.update_transfer(tr).await
}

/// With real Globus, the task's page in the Globus web app.
pub fn globus_task_url(st: &AppState, tr: &TransferRow) -> Option<String> {
    tr.task_id
        .as_ref()
        .filter(|_| st.transfers.as_ref().is_some_and(|t| t.cfg.transfer_url.contains("api.globus.org")))
        .map(|id| format!("https://app.globus.org/activity/{id}"))
}

fn transfer_doc(st: &AppState, tr: &TransferRow) -> Value {
    let web = globus_task_url(st, tr);
    json!({"id": tr.id, "ref": tr.image_ref, "digest": tr.digest, "endpoint_id": tr.endpoint_id,
        "endpoint_name": tr.endpoint_name, "path": tr.path,
        "label": tr.label, "status": tr.status, "task_id": tr.task_id, "submission_id": tr.submission_id,
        "files": tr.files, "bytes_transferred": tr.bytes_transferred, "bytes_total": tr.bytes_total,
        "bytes_per_second": tr.rate, "faults": tr.faults, "nice_status": tr.nice_status, "error": tr.error,
        "events": serde_json::from_str::<Value>(&tr.events).unwrap_or(json!([])), "cleaned_up": tr.cleaned,
        "created": time::rfc3339(tr.created_at), "completed": tr.completed_at.map(time::rfc3339), "globus_url": web})
}

async fn owned(st: &AppState, p: &Principal, id: &str) -> Result<TransferRow> {
    st.store
        .transfer(id)
        .await?
        .filter(|t| t.user_id == p.user_id || p.is_admin)
        .ok_or_else(|| Error::not_found(format!("no transfer {id}")))
}

async fn list(State(st): State<AppState>, caller: Caller) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    service(&st)?;
    let rows = st.store.transfers_of(p.user_id, 200).await?;
    Ok(Json(json!({"transfers": rows.iter().map(|t| transfer_doc(&st, t)).collect::<Vec<_>>()})))
}

async fn show(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require()?;
    service(&st)?;
    Ok(Json(transfer_doc(&st, &owned(&st, p, &id).await?)))
}

async fn cancel(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> std::result::Result<Json<Value>, ApiError> {
    let p = caller.require_write()?;
    let tr = st.cancel_transfer(p, &id).await?;
    Ok(Json(transfer_doc(&st, &tr)))
}

impl AppState {
    /// A transfer of `p`'s (any, for an admin).
    pub async fn transfer_of(&self, p: &Principal, id: &str) -> Result<TransferRow> {
        service(self)?;
        owned(self, p, id).await
    }

    /// Cancels a transfer under way.
    pub async fn cancel_transfer(&self, p: &Principal, id: &str) -> Result<TransferRow> {
        let t = service(self)?;
        let mut tr = owned(self, p, id).await?;
        if tr.is_final() {
            return Err(Error::conflict(format!("transfer {id} has ended already ({})", tr.status)));
        }
        if let Some(task) = &tr.task_id {
            let (_, token) = self.user_transfer_token(tr.user_id).await?;
            t.globus.cancel_task(&token, task).await.map_err(from_globus)?;
            tr.next_check_at = time::now_unix();
            self.store.update_transfer(&tr).await?;
            follow(self, t, tr.clone()).await;
        } else {
            fail(self, t, &mut tr, "canceled before it was submitted").await?;
        }
        Ok(self.store.transfer(id).await?.unwrap_or(tr))
    }
}

// ---------- following tasks ----------

/// One look at a transfer: submit what is left, read the task, clean up at the end.
async fn follow(st: &AppState, t: &Transfers, mut tr: TransferRow) {
    let now = time::now_unix();
    let result: Result<()> = async {
        if tr.is_final() {
            return cleanup(st, t, &mut tr).await;
        }
        if tr.task_id.is_none() {
            return submit(st, t, &mut tr).await;
        }
        let (_, token) = st.user_transfer_token(tr.user_id).await?;
        let task = t.globus.task(&token, tr.task_id.as_deref().unwrap_or_default()).await.map_err(from_globus)?;
        let before = tr.bytes_transferred;
        tr.bytes_transferred = task["bytes_transferred"].as_i64().unwrap_or(tr.bytes_transferred);
        tr.rate = task["effective_bytes_per_second"].as_i64().unwrap_or(0);
        tr.faults = task["faults"].as_i64().unwrap_or(0);
        tr.nice_status = task["nice_status"].as_str().map(str::to_string);
        tr.error = None;
        tr.attempts = 0;
        match task["status"].as_str().unwrap_or("ACTIVE") {
            s @ ("SUCCEEDED" | "FAILED") => {
                tr.status = s.into();
                tr.completed_at = Some(now);
                if s == "FAILED" {
                    let fatal = &task["fatal_error"];
                    tr.error = fatal["description"].as_str().or(fatal["code"].as_str()).map(str::to_string);
                }
                if let Ok(ev) = t.globus.task_events(&token, tr.task_id.as_deref().unwrap_or_default()).await {
                    tr.events = ev["DATA"].to_string();
                }
                st.store.update_transfer(&tr).await?;
                cleanup(st, t, &mut tr).await
            }
            _ => {
                // Poll faster while bytes move, slower while nothing changes.
                let idle = (now - tr.updated_at).max(t.cfg.poll_secs as i64);
                let wait = if tr.bytes_transferred != before { t.cfg.poll_secs as i64 } else { idle.min(60) };
                tr.next_check_at = now + wait;
                st.store.update_transfer(&tr).await
            }
        }
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(transfer = tr.id, "following the transfer: {}", e.message);
        tr.attempts += 1;
        tr.error = Some(e.message);
        tr.next_check_at = now + (1i64 << tr.attempts.min(8)).min(300);
        let _ = st.store.update_transfer(&tr).await;
    }
}

/// Follows every unfinished transfer until Gantry stops.
pub async fn follower(st: AppState) {
    let Some(t) = st.transfers.clone() else { return };
    reconcile(&st, &t).await;
    loop {
        match st.store.due_transfers(time::now_unix()).await {
            Ok(due) => {
                for tr in due {
                    follow(&st, &t, tr).await;
                }
            }
            Err(e) => tracing::warn!("cannot read transfers: {}", e.message),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Removes access rules and exports that no unfinished transfer owns (left by a crash).
pub async fn reconcile(st: &AppState, t: &Transfers) {
    let open = match st.store.unclean_transfers().await {
        Ok(v) => v,
        Err(e) => return tracing::warn!("reconcile: {}", e.message),
    };
    // Requests that were preparing a transfer died with the previous process.
    for tr in open.iter().filter(|t| t.status == "PREPARING") {
        let mut tr = tr.clone();
        tr.next_check_at = time::now_unix();
        let _ = st.store.update_transfer(&tr).await;
    }
    let rules_in_use: Vec<&str> = open.iter().filter_map(|t| t.rule_id.as_deref()).collect();
    let exports_in_use: Vec<&str> = open.iter().map(|t| t.export_id.as_str()).collect();
    match t.manager_token().await {
        Ok(manager) => match t.globus.rules(&manager, &t.cfg.storage_collection).await {
            Ok(rules) => {
                for r in rules {
                    let id = r["id"].as_str().map(str::to_string).or_else(|| r["id"].as_i64().map(|n| n.to_string()));
                    let path = r["path"].as_str().unwrap_or("");
                    let ours = r["permissions"] == "r" && r["principal_type"] == "identity" && is_export_path(path);
                    if let Some(id) = id.filter(|id| ours && !rules_in_use.contains(&id.as_str())) {
                        match t.globus.delete_rule(&manager, &t.cfg.storage_collection, &id).await {
                            Ok(()) => tracing::info!(rule = id, path, "removed an access rule left behind"),
                            Err(e) => tracing::warn!("cannot remove rule {id}: {e}"),
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("reconcile: cannot list the storage collection's rules: {e}"),
        },
        Err(e) => tracing::warn!("reconcile: {}", e.message),
    }
    for e in std::fs::read_dir(&t.exports).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !exports_in_use.contains(&name.as_str()) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// `/<32 hex>/`: the directory of one export.
fn is_export_path(p: &str) -> bool {
    let inner = p.trim_matches('/');
    inner.len() == 32 && inner.bytes().all(|b| b.is_ascii_hexdigit()) && p.starts_with('/')
}

#[cfg(test)]
mod tests {
    #[test]
    fn consent_scopes() {
        let ok = "urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/abc-1/data_access]";
        assert!(super::consent_scope_ok(ok));
        assert!(!super::consent_scope_ok("urn:globus:auth:scope:transfer.api.globus.org:all"));
        assert!(!super::consent_scope_ok(
            "urn:globus:auth:scope:transfer.api.globus.org:all[https://auth.globus.org/scopes/x/all]"
        ));
        assert!(!super::consent_scope_ok("openid[https://auth.globus.org/scopes/x/data_access]"));
        let tokens = serde_json::json!({"resource_server": "transfer.api.globus.org",
            "scope": "urn:globus:auth:scope:transfer.api.globus.org:all urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/e1/data_access]"});
        assert_eq!(
            super::held_consents(&tokens),
            ["urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/e1/data_access]"]
        );
        let q = super::parse_query("next=%2Fx&scope=a%5Bb%5D&scope=c");
        assert_eq!((q.next.as_deref(), q.scope), (Some("/x"), vec!["a[b]".to_string(), "c".to_string()]));
    }

    #[test]
    fn export_paths() {
        assert!(super::is_export_path("/0123456789abcdef0123456789abcdef/"));
        assert!(!super::is_export_path("/home/alice/"));
        assert!(!super::is_export_path("/0123456789abcdef0123456789abcdef/sub/"));
    }
}
