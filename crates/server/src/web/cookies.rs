//! The web's cookies: the session, and the browser id that binds sign-ins under way and
//! pre-sign-in forms to one browser. HttpOnly, SameSite=Lax (the provider's redirect
//! back is a top-level GET); over HTTPS also Secure with the `__Host-` prefix.

use axum::http::{HeaderMap, HeaderValue, header};
use gantry_app::App;
use gantry_app::identity::WebSession;
use gantry_app::secrets::random_token;
use gantry_domain::Result;

pub const SESSION_COOKIE: &str = "gantry_session";
pub const BROWSER_COOKIE: &str = "gantry_browser";
/// How long the browser id is kept.
const BROWSER_SECS: i64 = 24 * 3600;

/// The value of cookie `name`, if the request has it.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn secure(app: &App) -> bool {
    app.public_url.starts_with("https://")
}

/// Cookie names get the `__Host-` prefix over HTTPS (Secure, whole host, no Domain).
pub fn cookie_name(app: &App, base: &str) -> String {
    if secure(app) { format!("__Host-{base}") } else { base.to_string() }
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set_cookie(app: &App, base: &str, value: &str, max_age: i64) -> HeaderValue {
    let secure = if secure(app) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        cookie_name(app, base)
    ))
    .expect("cookie value is URL-safe")
}

/// The session cookie for a new session.
pub fn session_cookie(app: &App, session: &str) -> HeaderValue {
    set_cookie(app, SESSION_COOKIE, session, app.sessions.max_secs as i64)
}

/// The browser id, and the cookie to set when it was missing.
pub fn browser_id(app: &App, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, &cookie_name(app, BROWSER_COOKIE)).filter(|v| v.len() >= 32) {
        Some(v) => (v, None),
        None => {
            let id = random_token(32);
            let c = set_cookie(app, BROWSER_COOKIE, &id, BROWSER_SECS);
            (id, Some(c))
        }
    }
}

/// The browser id the request carries (empty if none).
pub fn browser_of(app: &App, headers: &HeaderMap) -> String {
    cookie(headers, &cookie_name(app, BROWSER_COOKIE)).unwrap_or_default()
}

/// The signed-in session of this request, if it has a live one.
pub async fn session(app: &App, headers: &HeaderMap) -> Result<Option<WebSession>> {
    match cookie(headers, &cookie_name(app, SESSION_COOKIE)) {
        Some(id) => app.sessions.lookup(&id).await,
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; gantry_session_x=2; gantry_session=3"));
        h.append(header::COOKIE, HeaderValue::from_static("b=4"));
        assert_eq!(cookie(&h, "gantry_session").as_deref(), Some("3"));
        assert_eq!(cookie(&h, "b").as_deref(), Some("4"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
