//! The page where a signed-in user approves (or denies) a CLI's device sign-in.

use super::{WebResult, Who, cookies, safe_next, to_login};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use gantry_app::App;
use gantry_app::identity::device::normalize;
use gantry_domain::{Error, TokenScope};
use serde::Deserialize;

pub fn routes() -> Router<App> {
    Router::new().route("/device", get(page).post(decide))
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    who: Option<Who>,
    username: String,
    csrf: String,
    code: String,
    client_name: String,
    show_form: bool,
    message: Option<String>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct CodeQuery {
    code: Option<String>,
}

async fn page(State(app): State<App>, headers: HeaderMap, q: Query<CodeQuery>) -> WebResult<Response> {
    let code = normalize(q.code.as_deref().unwrap_or(""));
    let Some(s) = cookies::session(&app, &headers).await? else {
        let here = if code.is_empty() { "/device".to_string() } else { format!("/device?code={code}") };
        return Ok(to_login(&safe_next(Some(&here))));
    };
    let p = DevicePage {
        who: Some(Who::of(&app, &s)),
        username: s.user().username.clone(),
        csrf: s.csrf().to_string(),
        client_name: app.devices.client_name(&code).await?,
        code,
        show_form: true,
        message: None,
        error: None,
    };
    Ok(Html(p.render().map_err(|e| Error::internal(e.to_string()))?).into_response())
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    user_code: String,
    decision: String,
    /// `read` or `write` (the default).
    #[serde(default)]
    scope: Option<TokenScope>,
    /// Days the token lives; `never` for no expiry; 90 if not chosen.
    #[serde(default)]
    expires: Option<String>,
}

async fn decide(State(app): State<App>, headers: HeaderMap, f: Form<DecideForm>) -> WebResult<Response> {
    let s = super::form_session(&app, &headers, &f.csrf).await?;
    let approve = f.decision == "approve";
    let days = match f.expires.as_deref() {
        Some("never") => None,
        Some(d) => Some(d.parse::<u32>().map_err(|_| Error::invalid("choose how long the token lives"))?),
        None => Some(90),
    };
    let choice = approve.then(|| (f.scope.unwrap_or(TokenScope::Write), days));
    let decided = app.devices.decide(&f.user_code, s.user().id, choice).await?;
    let (status, message, error) = match (decided, approve) {
        (true, true) => (StatusCode::OK, Some("Approved. You can close this page and go back to the terminal."), None),
        (true, false) => (StatusCode::OK, Some("Denied. The program was not signed in."), None),
        (false, _) => (
            StatusCode::BAD_REQUEST,
            None,
            Some("That code is unknown, expired or already used. Check the code in the terminal."),
        ),
    };
    let p = DevicePage {
        who: Some(Who::of(&app, &s)),
        username: s.user().username.clone(),
        csrf: s.csrf().to_string(),
        code: normalize(&f.user_code),
        client_name: String::new(),
        show_form: !decided,
        message: message.map(str::to_string),
        error: error.map(str::to_string),
    };
    Ok((status, Html(p.render().map_err(|e| Error::internal(e.to_string()))?)).into_response())
}
