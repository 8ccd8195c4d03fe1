//! Browser sign-in and sign-out: local passwords, OpenID Connect providers (Globus and
//! generic) and a facility's user office.

use crate::auth::{hash_token, random_token, verify_password};
use crate::config::ProviderKind;
use crate::oidc::pkce_pair;
use crate::session::{BROWSER_COOKIE, LOGIN_FLOW_SECS, SESSION_COOKIE, WebSession};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gantry_domain::{Error, ErrorKind, time::now_unix};
use gantry_store::{LoginFlow, NewIdentity};
use serde::Deserialize;
use serde_json::Value;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(password_login))
        .route("/login/{provider}", get(start_redirect).post(user_office_login))
        .route("/auth/callback/{provider}", get(callback))
        .route("/logout", post(logout))
}

/// An error shown as a page.
pub struct WebError(pub Error);

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError(e)
    }
}

/// The signed-in visitor, as the page header shows them.
pub struct Who {
    pub username: String,
    pub is_admin: bool,
    pub csrf: String,
}

impl Who {
    pub fn of(s: &WebSession) -> Who {
        Who { username: s.row.user.username.clone(), is_admin: s.row.user.is_admin, csrf: s.row.csrf.clone() }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    title: &'a str,
    message: &'a str,
    link: &'a str,
    link_text: &'a str,
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == ErrorKind::Internal {
            tracing::error!("internal error: {}", e.message);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        use ErrorKind::*;
        let title = match e.kind {
            Unauthorized => "Sign-in needed",
            Denied => "Not allowed",
            Unavailable => "Service unavailable",
            NotFound | NameUnknown | ManifestUnknown | BlobUnknown => "Not found",
            Invalid | NameInvalid | DigestInvalid => "Not valid",
            Conflict => "Not possible now",
            TooManyRequests => "Too many at once",
            _ => "Something went wrong",
        };
        let (link, link_text) = if e.kind == Unauthorized { ("/login", "Sign in") } else { ("/", "Home") };
        let page = MessagePage { title, message: e.public_message(), link, link_text };
        (status, Html(page.render().unwrap_or_default())).into_response()
    }
}

type WebResult<T> = std::result::Result<T, WebError>;

/// Only paths on this site are followed after sign-in (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') && !n.contains("://") => n.into(),
        _ => "/".into(),
    }
}

fn redirect_with_cookies(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = Redirect::to(to).into_response();
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    who: Option<Who>,
    error: Option<String>,
    next: String,
    next_q: String,
    csrf: String,
    redirects: Vec<(String, String)>,
    offices: Vec<(String, String)>,
    password_login: bool,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(State(st): State<AppState>, headers: HeaderMap, q: Query<NextQuery>) -> WebResult<Response> {
    login_form(&st, &headers, safe_next(q.next.as_deref()), None, StatusCode::OK)
}

/// The sign-in page (again, with `error`), setting the browser cookie if it is missing.
fn login_form(
    st: &AppState,
    headers: &HeaderMap,
    next: String,
    error: Option<String>,
    status: StatusCode,
) -> WebResult<Response> {
    let (browser, fresh) = st.browser_id(headers);
    let providers = |kinds: &[ProviderKind]| {
        st.config
            .providers
            .iter()
            .filter(|p| kinds.contains(&p.kind))
            .map(|p| (p.id.clone(), p.title().to_string()))
            .collect::<Vec<_>>()
    };
    let page = LoginPage {
        who: None,
        error,
        next_q: percent_encoding::utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC).to_string(),
        next,
        csrf: st.login_csrf(&browser),
        redirects: providers(&[ProviderKind::Globus, ProviderKind::Oidc]),
        offices: providers(&[ProviderKind::UserOffice]),
        password_login: st.config.password_login,
    };
    let mut r = (status, Html(page.render().map_err(|e| Error::internal(e.to_string()))?)).into_response();
    if fresh {
        r.headers_mut().append(header::SET_COOKIE, st.set_cookie(BROWSER_COOKIE, &browser, 24 * 3600));
    }
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

fn locked_message(wait_secs: u64) -> String {
    format!("Too many failed sign-ins for this account; try again in {} minutes.", wait_secs.div_ceil(60))
}

#[derive(Deserialize)]
struct PasswordForm {
    username: String,
    password: String,
    csrf: String,
    next: Option<String>,
}

async fn password_login(State(st): State<AppState>, headers: HeaderMap, f: Form<PasswordForm>) -> WebResult<Response> {
    st.check_login_csrf(&headers, &f.csrf)?;
    let next = safe_next(f.next.as_deref());
    if !st.config.password_login {
        return Err(Error::denied("password sign-in is turned off on this server").into());
    }
    let account = format!("password:{}", f.username.trim());
    if let Some(wait) = st.login_limiter.locked(&account) {
        return login_form(&st, &headers, next, Some(locked_message(wait)), StatusCode::TOO_MANY_REQUESTS);
    }
    let found = st.store.password_hash(f.username.trim()).await?;
    // Unknown users cost the same as known ones: a hash is always checked.
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| crate::auth::hash_password("no such user, no such password").unwrap_or_default());
    let hash = found.as_ref().and_then(|(_, h)| h.clone());
    let ok = verify_password(&f.password, hash.as_deref().unwrap_or(&DUMMY)) && hash.is_some();
    let Some((user, _)) = found.filter(|_| ok) else {
        st.login_limiter.failed(&account);
        let msg = "Wrong username or password.".to_string();
        return login_form(&st, &headers, next, Some(msg), StatusCode::UNAUTHORIZED);
    };
    st.login_limiter.succeeded(&account);
    let cookie = st.start_session(&user, "password", None).await?;
    Ok(redirect_with_cookies(&next, vec![cookie]))
}

/// Starts a sign-in at an OpenID Connect provider.
async fn start_redirect(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    q: Query<NextQuery>,
) -> WebResult<Response> {
    let oidc = st.oidc.get(&provider).ok_or_else(|| Error::not_found(format!("no sign-in provider {provider:?}")))?;
    let meta = oidc.metadata(false).await?;
    let (browser, fresh) = st.browser_id(&headers);
    let state = random_token(32);
    let nonce = random_token(16);
    let (verifier, challenge) = pkce_pair();
    st.store.purge_login_flows(now_unix() - LOGIN_FLOW_SECS).await?;
    st.store
        .put_login_flow(
            &hash_token(&state),
            &LoginFlow {
                browser_hash: hash_token(&browser),
                provider: provider.clone(),
                nonce: nonce.clone(),
                verifier,
                return_to: safe_next(q.next.as_deref()),
                created_at: now_unix(),
            },
        )
        .await?;
    let url = oidc.authorize_url(
        &meta,
        &crate::oidc::AuthRequest {
            redirect_uri: &redirect_uri(&st, &provider),
            state: &state,
            nonce: &nonce,
            challenge: &challenge,
        },
        &[],
        &[],
    )?;
    let cookies = if fresh { vec![st.set_cookie(BROWSER_COOKIE, &browser, 24 * 3600)] } else { vec![] };
    Ok(redirect_with_cookies(&url, cookies))
}

fn redirect_uri(st: &AppState, provider: &str) -> String {
    format!("{}/auth/callback/{provider}", st.public_url)
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// The provider sends the browser back here with a code.
async fn callback(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    q: Query<CallbackQuery>,
) -> WebResult<Response> {
    let oidc = st.oidc.get(&provider).ok_or_else(|| Error::not_found(format!("no sign-in provider {provider:?}")))?;
    let restart = "start again from the sign-in page";
    let state = q.state.as_deref().ok_or_else(|| Error::invalid(format!("the provider sent no state; {restart}")))?;
    // A state is good once: taking it removes it.
    let flow = st.store.take_login_flow(&hash_token(state)).await?.ok_or_else(|| {
        Error::invalid(format!("this sign-in was already used, has expired or is unknown; {restart}"))
    })?;
    if let Some(e) = &q.error {
        let why = q.error_description.as_deref().unwrap_or(e);
        return Err(Error::unauthorized(format!("the provider did not sign you in: {why}")).into());
    }
    if flow.provider != provider {
        return Err(Error::invalid(format!("this sign-in was started with another provider; {restart}")).into());
    }
    let browser = crate::session::cookie(&headers, &st.cookie_name(BROWSER_COOKIE)).unwrap_or_default();
    if !crate::session::same_secret(&hash_token(&browser), &flow.browser_hash) {
        return Err(Error::denied(format!("this sign-in was started in another browser; {restart}")).into());
    }
    if flow.created_at + LOGIN_FLOW_SECS < now_unix() {
        return Err(Error::invalid(format!("this sign-in took too long; {restart}")).into());
    }
    let code = q.code.as_deref().ok_or_else(|| Error::invalid("the provider sent no code"))?;
    let meta = oidc.metadata(false).await?;
    let tokens = oidc.exchange(&meta, code, &redirect_uri(&st, &provider), &flow.verifier).await?;
    let id_token = tokens["id_token"].as_str().ok_or_else(|| Error::unauthorized("the provider sent no ID token"))?;
    let claims = oidc.verify_id_token(id_token, &flow.nonce).await?;
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let claims = Value::Object(claims);
    let sub = s(&claims, "sub");
    if sub.is_empty() {
        return Err(Error::unauthorized("the ID token names no subject").into());
    }
    let username = [s(&claims, "preferred_username"), s(&claims, "email"), sub.clone()]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or_default();
    let mut ids = vec![NewIdentity {
        provider: provider.clone(),
        subject: sub.clone(),
        username,
        name: s(&claims, "name"),
        email: s(&claims, "email"),
    }];
    let mut groups = None;
    let mut kept = None;
    if oidc.cfg.kind == ProviderKind::Globus {
        // Globus names the linked identities of the same person.
        for i in claims["identity_set"].as_array().into_iter().flatten() {
            if s(i, "sub") != sub && !s(i, "sub").is_empty() {
                ids.push(NewIdentity {
                    provider: provider.clone(),
                    subject: s(i, "sub"),
                    username: s(i, "username"),
                    name: s(i, "name"),
                    email: s(i, "email"),
                });
            }
        }
        groups = my_groups(&st, oidc.cfg.groups_url(), &tokens).await;
        kept = Some(tokens.clone());
    }
    let user = st.provision(&ids, groups.as_deref()).await?;
    tracing::info!(user = user.username, provider, "signed in");
    let cookie = st.start_session(&user, &provider, kept.as_ref()).await?;
    Ok(redirect_with_cookies(&flow.return_to, vec![cookie]))
}

/// The ids of the user's Globus groups, through the groups token of the sign-in; None
/// (groups left as they were) if Groups cannot be asked.
async fn my_groups(st: &AppState, groups_url: String, tokens: &Value) -> Option<Vec<String>> {
    let token = gantry_globus::token_for(tokens, "groups.api.globus.org")?["access_token"].as_str()?.to_string();
    let url = format!("{groups_url}/v2/groups/my_groups");
    match st.http.get(&url).bearer_auth(token).send().await {
        Ok(r) if r.status().is_success() => match r.json::<Vec<Value>>().await {
            Ok(v) => Some(v.iter().filter_map(|g| g["id"].as_str().map(str::to_string)).collect()),
            Err(e) => {
                tracing::warn!("Globus Groups answered something unexpected: {e}");
                None
            }
        },
        Ok(r) => {
            tracing::warn!(status = %r.status(), "Globus Groups refused my_groups");
            None
        }
        Err(e) => {
            tracing::warn!("cannot reach Globus Groups: {e}");
            None
        }
    }
}

/// Signs in through a facility's user office: the password goes to the office, and the
/// identity is the one the office confirms, never the one typed in.
async fn user_office_login(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(provider): Path<String>,
    f: Form<PasswordForm>,
) -> WebResult<Response> {
    st.check_login_csrf(&headers, &f.csrf)?;
    let next = safe_next(f.next.as_deref());
    let cfg = st
        .config
        .provider(&provider)
        .filter(|p| p.kind == ProviderKind::UserOffice)
        .ok_or_else(|| Error::not_found(format!("no sign-in provider {provider:?}")))?;
    let url = cfg.url.clone().unwrap_or_default();
    let office = cfg.title().to_string();
    let account = format!("{provider}:{}", f.username.trim());
    if let Some(wait) = st.login_limiter.locked(&account) {
        return login_form(&st, &headers, next, Some(locked_message(wait)), StatusCode::TOO_MANY_REQUESTS);
    }
    let r = st
        .http
        .post(&url)
        .form(&[("username", f.username.trim()), ("password", f.password.as_str())])
        .send()
        .await
        .map_err(|e| Error::new(ErrorKind::Unavailable, format!("cannot reach {office}: {e}")))?;
    match r.status() {
        StatusCode::OK => {}
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            st.login_limiter.failed(&account);
            let msg = format!("{office} did not accept that username and password.");
            return login_form(&st, &headers, next, Some(msg), StatusCode::UNAUTHORIZED);
        }
        s => return Err(Error::new(ErrorKind::Unavailable, format!("{office} answered {s}; try again later")).into()),
    }
    let body: Value = r.json().await.unwrap_or(Value::Null);
    let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().trim().to_string();
    let confirmed = s("username");
    if confirmed.is_empty() {
        return Err(
            Error::new(ErrorKind::Unavailable, format!("{office} accepted the password but named no user")).into()
        );
    }
    let id = NewIdentity {
        provider: provider.clone(),
        subject: [s("id"), confirmed.clone()].into_iter().find(|x| !x.is_empty()).unwrap_or_default(),
        username: confirmed,
        name: s("name"),
        email: s("email"),
    };
    st.login_limiter.succeeded(&account);
    let user = st.provision(&[id], None).await?;
    let cookie = st.start_session(&user, &provider, None).await?;
    Ok(redirect_with_cookies(&next, vec![cookie]))
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

/// Ends the session and revokes the Globus tokens it held.
async fn logout(State(st): State<AppState>, headers: HeaderMap, f: Form<CsrfForm>) -> WebResult<Response> {
    let Some(WebSession { id_hash, row }) = st.web_session(&headers).await? else {
        return Ok(redirect_with_cookies("/login", vec![st.set_cookie(SESSION_COOKIE, "", 0)]));
    };
    if !crate::session::same_secret(&row.csrf, &f.csrf) {
        return Err(
            Error::denied("the form has expired or did not come from this site; reload it and try again").into()
        );
    }
    if let Some(Some(sealed)) = st.store.delete_session(&id_hash).await?
        && let Some(oidc) = st.oidc.get(&row.provider)
    {
        let tokens = st.open_sealed(row.user.id, &sealed)?;
        for v in gantry_globus::secrets_of(&tokens) {
            oidc.revoke(v).await;
        }
    }
    Ok(redirect_with_cookies("/login", vec![st.set_cookie(SESSION_COOKIE, "", 0)]))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed() {
        use super::safe_next;
        assert_eq!(safe_next(Some("/collections/x?y=1")), "/collections/x?y=1");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/x?u=http://e"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
