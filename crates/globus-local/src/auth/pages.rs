//! The authorize flow in the browser: the login form, the consent page, the code page
//! for native clients, and signing out.

use super::grants::*;
use super::records::*;
use crate::config::Identity;
use crate::error::render;
use crate::error::{GResult, html_error};
use crate::scopes::{self};
use crate::service::Service;
use crate::store::{now, random_token};
use crate::wire::PageForm;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use gantry_globus::urlencode;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

// ---------- authorize ----------

pub(super) fn redirect_with(uri: &str, params: &[(&str, &str)]) -> Response {
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

/// Whether a redirect URI is acceptable for the client.
pub(super) fn redirect_ok(s: &Service, c: &KnownClient, uri: &str) -> bool {
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

pub(super) async fn authorize(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let client = match q.get("client_id") {
        Some(id) => s.client(id).await,
        None => None,
    };
    let Some(client) = client else {
        return html_error(
            StatusCode::BAD_REQUEST,
            "Unknown client_id: the application that sent you here is not registered.",
        )
        .into_response();
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    if !redirect_ok(&s, &client, &redirect) {
        return html_error(
            StatusCode::BAD_REQUEST,
            "The redirect_uri is not registered for this application; refusing to send you there.",
        )
        .into_response();
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
        return html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the request; try again.")
            .into_response();
    }
    let session = session_of(&s, &headers).await;
    let mut r = match unmet(&s, &q, session.as_ref()) {
        Some(msg) => login_page(&s, &rid, &pending, &msg, &client),
        None => consent_page(&s, &rid, &pending, &client, session.as_ref().unwrap()),
    };
    set_cookie(&mut r, "gl_browser", &browser, s.base().starts_with("https"));
    r
}

/// The browser's session with a fresh sign-in of `ident` added (a new session when it
/// has none), stored.
pub(crate) async fn signed_in_session(s: &Service, headers: &HeaderMap, ident: &Identity) -> GResult<Session> {
    // A session belongs to one account; signing in as someone else starts a new one.
    let primary = s.config.primary_of(ident).id.clone();
    let mut sess = session_of(s, headers).await.filter(|x| x.primary == primary).unwrap_or_else(|| Session {
        id: random_token(16),
        authentications: BTreeMap::new(),
        primary,
    });
    let idp = s.config.idp_for(ident).id.clone();
    sess.authentications.insert(ident.id.clone(), Authn { auth_time: now(), idp, mfa: ident.mfa });
    if s.db.put("session", &sess.id, &sess, None).await.is_err() {
        return Err(html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the session."));
    }
    Ok(sess)
}

pub(crate) async fn session_of(s: &Service, headers: &HeaderMap) -> Option<Session> {
    let id = cookie(headers, "gl_session")?;
    s.db.get("session", &id).await.ok()?
}

/// What still stands between the session and this request, as a message for the login
/// page; None when the user may go straight to consent.
pub(super) fn unmet(s: &Service, q: &HashMap<String, String>, session: Option<&Session>) -> Option<String> {
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

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    title: &'a str,
    message: &'a str,
    app: &'a str,
    request: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    title: &'a str,
    who: &'a str,
    app: &'a str,
    scopes: Vec<&'a str>,
    request: &'a str,
    csrf: &'a str,
}

#[derive(Template)]
#[template(path = "code.html")]
struct CodePage<'a> {
    title: &'a str,
    code: &'a str,
}

pub(super) fn login_page(_s: &Service, rid: &str, p: &Pending, msg: &str, client: &KnownClient) -> Response {
    render(&LoginPage { title: "Sign in", message: msg, app: &client.name, request: rid, csrf: &p.csrf })
}

pub(super) fn consent_page(s: &Service, rid: &str, p: &Pending, client: &KnownClient, sess: &Session) -> Response {
    let who = s.config.identity_by_id(&sess.primary).map(|i| i.username.clone()).unwrap_or_default();
    let scopes = p.params.get("scope").map(|sc| sc.split_whitespace().collect()).unwrap_or_default();
    render(&ConsentPage { title: "Allow access", who: &who, app: &client.name, scopes, request: rid, csrf: &p.csrf })
}

/// Loads a pending request for a form post, checking the CSRF token and that the same
/// browser started it.
pub(super) async fn pending_for(s: &Service, headers: &HeaderMap, f: &SignInForm) -> GResult<(String, Pending)> {
    let rid = f.request.clone();
    let p: Pending = s.db.get("authz", &rid).await.ok().flatten().ok_or_else(|| {
        html_error(StatusCode::BAD_REQUEST, "This sign-in request expired; start again from the application.")
    })?;
    let csrf_ok = constant_eq(&f.csrf, &p.csrf);
    let browser_ok = cookie(headers, "gl_browser").is_some_and(|b| constant_eq(&b, &p.browser));
    if !csrf_ok || !browser_ok {
        return Err(html_error(
            StatusCode::FORBIDDEN,
            "This form was not sent from this browser's sign-in page (CSRF check failed).",
        ));
    }
    Ok((rid, p))
}

/// What the sign-in and consent pages post: the pending request, its CSRF token, and
/// the credentials or the decision.
#[derive(Debug, Deserialize)]
pub(super) struct SignInForm {
    request: String,
    csrf: String,
    username: Option<String>,
    password: Option<String>,
    decision: Option<String>,
}

pub(super) async fn login(State(s): State<Service>, headers: HeaderMap, PageForm(f): PageForm<SignInForm>) -> Response {
    let (rid, mut p) = match pending_for(&s, &headers, &f).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let client = match p.params.get("client_id") {
        Some(id) => s.client(id).await,
        None => None,
    };
    let client = match client {
        Some(c) => c,
        None => return html_error(StatusCode::BAD_REQUEST, "Unknown client.").into_response(),
    };
    let username = f.username.as_deref().unwrap_or_default().trim().to_string();
    let password = f.password.clone().unwrap_or_default();
    let ident = s.config.identity_by_username(&username).filter(|i| constant_eq(&i.password, &password)).cloned();
    let Some(ident) = ident else {
        let mut r = login_page(&s, &rid, &p, "Unknown username or wrong password.", &client);
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let sess = match signed_in_session(&s, &headers, &ident).await {
        Ok(sess) => sess,
        Err(e) => return e.into_response(),
    };
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

pub(super) async fn consent(
    State(s): State<Service>,
    headers: HeaderMap,
    PageForm(f): PageForm<SignInForm>,
) -> Response {
    let (rid, p) = match pending_for(&s, &headers, &f).await {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let Some(sess) = session_of(&s, &headers).await else {
        return html_error(StatusCode::UNAUTHORIZED, "You are not signed in; start again from the application.")
            .into_response();
    };
    if let Some(msg) = unmet(&s, &p.params, Some(&sess)) {
        return html_error(StatusCode::FORBIDDEN, &msg).into_response();
    }
    let _ = s.db.delete("authz", &rid).await;
    let redirect = p.params.get("redirect_uri").cloned().unwrap_or_default();
    let state = p.params.get("state").cloned().unwrap_or_default();
    if f.decision.as_deref() != Some("allow") {
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
    let offline = rec.access_type == "offline";
    let recorded = super::consents::record(&s, &rec.identity, &rec.client_id, &rec.scope, offline).await;
    if recorded.is_err() || s.db.put("code", &code, &rec, Some(now() + 600)).await.is_err() {
        return html_error(StatusCode::INTERNAL_SERVER_ERROR, "Could not store the code.").into_response();
    }
    redirect_with(&redirect, &[("code", &code), ("state", &state)])
}

pub(super) async fn auth_code_page(Query(q): Query<HashMap<String, String>>) -> Response {
    match (q.get("code"), q.get("error")) {
        (Some(c), _) => render(&CodePage { title: "Authorization code", code: c }),
        (None, Some(e)) => html_error(StatusCode::BAD_REQUEST, &format!("Authorization failed: {e}")).into_response(),
        _ => html_error(StatusCode::BAD_REQUEST, "No code.").into_response(),
    }
}
