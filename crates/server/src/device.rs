//! Signing in the command line without pasting tokens, in the manner of OAuth's device
//! authorization grant: the CLI gets a device code and a short user code, the user
//! approves the user code in a signed-in browser, and the CLI, polling, receives an API
//! token once.

use crate::api::ApiError;
use crate::auth::{hash_token, new_api_token, random_token};
use crate::session::same_secret;
use crate::state::AppState;
use crate::web::{WebError, safe_next};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use gantry_domain::{Error, TokenScope, time::now_unix};
use serde::Deserialize;
use serde_json::{Value, json};

/// How long a device login may wait for approval, and how often the CLI may ask.
const DEVICE_SECS: i64 = 600;
const INTERVAL_SECS: i64 = 2;
/// User codes avoid vowels and look-alike characters.
const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/device/authorize", post(authorize))
        .route("/api/v1/device/token", post(token))
        .route("/api/v1/auth", get(auth_info))
        .route("/device", get(page).post(decide))
}

fn user_code() -> String {
    let mut raw = [0u8; 8];
    getrandom::fill(&mut raw).expect("random source");
    let c: String = raw.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{}-{}", &c[..4], &c[4..])
}

/// Upper-cases and re-inserts the dash, so `bcdf ghjk` and `BCDF-GHJK` are the same code.
fn normalize(code: &str) -> String {
    let c: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if c.len() == 8 { format!("{}-{}", &c[..4], &c[4..]) } else { c }
}

#[derive(Deserialize, Default)]
struct AuthorizeBody {
    #[serde(default)]
    client_name: String,
}

async fn authorize(State(st): State<AppState>, body: Option<Json<AuthorizeBody>>) -> Result<Json<Value>, ApiError> {
    let name: String = body.map(|b| b.0.client_name).unwrap_or_default().chars().take(100).collect();
    st.store.purge_device_logins().await?;
    let device_code = random_token(32);
    let code = user_code();
    st.store.create_device_login(&hash_token(&device_code), &code, &name, now_unix() + DEVICE_SECS).await?;
    let uri = format!("{}/device", st.public_url);
    Ok(Json(json!({
        "device_code": device_code, "user_code": code, "verification_uri": uri,
        "verification_uri_complete": format!("{uri}?code={code}"),
        "expires_in": DEVICE_SECS, "interval": INTERVAL_SECS,
    })))
}

#[derive(Deserialize)]
struct TokenBody {
    device_code: String,
}

fn pending(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": error, "error_description": description}))).into_response()
}

async fn token(State(st): State<AppState>, body: Json<TokenBody>) -> Result<Response, ApiError> {
    let hash = hash_token(&body.device_code);
    let Some(d) = st.store.poll_device_login(&hash).await? else {
        return Ok(pending("invalid_grant", "unknown device code"));
    };
    let now = now_unix();
    if d.expires_at <= now {
        return Ok(pending("expired_token", "the code expired; run gantry login again"));
    }
    match d.status.as_str() {
        "denied" => return Ok(pending("access_denied", "the sign-in was denied in the browser")),
        "issued" => return Ok(pending("invalid_grant", "this device code was used already")),
        "pending" if d.polled_at.is_some_and(|p| now - p < INTERVAL_SECS - 1) => {
            return Ok(pending("slow_down", "poll less often"));
        }
        "pending" => return Ok(pending("authorization_pending", "waiting for approval in the browser")),
        _ => {}
    }
    // Approved: exactly one poll gets the token.
    if !st.store.claim_device_login(&hash).await? {
        return Ok(pending("invalid_grant", "this device code was used already"));
    }
    let user_id = d.user_id.ok_or_else(|| Error::internal("approved device login without a user"))?;
    let user = st.store.user_by_id(user_id).await?.ok_or_else(|| Error::unauthorized("the user no longer exists"))?;
    let token = new_api_token();
    let name = if d.client_name.is_empty() { "gantry login".to_string() } else { d.client_name.clone() };
    st.store.create_token(user.id, &name, TokenScope::Write, &hash_token(&token), None).await?;
    Ok(Json(json!({"token": token, "username": user.username, "scope": "write"})).into_response())
}

/// What a client needs to sign in: providers, and Globus for `gantry login --globus`.
async fn auth_info(State(st): State<AppState>) -> Json<Value> {
    let providers: Vec<Value> =
        st.config.providers.iter().map(|p| json!({"id": p.id, "kind": p.kind, "name": p.title()})).collect();
    let globus = st.config.resource_server.as_ref().map(|rs| {
        json!({"auth_url": rs.auth_url(), "native_client_id": rs.native_client_id, "scope": rs.scope(),
               "resource_server": rs.client_id})
    });
    Json(json!({"providers": providers, "password_login": st.config.password_login,
                "device_login": format!("{}/api/v1/device/authorize", st.public_url), "globus": globus}))
}

#[derive(Template)]
#[template(path = "device.html")]
struct DevicePage {
    who: Option<crate::web::Who>,
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

async fn page(State(st): State<AppState>, headers: HeaderMap, q: Query<CodeQuery>) -> Result<Response, WebError> {
    let code = normalize(q.code.as_deref().unwrap_or(""));
    let Some(s) = st.web_session(&headers).await? else {
        let here = if code.is_empty() { "/device".to_string() } else { format!("/device?code={code}") };
        let next = percent_encoding::utf8_percent_encode(&safe_next(Some(&here)), percent_encoding::NON_ALPHANUMERIC)
            .to_string();
        return Ok(Redirect::to(&format!("/login?next={next}")).into_response());
    };
    let client_name = match st.store.device_login_by_code(&code).await? {
        Some(d) => d.client_name,
        None => String::new(),
    };
    let p = DevicePage {
        who: Some(crate::web::Who::of(&s)),
        username: s.row.user.username.clone(),
        csrf: s.row.csrf,
        code,
        client_name,
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
}

async fn decide(State(st): State<AppState>, headers: HeaderMap, f: Form<DecideForm>) -> Result<Response, WebError> {
    let Some(s) = st.web_session(&headers).await? else {
        return Err(Error::unauthorized("sign in first").into());
    };
    if !same_secret(&f.csrf, &s.row.csrf) {
        return Err(
            Error::denied("the form has expired or did not come from this site; reload it and try again").into()
        );
    }
    let code = normalize(&f.user_code);
    let approve = f.decision == "approve";
    let decided = st.store.decide_device_login(&code, s.row.user.id, approve).await?;
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
        who: Some(crate::web::Who::of(&s)),
        username: s.row.user.username.clone(),
        csrf: s.row.csrf,
        code,
        client_name: String::new(),
        show_form: !decided,
        message: message.map(str::to_string),
        error: error.map(str::to_string),
    };
    Ok((status, Html(p.render().map_err(|e| Error::internal(e.to_string()))?)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_codes() {
        let c = super::user_code();
        assert_eq!(c.len(), 9);
        assert!(c.chars().all(|x| x == '-' || super::ALPHABET.contains(&(x as u8))), "{c}");
        assert_eq!(super::normalize("bcdf ghjk"), "BCDF-GHJK");
        assert_eq!(super::normalize("BCDF-GHJK"), "BCDF-GHJK");
    }
}
