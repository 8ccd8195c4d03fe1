//! `/settings`: profile, linked identities, Globus groups, API tokens, the Globus
//! connection.

use super::render;
use crate::web::{WebResult, Who, cookies, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use gantry_app::App;
use gantry_app::identity::WebSession;
use gantry_app::rows::{IdentityRow, User};
use gantry_domain::{Error, TokenScope, time};
use serde::Deserialize;

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub created: String,
    pub last_used: String,
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
    groups: Vec<String>,
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
            created: time::rfc3339(t.created_at),
            last_used: t.last_used_at.map(time::rfc3339).unwrap_or_else(|| "never".into()),
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
        who: Some(Who::of(s)),
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

pub(super) async fn show(State(app): State<App>, headers: HeaderMap) -> WebResult<Response> {
    match cookies::session(&app, &headers).await? {
        Some(s) => page(&app, &s, None, None).await,
        None => Ok(to_login("/settings")),
    }
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
    page(&app, &s, Some((t.secret, t.row.name)), None).await
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
    page(&app, &s, None, Some("The token was revoked.".into())).await
}

pub(super) async fn disconnect_globus(
    State(app): State<App>,
    headers: HeaderMap,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    app.transfers()?.disconnect(s.user().id).await?;
    page(&app, &s, None, Some("Globus is disconnected; the tokens were revoked.".into())).await
}
