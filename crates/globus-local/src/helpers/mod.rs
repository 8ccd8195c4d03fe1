//! Helper pages for web applications, as Globus offers them: Browse Collections (a user
//! picks a collection, a folder and files, and the choice is sent to the application's
//! `action` URL), Select Group (the same for one of the user's groups) and Auth's account
//! pages (identities, consents, logout), with the service's own sign-in in front of them.

mod account;
mod browse;
mod select_group;

use crate::auth::grants::{cookie, set_cookie};
use crate::auth::pages::{session_of, signed_in_session};
use crate::auth::records::{Session, sha_hex};
use crate::error::{GResult, GlobusError, html_error, render};
use crate::filter::Params;
use crate::service::Service;
use crate::wire::PageForm;
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/helpers/login", get(login_form).post(login))
        .route("/helpers/browse-collections", get(browse::page))
        .route("/v2/web/identities", get(account::identities))
        .route("/v2/web/consents", get(account::consents))
        .route("/v2/web/consents/rescind", axum::routing::post(account::rescind))
        .route("/v2/web/logout", get(account::logout))
        .route("/helpers/browse-collections/submit", axum::routing::post(browse::submit))
        .route("/helpers/select-group", get(select_group::page))
        .route("/favicon.ico", get(icon))
        .route("/helpers/select-group/submit", axum::routing::post(select_group::submit))
}

/// The icon browsers ask the service's pages for.
async fn icon() -> Response {
    const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\"><circle cx=\"16\" cy=\"16\" r=\"15\" fill=\"#2b6cb0\"/><path d=\"M8 16h16M16 8v16\" stroke=\"#fff\" stroke-width=\"3\"/></svg>";
    ([(header::CONTENT_TYPE, "image/svg+xml"), (header::CACHE_CONTROL, "public, max-age=86400")], ICON).into_response()
}

#[derive(Template)]
#[template(path = "helper_login.html")]
struct LoginPage<'a> {
    title: &'a str,
    message: &'a str,
    next: &'a str,
}

/// Only the helper pages themselves are followed after signing in.
fn local_next(next: Option<&str>) -> &str {
    let helper = |n: &str| {
        (n.starts_with("/helpers/") && !n.starts_with("/helpers/login"))
            || n.starts_with("/v2/web/identities")
            || n.starts_with("/v2/web/consents")
    };
    match next {
        Some(n) if helper(n) && !n.contains("//") => n,
        _ => "/helpers/browse-collections",
    }
}

#[derive(Debug, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(Query(q): Query<NextQuery>) -> Response {
    let next = local_next(q.next.as_deref());
    render(&LoginPage { title: "Sign in", message: "Sign in to continue.", next })
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(State(s): State<Service>, headers: HeaderMap, PageForm(f): PageForm<LoginForm>) -> Response {
    let next = local_next(f.next.as_deref()).to_string();
    let ident = s
        .config
        .identity_by_username(f.username.trim())
        .filter(|i| crate::auth::grants::constant_eq(&i.password, &f.password));
    let Some(ident) = ident.cloned() else {
        let mut r =
            render(&LoginPage { title: "Sign in", message: "Unknown username or wrong password.", next: &next });
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    let sess = match signed_in_session(&s, &headers, &ident).await {
        Ok(sess) => sess,
        Err(e) => return e.into_response(),
    };
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, next)]).into_response();
    set_cookie(&mut r, "gl_session", &sess.id, s.base_url.starts_with("https"));
    r
}

/// The browser's session, or a redirect to the helper sign-in that comes back to `here`.
async fn signed_in(s: &Service, headers: &HeaderMap, here: &str) -> Result<Session, Response> {
    if cookie(headers, "gl_session").is_some()
        && let Some(sess) = session_of(s, headers).await
    {
        return Ok(sess);
    }
    let to = format!("/helpers/login?next={}", crate::auth::urlencode(here));
    Err((StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response())
}

fn bad(msg: &str) -> GlobusError {
    html_error(StatusCode::BAD_REQUEST, msg)
}

/// Where a helper page sends its result: the application's `action` URL, by `method`
/// (POST unless GET is asked for), and where its Cancel link goes.
struct Callback {
    action: String,
    method: &'static str,
    cancel: Option<String>,
}

fn web_url(u: &str) -> bool {
    (u.starts_with("https://") || u.starts_with("http://")) && !u.chars().any(|c| c.is_whitespace() || c == '"')
}

fn callback(p: &Params) -> GResult<Callback> {
    let action =
        p.get("action").filter(|a| web_url(a)).ok_or_else(|| bad("action must be the application's http(s) URL"))?;
    let method = match p.get("method").map(str::to_ascii_uppercase).as_deref() {
        None | Some("POST") => "POST",
        Some("GET") => "GET",
        Some(_) => return Err(bad("method must be POST or GET")),
    };
    let cancel = match p.get("cancelurl") {
        Some(c) if web_url(c) => Some(c.to_string()),
        Some(_) => return Err(bad("cancelurl must be an http(s) URL")),
        None => None,
    };
    Ok(Callback { action: action.to_string(), method, cancel })
}

/// The page's own parameters among `keys`, which it carries along and echoes back.
fn echoed(p: &Params, keys: &[&str]) -> Vec<(String, String)> {
    keys.iter().filter_map(|k| p.get(k).map(|v| (k.to_string(), v.to_string()))).collect()
}

/// The form token of a session for one page: only its holder (whose cookie is
/// HttpOnly) knows it.
fn csrf_of(purpose: &str, sess: &Session) -> String {
    sha_hex(&format!("{purpose}|{}", sess.id))
}

/// The session that sent a helper's form from that helper's own page (its CSRF token
/// for `purpose`), or the error page to answer with.
async fn form_session(s: &Service, headers: &HeaderMap, purpose: &str, p: &Params) -> Result<Session, Response> {
    let Some(sess) = session_of(s, headers).await else {
        return Err(html_error(StatusCode::UNAUTHORIZED, "You are not signed in; start again from the application.")
            .into_response());
    };
    if !p.get("csrf").is_some_and(|t| crate::auth::grants::constant_eq(t, &csrf_of(purpose, &sess))) {
        return Err(html_error(StatusCode::FORBIDDEN, "This form was not sent from this page (CSRF check failed).")
            .into_response());
    }
    Ok(sess)
}

fn query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", crate::auth::urlencode(k), crate::auth::urlencode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The page that sends a helper's result on to the application.
#[derive(Template)]
#[template(path = "helper_result.html")]
struct ResultPage<'a> {
    title: &'a str,
    summary: &'a str,
    method: &'a str,
    action: &'a str,
    fields: Vec<(String, String)>,
}
