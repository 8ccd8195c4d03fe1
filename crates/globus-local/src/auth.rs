//! Globus Auth: OIDC discovery and JWKS, client templating, the authorize flow with a
//! login form and a consent page, the token endpoint (authorization code with PKCE or
//! client secret, refresh token, client credentials, dependent token), validate,
//! introspect, revoke, userinfo, identities and policies.

use crate::config::{Client, ClientScope, Identity};
use crate::scopes::{self, AUTH_RS, CLI_TEMPLATE_ID};
use crate::service::Service;
use crate::store::{now, random_token, random_uuid};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwk.json", get(jwks))
        .route("/v2/api/clients", post(create_client))
        .route("/v2/api/clients/{id}", delete(delete_client))
        .route("/v2/oauth2/authorize", get(authorize))
        .route("/v2/web/login", post(login))
        .route("/v2/web/consent", post(consent))
        .route("/v2/web/auth-code", get(auth_code_page))
        .route("/v2/web/logout", get(web_logout))
        .route("/v2/oauth2/token", post(token))
        .route("/v2/oauth2/token/validate", post(validate))
        .route("/v2/oauth2/token/introspect", post(introspect))
        .route("/v2/oauth2/token/revoke", post(revoke))
        .route("/v2/oauth2/userinfo", get(userinfo).post(userinfo))
        .route("/v2/api/identities", get(identities))
        .route("/v2/api/policies", get(list_policies))
        .route("/v2/api/policies/{id}", get(get_policy))
}

// ---------- records ----------

/// A client made at run time from a template (what `globus login` does).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInstance {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub template_id: String,
}

/// What the service knows of a client, static or templated.
#[derive(Debug, Clone)]
pub struct KnownClient {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub native: bool,
    pub scopes: Vec<ClientScope>,
}

/// One sign-in of an identity within a browser session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authn {
    pub auth_time: i64,
    pub idp: String,
    pub mfa: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Identity id → its latest sign-in.
    pub authentications: BTreeMap<String, Authn>,
    pub primary: String,
}

/// An authorize request waiting for sign-in and consent, bound to one browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    params: HashMap<String, String>,
    browser: String,
    csrf: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Code {
    client_id: String,
    redirect_uri: String,
    scope: String,
    identity: String,
    session: String,
    code_challenge: Option<String>,
    access_type: String,
    nonce: Option<String>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub refresh: bool,
    pub client_id: String,
    /// The identity the token acts for (a client's own identity for client credentials).
    pub identity: String,
    pub resource_server: String,
    pub scope: String,
    pub session: Option<String>,
    pub expires_at: Option<i64>,
    pub issued_at: i64,
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

// ---------- errors ----------

/// The Auth API error document.
pub fn auth_error(status: StatusCode, code: &str, detail: &str) -> Response {
    let body = json!({
        "errors": [{"status": status.as_u16().to_string(), "id": random_uuid(), "code": code.to_ascii_uppercase(),
            "detail": detail, "title": status.canonical_reason().unwrap_or("Error")}],
        "error": code.to_ascii_lowercase(), "error_description": detail,
    });
    (status, axum::Json(body)).into_response()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

fn html_error(status: StatusCode, msg: &str) -> Response {
    (status, Html(page("Sign-in problem", &format!("<p class=\"error\">{}</p>", esc(msg))))).into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t} · Globus (local)</title><style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.8rem 0 .2rem}}input{{width:100%;padding:.4rem}}button{{margin-top:1rem;padding:.5rem 1rem}}\
         .error{{color:#a00}}.message{{background:#eef;padding:.5rem}}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    )
}

// ---------- helpers on the service ----------

/// What a token response is issued for.
struct Grant<'a> {
    identity: &'a str,
    scope: &'a str,
    session: Option<&'a str>,
    /// Issue refresh tokens too.
    offline: bool,
    /// Add an id_token (with this nonce) when `openid` is among the scopes.
    id_token: Option<Option<String>>,
    state: Option<&'a str>,
}

impl Service {
    pub async fn client(&self, id: &str) -> Option<KnownClient> {
        if let Some(c) = self.config.clients.iter().find(|c| c.id == id) {
            return Some(known(c));
        }
        let inst: ClientInstance = self.db.get("client", id).await.ok()??;
        Some(KnownClient {
            id: inst.id,
            name: inst.name,
            secret_hash: Some(inst.secret_hash),
            redirect_uris: vec![],
            native: true,
            scopes: vec![],
        })
    }

    /// Authenticates a client from HTTP Basic, or (public clients) a `client_id` field.
    pub async fn client_auth(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<KnownClient, Response> {
        if let Some((id, secret)) = basic(headers) {
            let c = self
                .client(&id)
                .await
                .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"))?;
            match &c.secret_hash {
                Some(h) if constant_eq(h, &sha_hex(&secret)) => return Ok(c),
                _ => {
                    return Err(oauth_error(
                        StatusCode::UNAUTHORIZED,
                        "invalid_client",
                        "client authentication failed",
                    ));
                }
            }
        }
        if let Some(id) = form.get("client_id") {
            let c = self
                .client(id)
                .await
                .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"))?;
            if c.secret_hash.is_none() {
                return Ok(c);
            }
        }
        Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication required"))
    }

    fn base(&self) -> &str {
        &self.base_url
    }

    /// Looks up an unexpired token by its value.
    pub async fn token_record(&self, value: &str) -> Option<Token> {
        let t: Token = self.db.get("token", &sha_hex(value)).await.ok()??;
        if t.expires_at.is_some_and(|e| e <= now()) {
            return None;
        }
        Some(t)
    }

    async fn mint(&self, t: &Token) -> String {
        let value = format!("gl{}", random_token(24));
        let _ = self.db.put("token", &sha_hex(&value), t, t.expires_at.map(|e| e + 60)).await;
        value
    }

    fn lifetime(&self) -> i64 {
        self.config.access_token_lifetime.unwrap_or(172_800)
    }

    /// Issues one token per resource server for the scopes; the first answer is the
    /// auth.globus.org one when present, the rest go in `other_tokens`.
    async fn token_response(&self, client: &KnownClient, g: Grant<'_>) -> Result<Value, Response> {
        let parsed = scopes::parse(g.scope).map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e))?;
        let mut by_rs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &parsed {
            let rs = scopes::resource_server(&self.config, &s.name).ok_or_else(|| {
                oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &format!("unknown scope {}", s.name))
            })?;
            by_rs.entry(rs).or_default().push(s.render());
        }
        if by_rs.is_empty() {
            return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "no scope requested"));
        }
        let mut order: Vec<String> = by_rs.keys().cloned().collect();
        if let Some(p) = order.iter().position(|r| r == AUTH_RS) {
            let a = order.remove(p);
            order.insert(0, a);
        }
        let mut docs = vec![];
        for rs in &order {
            let scope = by_rs[rs].join(" ");
            let t = Token {
                refresh: false,
                client_id: client.id.clone(),
                identity: g.identity.to_string(),
                resource_server: rs.clone(),
                scope: scope.clone(),
                session: g.session.map(str::to_string),
                expires_at: Some(now() + self.lifetime()),
                issued_at: now(),
            };
            let access = self.mint(&t).await;
            let mut d = json!({"access_token": access, "scope": scope, "resource_server": rs,
                "expires_in": self.lifetime(), "token_type": "Bearer"});
            if g.offline {
                let r = Token { refresh: true, expires_at: None, ..t };
                d["refresh_token"] = json!(self.mint(&r).await);
            } else {
                d["refresh_token"] = Value::Null;
            }
            if let Some(s) = g.state {
                d["state"] = json!(s);
            }
            docs.push((access, d));
        }
        let (first_access, mut first) = docs.remove(0);
        if let Some(nonce) = g.id_token
            && first["resource_server"] == AUTH_RS
            && first["scope"].as_str().is_some_and(|s| s.split(' ').any(|x| x == "openid"))
        {
            first["id_token"] = json!(self.id_token(client, g.identity, g.session, nonce, &first_access).await);
        }
        first["other_tokens"] = Value::Array(docs.into_iter().map(|(_, d)| d).collect());
        Ok(first)
    }

    async fn id_token(
        &self,
        client: &KnownClient,
        identity: &str,
        session: Option<&str>,
        nonce: Option<String>,
        access: &str,
    ) -> String {
        let cfg = &self.config;
        let i = cfg.identity_by_id(identity).expect("token for a declared identity");
        let idp = cfg.idp_for(i);
        let sess: Option<Session> = match session {
            Some(s) => self.db.get("session", s).await.ok().flatten(),
            None => None,
        };
        let last = sess.as_ref().and_then(|s| s.authentications.get(identity)).map(|a| a.auth_time).unwrap_or(now());
        let h = Sha256::digest(access.as_bytes());
        let at_hash = URL_SAFE_NO_PAD.encode(&h[..16]);
        let mut claims = json!({
            "iss": self.base(), "sub": i.id, "aud": client.id, "iat": now(), "exp": now() + self.lifetime(), "nbf": now(),
            "at_hash": at_hash, "preferred_username": i.username, "name": i.name, "email": i.email,
            "organization": i.organization, "identity_provider": idp.id, "identity_provider_display_name": idp.display_name,
            "last_authentication": last,
            "identity_set": cfg.identity_set(i).iter().map(|x| self.identity_claims(x, sess.as_ref())).collect::<Vec<_>>(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        self.keys.sign(&claims)
    }

    fn identity_claims(&self, i: &Identity, sess: Option<&Session>) -> Value {
        let idp = self.config.idp_for(i);
        json!({"sub": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
            "identity_provider": idp.id, "identity_provider_display_name": idp.display_name,
            "last_authentication": sess.and_then(|s| s.authentications.get(&i.id)).map(|a| a.auth_time)})
    }

    /// Identity record as `/v2/api/identities` shows it.
    pub fn identity_doc(&self, i: &Identity) -> Value {
        let idp = self.config.idp_for(i);
        json!({"id": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
            "identity_provider": idp.id, "identity_type": "login", "status": "used"})
    }

    /// The identity a bearer token acts for, if the token is valid for `rs`.
    pub async fn bearer(&self, headers: &HeaderMap, rs: &str) -> Option<Token> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let t = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?.trim();
        let rec = self.token_record(t).await?;
        (!rec.refresh && rec.resource_server == rs).then_some(rec)
    }
}

fn known(c: &Client) -> KnownClient {
    KnownClient {
        id: c.id.clone(),
        name: c.name.clone(),
        secret_hash: c.secret.as_deref().map(sha_hex),
        redirect_uris: c.redirect_uris.clone(),
        native: c.secret.is_none(),
        scopes: c.scopes.clone(),
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = STANDARD.decode(v.strip_prefix("Basic ")?.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((percent_decode(u), percent_decode(p)))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

fn set_cookie(r: &mut Response, name: &str, value: &str, secure: bool) {
    let c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" });
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

// ---------- discovery ----------

async fn discovery(State(s): State<Service>) -> Response {
    let b = s.base();
    axum::Json(json!({
        "issuer": b, "authorization_endpoint": format!("{b}/v2/oauth2/authorize"),
        "token_endpoint": format!("{b}/v2/oauth2/token"), "userinfo_endpoint": format!("{b}/v2/oauth2/userinfo"),
        "revocation_endpoint": format!("{b}/v2/oauth2/token/revoke"),
        "introspection_endpoint": format!("{b}/v2/oauth2/token/introspect"),
        "jwks_uri": format!("{b}/jwk.json"), "id_token_signing_alg_values_supported": ["RS512"],
        "response_types_supported": ["code"], "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"], "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
            "urn:globus:auth:grant_type:dependent_token"],
        "code_challenge_methods_supported": ["S256"], "claims_supported": ["sub", "iss", "aud", "exp", "iat", "name",
            "email", "preferred_username", "organization", "identity_provider", "identity_set"],
    }))
    .into_response()
}

async fn jwks(State(s): State<Service>) -> Response {
    axum::Json(s.keys.jwks()).into_response()
}

// ---------- clients ----------

async fn create_client(State(s): State<Service>, body: axum::Json<Value>) -> Response {
    let c = &body.0["client"];
    let template = c["template_id"].as_str().unwrap_or("");
    if template != CLI_TEMPLATE_ID && !s.config.clients.iter().any(|x| x.id == template && x.secret.is_none()) {
        return auth_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Call must be authenticated (or name a known template_id)",
        );
    }
    let name = c["name"].as_str().unwrap_or("Client instance").chars().take(100).collect::<String>();
    let id = random_uuid();
    let secret = random_token(24);
    let inst = ClientInstance {
        id: id.clone(),
        name: name.clone(),
        secret_hash: sha_hex(&secret),
        template_id: template.into(),
    };
    if let Err(e) = s.db.put("client", &id, &inst, None).await {
        return auth_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string());
    }
    let client = json!({"id": id, "name": name, "public_client": false, "project": null, "parent_client": template,
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "redirect_uris": [],
        "scopes": [], "fqdns": [], "visibility": "private", "required_idp": null, "preselect_idp": null,
        "client_type": "confidential_client", "links": {"privacy_policy": null, "terms_and_conditions": null},
        "prompt_for_named_grant": false, "userinfo_from_effective_identity": true});
    (
        StatusCode::CREATED,
        axum::Json(json!({"client": client, "included": {"client_credential": {
        "id": random_uuid(), "name": "auto-created", "client": id, "secret": secret, "created": now()}}})),
    )
        .into_response()
}

async fn delete_client(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match s.client_auth(&headers, &HashMap::new()).await {
        Ok(c) if c.id == id => {
            let _ = s.db.delete("client", &id).await;
            axum::Json(json!({"client": {"id": id}})).into_response()
        }
        _ => auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "a client may only delete itself"),
    }
}

// ---------- authorize ----------

fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
    let mut u = uri.to_string();
    let mut sep = if u.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        u.push(sep);
        u.push_str(k);
        u.push('=');
        u.push_str(&urlencode(v));
        sep = '&';
    }
    Redirect::to(&u).into_response()
}

pub fn urlencode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// Whether a redirect URI is acceptable for the client.
fn redirect_ok(s: &Service, c: &KnownClient, uri: &str) -> bool {
    if c.redirect_uris.iter().any(|r| r == uri) {
        return true;
    }
    if !c.native {
        return false;
    }
    // Native apps: the code page, or a loopback listener on any port.
    if uri == format!("{}/v2/web/auth-code", s.base()) {
        return true;
    }
    for host in ["http://localhost", "http://127.0.0.1", "http://[::1]"] {
        if let Some(rest) = uri.strip_prefix(host) {
            let rest =
                rest.strip_prefix(':').map(|r| r.trim_start_matches(|ch: char| ch.is_ascii_digit())).unwrap_or(rest);
            if rest.is_empty() || rest.starts_with('/') {
                return true;
            }
        }
    }
    false
}

async fn authorize(State(s): State<Service>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(client) = s.client(q.get("client_id").map(String::as_str).unwrap_or("")).await else {
        return html_error(
            StatusCode::BAD_REQUEST,
            "Unknown client_id: the application that sent you here is not registered.",
        );
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect_ok(&s, &client, &redirect) {
        return html_error(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this application; refusing to send you there.",
        );
    }
    let state = q.get("state").cloned().unwrap_or_default();
    if q.get("response_type").map(String::as_str) != Some("code") {
        return redirect_with(&redirect, &[("error", "unsupported_response_type"), ("state", &state)]);
    }
    let scope = q.get("scope").cloned().unwrap_or_default();
    match scopes::parse(&scope) {
        Ok(p) if !p.is_empty() && p.iter().all(|x| scopes::resource_server(&s.config, &x.name).is_some()) => {}
        _ => return redirect_with(&redirect, &[("error", "invalid_scope"), ("state", &state)]),
    }
    match (q.get("code_challenge"), q.get("code_challenge_method").map(String::as_str)) {
        (Some(c), Some("S256")) if c.len() >= 43 => {}
        (Some(_), _) => {
            return redirect_with(
                &redirect,
                &[
                    ("error", "invalid_request"),
                    ("error_description", "PKCE needs code_challenge_method=S256"),
                    ("state", &state),
                ],
            );
        }
        (None, _) if client.secret_hash.is_none() => {
            return redirect_with(
                &redirect,
                &[
                    ("error", "invalid_request"),
                    ("error_description", "public clients must use PKCE (S256)"),
                    ("state", &state),
                ],
            );
        }
        (None, _) => {}
    }
    let browser = cookie(&headers, "gl_browser").filter(|b| b.len() == 32).unwrap_or_else(|| random_token(16));
    let pending = Pending { params: q.clone(), browser: browser.clone(), csrf: random_token(16) };
    let rid = random_token(16);
    if s.db.put("authz", &rid, &pending, Some(now() + 1800)).await.is_err() {
        return html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the request; try again.");
    }
    let session = session_of(&s, &headers).await;
    let mut r = match unmet(&s, &q, session.as_ref()) {
        Some(msg) => login_page(&s, &rid, &pending, &msg, &client),
        None => consent_page(&s, &rid, &pending, &client, session.as_ref().unwrap()),
    };
    set_cookie(&mut r, "gl_browser", &browser, s.base().starts_with("https"));
    r
}

async fn session_of(s: &Service, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, "gl_session")?;
    s.db.get("session", &id).await.ok()?
}

/// What still stands between the session and this request, as a message for the login
/// page; None when the user may go straight to consent.
fn unmet(s: &Service, q: &HashMap<String, String>, session: Option<&Session>) -> Option<String> {
    let message = q.get("session_message").cloned();
    let Some(sess) = session else {
        return Some(message.unwrap_or_else(|| "Sign in to continue.".into()));
    };
    if q.get("prompt").map(String::as_str) == Some("login") && !q.contains_key("_fresh") {
        return Some(message.unwrap_or_else(|| "Sign in again to continue.".into()));
    }
    let list = |k: &str| -> Vec<String> {
        q.get(k)
            .map(|v| v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect())
            .unwrap_or_default()
    };
    let cfg = &s.config;
    let signed_in: Vec<&Identity> = sess.authentications.keys().filter_map(|id| cfg.identity_by_id(id)).collect();
    for want in list("session_required_identities") {
        if !signed_in.iter().any(|i| i.id == want || i.username == want) {
            return Some(message.unwrap_or_else(|| format!("Sign in with the identity {want}.")));
        }
    }
    let domains = list("session_required_single_domain");
    if !domains.is_empty() && !signed_in.iter().any(|i| domains.iter().any(|d| d == i.domain())) {
        return Some(message.unwrap_or_else(|| format!("Sign in with an identity from {}.", domains.join(" or "))));
    }
    for pid in list("session_required_policies") {
        if let Some(p) = cfg.policies.iter().find(|p| p.id == pid)
            && !crate::policy::satisfied(cfg, p, sess)
        {
            return Some(message.unwrap_or_else(|| {
                format!("The policy \u{201c}{}\u{201d} requires a recent sign-in.", p.display_name)
            }));
        }
    }
    if q.get("session_required_mfa").is_some_and(|v| v == "true" || v == "1")
        && !sess.authentications.values().any(|a| a.mfa)
    {
        return Some(message.unwrap_or_else(|| "Sign in with multi-factor authentication.".into()));
    }
    None
}

fn login_page(_s: &Service, rid: &str, p: &Pending, msg: &str, client: &KnownClient) -> Response {
    let body = format!(
        "<p class=\"message\">{msg}</p><p>{app} asks you to sign in.</p>\
         <form method=\"post\" action=\"/v2/web/login\">\
         <input type=\"hidden\" name=\"request\" value=\"{rid}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label for=\"username\">Username</label><input id=\"username\" name=\"username\" autocomplete=\"username\" required>\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        msg = esc(msg),
        app = esc(&client.name),
        rid = esc(rid),
        csrf = esc(&p.csrf)
    );
    Html(page("Sign in", &body)).into_response()
}

fn consent_page(s: &Service, rid: &str, p: &Pending, client: &KnownClient, sess: &Session) -> Response {
    let who = s.config.identity_by_id(&sess.primary).map(|i| i.username.clone()).unwrap_or_default();
    let scopes: String = p
        .params
        .get("scope")
        .map(|sc| sc.split_whitespace().map(|x| format!("<li><code>{}</code></li>", esc(x))).collect())
        .unwrap_or_default();
    let body = format!(
        "<p>Signed in as <strong>{who}</strong>.</p><p><strong>{app}</strong> would like to:</p><ul>{scopes}</ul>\
         <form method=\"post\" action=\"/v2/web/consent\">\
         <input type=\"hidden\" name=\"request\" value=\"{rid}\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <button type=\"submit\" name=\"decision\" value=\"allow\">Allow</button> \
         <button type=\"submit\" name=\"decision\" value=\"deny\">Deny</button></form>",
        who = esc(&who),
        app = esc(&client.name),
        rid = esc(rid),
        csrf = esc(&p.csrf)
    );
    Html(page("Allow access", &body)).into_response()
}

/// Loads a pending request for a form post, checking the CSRF token and that the same
/// browser started it.
async fn pending_for(
    s: &Service,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
) -> Result<(String, Pending), Response> {
    let rid = f.get("request").cloned().unwrap_or_default();
    let p: Pending = s.db.get("authz", &rid).await.ok().flatten().ok_or_else(|| {
        html_error(StatusCode::BAD_REQUEST, "This sign-in request expired; start again from the application.")
    })?;
    let csrf_ok = f.get("csrf").is_some_and(|c| constant_eq(c, &p.csrf));
    let browser_ok = cookie(headers, "gl_browser").is_some_and(|b| constant_eq(&b, &p.browser));
    if !csrf_ok || !browser_ok {
        return Err(html_error(
            StatusCode::FORBIDDEN,
            "This form was not sent from this browser's sign-in page (CSRF check failed).",
        ));
    }
    Ok((rid, p))
}

async fn login(State(s): State<Service>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let (rid, mut p) = match pending_for(&s, &headers, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let client = match s.client(p.params.get("client_id").map(String::as_str).unwrap_or("")).await {
        Some(c) => c,
        None => return html_error(StatusCode::BAD_REQUEST, "Unknown client."),
    };
    let username = f.get("username").map(|u| u.trim().to_string()).unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let ident = s.config.identity_by_username(&username).filter(|i| constant_eq(&i.password, &password)).cloned();
    let Some(ident) = ident else {
        let mut r = login_page(&s, &rid, &p, "Unknown username or wrong password.", &client);
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let mut sess = session_of(&s, &headers).await.unwrap_or_else(|| Session {
        id: random_token(16),
        authentications: BTreeMap::new(),
        primary: ident.id.clone(),
    });
    let idp = s.config.idp_for(&ident).id.clone();
    sess.authentications.insert(ident.id.clone(), Authn { auth_time: now(), idp, mfa: ident.mfa });
    if !sess.authentications.contains_key(&sess.primary) {
        sess.primary = ident.id.clone();
    }
    if s.db.put("session", &sess.id, &sess, None).await.is_err() {
        return html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the session.");
    }
    // A fresh sign-in satisfies prompt=login for this request.
    p.params.insert("_fresh".into(), "1".into());
    let _ = s.db.put("authz", &rid, &p, Some(now() + 1800)).await;
    let mut r = match unmet(&s, &p.params, Some(&sess)) {
        Some(msg) => login_page(&s, &rid, &p, &msg, &client),
        None => consent_page(&s, &rid, &p, &client, &sess),
    };
    set_cookie(&mut r, "gl_session", &sess.id, s.base().starts_with("https"));
    r
}

async fn consent(State(s): State<Service>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let (rid, p) = match pending_for(&s, &headers, &f).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(sess) = session_of(&s, &headers).await else {
        return html_error(StatusCode::UNAUTHORIZED, "You are not signed in; start again from the application.");
    };
    if let Some(msg) = unmet(&s, &p.params, Some(&sess)) {
        return html_error(StatusCode::FORBIDDEN, &msg);
    }
    let _ = s.db.delete("authz", &rid).await;
    let redirect = p.params.get("redirect_uri").cloned().unwrap_or_default();
    let state = p.params.get("state").cloned().unwrap_or_default();
    if f.get("decision").map(String::as_str) != Some("allow") {
        return redirect_with(&redirect, &[("error", "access_denied"), ("state", &state)]);
    }
    let code = random_token(20);
    let rec = Code {
        client_id: p.params.get("client_id").cloned().unwrap_or_default(),
        redirect_uri: redirect.clone(),
        scope: p.params.get("scope").cloned().unwrap_or_default(),
        identity: sess.primary.clone(),
        session: sess.id.clone(),
        code_challenge: p.params.get("code_challenge").cloned(),
        access_type: p.params.get("access_type").cloned().unwrap_or_else(|| "online".into()),
        nonce: p.params.get("nonce").cloned(),
        state: p.params.get("state").cloned(),
    };
    if s.db.put("code", &code, &rec, Some(now() + 600)).await.is_err() {
        return html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the code.");
    }
    redirect_with(&redirect, &[("code", &code), ("state", &state)])
}

async fn auth_code_page(Query(q): Query<HashMap<String, String>>) -> Response {
    match (q.get("code"), q.get("error")) {
        (Some(c), _) => Html(page(
            "Authorization code",
            &format!("<p>Copy this code back to the application:</p><p><code id=\"code\">{}</code></p>", esc(c)),
        ))
        .into_response(),
        (None, Some(e)) => html_error(StatusCode::BAD_REQUEST, &format!("Authorization failed: {e}")),
        _ => html_error(StatusCode::BAD_REQUEST, "No code."),
    }
}

async fn web_logout(State(s): State<Service>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, "gl_session") {
        let _ = s.db.delete("session", &id).await;
    }
    let mut r = Html(page("Signed out", "<p>You are signed out of Globus (local).</p>")).into_response();
    if let Ok(v) = HeaderValue::from_str("gl_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax") {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

// ---------- token endpoint ----------

async fn token(State(s): State<Service>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let client = match s.client_auth(&headers, &f).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let grant = f.get("grant_type").map(String::as_str).unwrap_or("");
    match grant {
        "authorization_code" => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(c) = s.db.take::<Code>("code", &code).await.ok().flatten() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown, expired or already used code");
            };
            if c.client_id != client.id || f.get("redirect_uri") != Some(&c.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code was issued to another client or redirect_uri",
                );
            }
            if let Some(ch) = &c.code_challenge {
                let v = f.get("code_verifier").cloned().unwrap_or_default();
                let got = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                if v.len() < 43 || !constant_eq(&got, ch) {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE code_verifier does not match");
                }
            } else if client.secret_hash.is_none() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "public clients must use PKCE");
            }
            let offline = c.access_type == "offline";
            let g = Grant {
                identity: &c.identity,
                scope: &c.scope,
                session: Some(&c.session),
                offline,
                id_token: Some(c.nonce.clone()),
                state: c.state.as_deref().or(Some("_default")),
            };
            match s.token_response(&client, g).await {
                Ok(v) => axum::Json(v).into_response(),
                Err(r) => r,
            }
        }
        "refresh_token" => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(t) = s.token_record(&rt).await.filter(|t| t.refresh && t.client_id == client.id) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or revoked refresh token");
            };
            let access =
                Token { refresh: false, expires_at: Some(now() + s.lifetime()), issued_at: now(), ..t.clone() };
            let a = s.mint(&access).await;
            axum::Json(json!({"access_token": a, "scope": t.scope, "resource_server": t.resource_server,
                "expires_in": s.lifetime(), "token_type": "Bearer", "refresh_token": rt, "other_tokens": []}))
            .into_response()
        }
        "client_credentials" => {
            if client.secret_hash.is_none() {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "only confidential clients may use client credentials",
                );
            }
            let scope = f.get("scope").cloned().unwrap_or_default();
            let g = Grant {
                identity: &client.id,
                scope: &scope,
                session: None,
                offline: false,
                id_token: None,
                state: None,
            };
            match s.token_response(&client, g).await {
                Ok(v) => axum::Json(v).into_response(),
                Err(r) => r,
            }
        }
        "urn:globus:auth:grant_type:dependent_token" => dependent(&s, &client, &f).await,
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {grant:?} is not supported"),
        ),
    }
}

/// Exchanges a token issued to this client as resource server for tokens of the
/// scopes its own scope depends on (the dependent-token grant).
async fn dependent(s: &Service, client: &KnownClient, f: &HashMap<String, String>) -> Response {
    let tok = f.get("token").cloned().unwrap_or_default();
    let Some(t) = s.token_record(&tok).await.filter(|t| !t.refresh && t.resource_server == client.id) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the token was not issued for this client as resource server",
        );
    };
    // Dependencies granted: those named inside the token's scope, or declared by the client.
    let mut allowed: Vec<String> = vec![];
    if let Ok(parsed) = scopes::parse(&t.scope) {
        for sc in parsed {
            allowed.extend(sc.deps.iter().map(|d| d.render()));
            if let Some(suffix) = sc.name.rsplit('/').next()
                && let Some(cs) = client.scopes.iter().find(|c| c.suffix == suffix)
            {
                allowed.extend(cs.dependent_scopes.iter().cloned());
            }
        }
    }
    let wanted: Vec<String> = match f.get("scope") {
        Some(sc) => sc.split_whitespace().map(str::to_string).collect(),
        None => allowed.clone(),
    };
    for w in &wanted {
        if !allowed.iter().any(|a| a == w || a.starts_with(&format!("{w}["))) {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_scope",
                &format!("{w} is not a dependent scope of this token"),
            );
        }
    }
    let offline = f.get("access_type").map(String::as_str) == Some("offline");
    let scope = wanted.join(" ");
    let g = Grant {
        identity: &t.identity,
        scope: &scope,
        session: t.session.as_deref(),
        offline,
        id_token: None,
        state: None,
    };
    match s.token_response(client, g).await {
        Ok(mut v) => {
            // The dependent-token grant answers a plain list of token documents.
            let others = v.as_object_mut().and_then(|o| o.remove("other_tokens")).unwrap_or(json!([]));
            let mut list = vec![v];
            list.extend(others.as_array().cloned().unwrap_or_default());
            axum::Json(Value::Array(list)).into_response()
        }
        Err(r) => r,
    }
}

async fn validate(State(s): State<Service>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    if let Err(r) = s.client_auth(&headers, &f).await {
        return r;
    }
    let active = match f.get("token") {
        Some(t) => s.token_record(t).await.is_some(),
        None => false,
    };
    axum::Json(json!({ "active": active })).into_response()
}

async fn introspect(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(mut f): Form<HashMap<String, String>>,
) -> Response {
    // `include` and `authentication_policies` may come in the query string too.
    for (k, v) in q {
        f.entry(k).or_insert(v);
    }
    let _client = match s.client_auth(&headers, &f).await {
        Ok(c) if c.secret_hash.is_some() => c,
        Ok(_) => {
            return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "introspection needs a confidential client");
        }
        Err(r) => return r,
    };
    let Some(t) = s.token_record(f.get("token").map(String::as_str).unwrap_or("")).await.filter(|t| !t.refresh) else {
        return axum::Json(json!({"active": false})).into_response();
    };
    let cfg = &s.config;
    // The audience is the token's resource server (for a client's own scopes, its
    // client id), whoever asks: a token for another service names that service.
    let aud = [t.resource_server.clone()];
    let mut doc = json!({"active": true, "token_type": "Bearer", "scope": t.scope, "client_id": t.client_id,
        "sub": t.identity, "aud": aud, "iss": s.base(),
        "exp": t.expires_at, "iat": t.issued_at, "nbf": t.issued_at});
    let ident = cfg.identity_by_id(&t.identity);
    if let Some(i) = ident {
        doc["username"] = json!(i.username);
        doc["name"] = json!(i.name);
        doc["email"] = json!(i.email);
    } else if let Some(c) = cfg.clients.iter().find(|c| c.id == t.identity) {
        doc["username"] = json!(c.username());
        doc["name"] = json!(c.name);
        doc["email"] = Value::Null;
    }
    let include: Vec<&str> = f.get("include").map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
    let sess: Option<Session> = match &t.session {
        Some(id) => s.db.get("session", id).await.ok().flatten(),
        None => None,
    };
    let set: Vec<&Identity> = ident.map(|i| cfg.identity_set(i)).unwrap_or_default();
    if include.contains(&"identity_set") {
        doc["identity_set"] =
            json!(if set.is_empty() { vec![t.identity.clone()] } else { set.iter().map(|i| i.id.clone()).collect() });
    }
    if include.contains(&"identity_set_detail") {
        doc["identity_set_detail"] = Value::Array(
            set.iter()
                .map(|i| {
                    let idp = cfg.idp_for(i);
                    json!({"sub": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
                        "identity_provider": idp.id, "identity_provider_display_name": idp.display_name, "status": "used"})
                })
                .collect(),
        );
    }
    if include.contains(&"session_info") {
        doc["session_info"] = match &sess {
            Some(ss) => {
                json!({"session_id": ss.id, "authentications": ss.authentications.iter().map(|(k, a)| (k.clone(),
                json!({"idp": a.idp, "auth_time": a.auth_time, "acr": null, "amr": if a.mfa { json!(["mfa"]) } else { Value::Null }, "custom_claims": {}}))).collect::<serde_json::Map<_, _>>()})
            }
            None => json!({"session_id": null, "authentications": {}}),
        };
    }
    if let Some(ids) = f.get("authentication_policies") {
        let mut ev = serde_json::Map::new();
        for pid in ids.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let ok = match (cfg.policies.iter().find(|p| p.id == pid), &sess) {
                (Some(p), Some(ss)) => crate::policy::satisfied(cfg, p, ss),
                _ => false,
            };
            ev.insert(pid.to_string(), json!({"evaluation": ok}));
        }
        doc["policy_evaluations"] = Value::Object(ev);
    }
    axum::Json(doc).into_response()
}

async fn revoke(State(s): State<Service>, Form(f): Form<HashMap<String, String>>) -> Response {
    if let Some(t) = f.get("token") {
        let _ = s.db.delete("token", &sha_hex(t)).await;
    }
    axum::Json(json!({"active": false})).into_response()
}

async fn userinfo(State(s): State<Service>, headers: HeaderMap) -> Response {
    let Some(t) = s.bearer(&headers, AUTH_RS).await else {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Call must be authenticated");
    };
    let Some(i) = s.config.identity_by_id(&t.identity) else {
        return auth_error(StatusCode::FORBIDDEN, "FORBIDDEN", "client identities have no user info");
    };
    let idp = s.config.idp_for(i);
    let mut v = json!({"sub": i.id, "preferred_username": i.username, "name": i.name, "email": i.email,
        "organization": i.organization, "identity_provider": idp.id, "identity_provider_display_name": idp.display_name});
    if t.scope.split_whitespace().any(|x| x == "urn:globus:auth:scope:auth.globus.org:view_identity_set") {
        let sess: Option<Session> = match &t.session {
            Some(id) => s.db.get("session", id).await.ok().flatten(),
            None => None,
        };
        v["identity_set"] = Value::Array(
            s.config
                .identity_set(i)
                .iter()
                .map(|x| {
                    let mut c = s.identity_claims(x, sess.as_ref());
                    c["status"] = json!("used");
                    c
                })
                .collect(),
        );
    }
    axum::Json(v).into_response()
}

async fn identities(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let authed = s.bearer(&headers, AUTH_RS).await.is_some() || s.client_auth(&headers, &HashMap::new()).await.is_ok();
    if !authed {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Call must be authenticated");
    }
    let cfg = &s.config;
    let mut out = vec![];
    if let Some(ids) = q.get("ids") {
        for id in ids.split(',').map(str::trim) {
            if let Some(i) = cfg.identity_by_id(id) {
                out.push(s.identity_doc(i));
            }
        }
    }
    if let Some(us) = q.get("usernames") {
        for u in us.split(',').map(str::trim) {
            if let Some(i) = cfg.identity_by_username(u) {
                out.push(s.identity_doc(i));
            }
        }
    }
    axum::Json(json!({ "identities": out })).into_response()
}

fn policy_doc(p: &crate::config::Policy) -> Value {
    json!({"id": p.id, "project_id": crate::config::uuid_for("project", "local"), "display_name": p.display_name,
        "description": p.description, "high_assurance": p.high_assurance,
        "authentication_assurance_timeout": p.authentication_assurance_timeout, "required_mfa": p.required_mfa,
        "domain_constraints_include": p.domain_constraints_include, "domain_constraints_exclude": p.domain_constraints_exclude})
}

async fn list_policies(State(s): State<Service>) -> Response {
    axum::Json(json!({"policies": s.config.policies.iter().map(policy_doc).collect::<Vec<_>>()})).into_response()
}

async fn get_policy(State(s): State<Service>, Path(id): Path<String>) -> Response {
    match s.config.policies.iter().find(|p| p.id == id) {
        Some(p) => axum::Json(json!({ "policy": policy_doc(p) })).into_response(),
        None => auth_error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no policy {id}")),
    }
}
