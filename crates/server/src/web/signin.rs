//! Browser sign-in and sign-out pages: local passwords, OpenID Connect providers (Globus
//! and generic) and a facility's user office.

use super::cookies::{self, SESSION_COOKIE};
use super::{CallbackQuery, Peer, WebResult, enc, redirect_with_cookies, safe_next};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gantry_app::App;
use gantry_app::config::ProviderKind;
use gantry_app::identity::signin::SignedIn;
use gantry_domain::{Error, ErrorKind, Result};
use serde::Deserialize;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_page).post(password_login))
        .route("/login/{provider}", get(start_redirect).post(user_office_login))
        .route("/auth/callback/{provider}", get(callback))
        .route("/logout", post(logout))
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    who: Option<super::Who>,
    error: Option<String>,
    next: String,
    next_q: String,
    csrf: String,
    redirects: Vec<(String, String)>,
    offices: Vec<(String, String)>,
    password_login: bool,
    /// After signing out: where to end the Globus session too.
    provider_logouts: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(State(app): State<App>, headers: HeaderMap, q: Query<NextQuery>) -> WebResult<Response> {
    // "Sign in" in the header has no `next`: come back to the page it was clicked on
    // (the browser names it in `Referer`, same-site only by the referrer policy).
    let next = q.next.clone().or_else(|| {
        let r = headers.get(header::REFERER)?.to_str().ok()?;
        let path = r.strip_prefix(&*app.public_url)?;
        (!path.starts_with("/login") && !path.starts_with("/logout")).then(|| path.to_string())
    });
    login_form(&app, &headers, safe_next(next.as_deref()), None, StatusCode::OK)
}

/// The sign-in page (again, with `error`), setting the browser cookie if it is missing.
fn login_form(
    app: &App,
    headers: &HeaderMap,
    next: String,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let (browser, fresh) = cookies::browser_id(app, headers);
    let (providers, password_login) = app.signin.providers();
    let of = |kinds: &[ProviderKind]| {
        providers.iter().filter(|p| kinds.contains(&p.kind)).map(|p| (p.id.clone(), p.title.clone())).collect()
    };
    let page = LoginPage {
        who: None,
        error,
        next_q: enc(&next),
        next,
        csrf: app.sessions.form_token(&browser),
        redirects: of(&[ProviderKind::Globus, ProviderKind::Oidc]),
        offices: of(&[ProviderKind::UserOffice]),
        password_login,
        provider_logouts: if signed_out(app, headers) {
            app.signin.globus_logouts(&format!("{}/login", app.public_url))
        } else {
            vec![]
        },
    };
    let mut r = (status, Html(page.render().map_err(|e| Error::internal(e.to_string()))?)).into_response();
    if let Some(c) = fresh {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

#[derive(Deserialize)]
struct PasswordForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

/// After a password or user-office sign-in: in, or the form again with why not.
fn signed_in(app: &App, headers: &HeaderMap, next: String, outcome: Result<SignedIn>) -> WebResult<Response> {
    match outcome {
        Ok(s) => Ok(redirect_with_cookies(&next, [cookies::session_cookie(app, &s.session)])),
        Err(e) if e.kind == ErrorKind::Unauthorized => {
            login_form(app, headers, next, Some(e.message), StatusCode::UNAUTHORIZED)
        }
        Err(e) if e.kind == ErrorKind::TooManyRequests => {
            login_form(app, headers, next, Some(e.message), StatusCode::TOO_MANY_REQUESTS)
        }
        Err(e) => Err(e.into()),
    }
}

async fn password_login(
    State(app): State<App>,
    Peer(from): Peer,
    headers: HeaderMap,
    f: Form<PasswordForm>,
) -> WebResult<Response> {
    app.sessions.check_form_token(&cookies::browser_of(&app, &headers), &f.csrf)?;
    let outcome = app.signin.password(&f.username, &f.password, from).await;
    signed_in(&app, &headers, safe_next(f.next.as_deref()), outcome)
}

async fn user_office_login(
    State(app): State<App>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Peer(from): Peer,
    f: Form<PasswordForm>,
) -> WebResult<Response> {
    app.sessions.check_form_token(&cookies::browser_of(&app, &headers), &f.csrf)?;
    let outcome = app.signin.user_office(&provider, &f.username, &f.password, from).await;
    signed_in(&app, &headers, safe_next(f.next.as_deref()), outcome)
}

/// Starts a sign-in at an OpenID Connect provider.
async fn start_redirect(
    State(app): State<App>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    q: Query<NextQuery>,
) -> WebResult<Response> {
    let (browser, fresh) = cookies::browser_id(&app, &headers);
    let after_sign_out = signed_out(&app, &headers);
    let url = app.signin.begin(&provider, &browser, &safe_next(q.next.as_deref()), after_sign_out).await?;
    Ok(redirect_with_cookies(&url, fresh))
}

/// The provider sends the browser back here with a code.
async fn callback(
    State(app): State<App>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> WebResult<Response> {
    let browser = cookies::browser_of(&app, &headers);
    let s = app.signin.finish(&provider, &q.into(), &browser).await?;
    let cleared = cookies::set_cookie(&app, SIGNED_OUT_COOKIE, "", 0);
    Ok(redirect_with_cookies(&s.return_to, [cookies::session_cookie(&app, &s.session), cleared]))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Ends the session and revokes the Globus tokens it held.
async fn logout(State(app): State<App>, headers: HeaderMap, f: Form<CsrfForm>) -> WebResult<Response> {
    let gone = cookies::set_cookie(&app, SESSION_COOKIE, "", 0);
    let Some(s) = cookies::session(&app, &headers).await? else {
        return Ok(redirect_with_cookies("/login", [gone]));
    };
    s.check_csrf(&f.csrf)?;
    app.signin.sign_out(&s).await?;
    // The next sign-in with a provider asks for a password again (a shared kiosk must
    // not hand the next person the last one's account), and the sign-in page offers to
    // end the provider's session too.
    let mark = cookies::set_cookie(&app, SIGNED_OUT_COOKIE, "1", SIGNED_OUT_SECS);
    Ok(redirect_with_cookies("/login", [gone, mark]))
}

/// Set when this browser signed out of Gantry, until it signs in with a provider again.
const SIGNED_OUT_COOKIE: &str = "gantry_signed_out";
const SIGNED_OUT_SECS: i64 = 7 * 24 * 3600;

fn signed_out(app: &App, headers: &HeaderMap) -> bool {
    cookies::cookie(headers, &cookies::cookie_name(app, SIGNED_OUT_COOKIE)).is_some_and(|v| v == "1")
}
