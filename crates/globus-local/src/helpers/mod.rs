//! Helper pages for web applications, as Globus offers them: Browse Collections (a user
//! picks a collection, a folder and files, and the choice is sent to the application's
//! `action` URL) and Auth's account pages (identities, consents, logout), with the
//! service's own sign-in in front of them.

mod account;
mod browse;

use crate::auth::grants::{cookie, set_cookie};
use crate::auth::pages::{session_of, signed_in_session};
use crate::auth::records::Session;
use crate::error::{GlobusError, html_error, render};
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
    render(&LoginPage { title: "Sign in", message: "Sign in to choose files.", next })
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
