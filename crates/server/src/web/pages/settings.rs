//! `/settings`: profile, linked identities, Globus groups, API tokens, the Globus
//! connection.

use super::{When, render};
use crate::web::{WebResult, Who, cookies, form_session, redirect_with_cookies, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_app::App;
use gantry_app::identity::WebSession;
use gantry_app::rows::{IdentityRow, User};
use gantry_domain::{Error, TokenScope, time};
use serde::{Deserialize, Serialize};

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub created: When,
    pub last_used: Option<When>,
    pub expires: Option<When>,
    pub expired: bool,
}

pub struct GlobusView {
    pub username: String,
    pub connected_at: String,
    pub healthy: bool,
    pub last_error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    who: Option<Who>,
    user: User,
    provider: String,
    csrf: String,
    base: String,
    identities: Vec<IdentityRow>,
    groups: Vec<gantry_app::users::NamedGroup>,
    tokens: Vec<TokenView>,
    new_token: Option<(String, String)>,
    message: Option<String>,
    transfers: bool,
    globus: Option<GlobusView>,
}

async fn page(
    app: &App,
    s: &WebSession,
    new_token: Option<(String, String)>,
    message: Option<String>,
) -> WebResult<Response> {
    let u = s.user();
    let tokens = app
        .tokens
        .list(u.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            created: When::at(t.created_at),
            last_used: t.last_used_at.map(When::at),
            expires: t.expires_at.map(When::at),
            expired: t.expires_at.is_some_and(|e| e <= time::now_unix()),
        })
        .collect();
    let globus = match &app.transfers {
        Some(t) => {
            let st = t.status(u.id).await?;
            st.connected.then(|| GlobusView {
                username: st.username.unwrap_or_default(),
                connected_at: st.connected_at.unwrap_or_default(),
                healthy: st.healthy.unwrap_or(false),
                last_error: st.last_error,
            })
        }
        None => None,
    };
    let profile = app.users.profile(u.id).await?;
    let mut r = render(&SettingsPage {
        who: Some(Who::of(app, s)),
        user: u.clone(),
        provider: s.row.provider.clone(),
        csrf: s.csrf().to_string(),
        base: app.public_url.to_string(),
        identities: profile.identities,
        groups: profile.groups,
        tokens,
        new_token,
        message,
        transfers: app.transfers.is_some(),
        globus,
    })?;
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// A token just made, carried to the page that shows it once: sealed for its user,
/// bound to the session, short-lived, and cleared by that page (so a reload shows it
/// no more and creates nothing).
const NEW_TOKEN_COOKIE: &str = "gantry_new_token";
const NEW_TOKEN_SECS: i64 = 120;

#[derive(Serialize, Deserialize)]
struct NewToken {
    session: String,
    secret: String,
    name: String,
    until: i64,
}

/// What a form that changed something says once the browser is sent back here.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
pub(super) enum Done {
    Revoked,
    Disconnected,
}

impl Done {
    fn message(self) -> &'static str {
        match self {
            Done::Revoked => "The token was revoked.",
            Done::Disconnected => "Globus is disconnected; the tokens were revoked.",
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ShowQuery {
    done: Option<Done>,
}

fn new_token_of(app: &App, s: &WebSession, headers: &HeaderMap) -> Option<(String, String)> {
    let raw = cookies::cookie(headers, &cookies::cookie_name(app, NEW_TOKEN_COOKIE))?;
    let sealed = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let t: NewToken = app.sealer().open(s.user().id, &sealed).ok()?;
    (t.session == s.csrf() && t.until > time::now_unix()).then_some((t.secret, t.name))
}

pub(super) async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<ShowQuery>,
) -> WebResult<Response> {
    let Some(s) = cookies::session(&app, &headers).await? else {
        return Ok(to_login("/settings"));
    };
    let fresh = new_token_of(&app, &s, &headers);
    let mut r = page(&app, &s, fresh, q.done.map(|d| d.message().to_string())).await?;
    if cookies::cookie(&headers, &cookies::cookie_name(&app, NEW_TOKEN_COOKIE)).is_some() {
        r.headers_mut().append(header::SET_COOKIE, cookies::set_cookie(&app, NEW_TOKEN_COOKIE, "", 0));
    }
    Ok(r)
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    csrf: String,
    name: String,
    scope: TokenScope,
    #[serde(default)]
    expires_days: String,
}

pub(super) async fn create_token(
    State(app): State<App>,
    headers: HeaderMap,
    f: Form<TokenForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let expires_days = match f.expires_days.trim() {
        "" => None,
        d => Some(d.parse().map_err(|_| Error::invalid("expiry is a number of days"))?),
    };
    let t = app.tokens.issue(s.user().id, &f.name, f.scope, expires_days).await?;
    let carried = NewToken {
        session: s.csrf().to_string(),
        secret: t.secret,
        name: t.row.name,
        until: time::now_unix() + NEW_TOKEN_SECS,
    };
    let sealed = URL_SAFE_NO_PAD.encode(app.sealer().seal(s.user().id, &carried)?);
    Ok(redirect_with_cookies(
        "/settings#new-token",
        [cookies::set_cookie(&app, NEW_TOKEN_COOKIE, &sealed, NEW_TOKEN_SECS)],
    ))
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    pub(super) csrf: String,
}

pub(super) async fn revoke_token(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    app.tokens.revoke(s.user().id, id).await?;
    Ok(Redirect::to("/settings?done=revoked").into_response())
}

pub(super) async fn disconnect_globus(
    State(app): State<App>,
    headers: HeaderMap,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    app.transfers()?.disconnect(s.user().id).await?;
    Ok(Redirect::to("/settings?done=disconnected").into_response())
}
