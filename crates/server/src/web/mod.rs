//! The web: sign-in and sign-out (`signin`), connecting Globus (`connect`), approving a
//! CLI's device sign-in (`device`), and the pages (`pages`, one module each). Pages are
//! askama templates; every form carries a CSRF token; errors are the application's
//! errors rendered as pages (`error`).

mod connect;
pub mod cookies;
mod device;
pub mod error;
pub mod pages;
mod signin;

pub use error::{WebError, WebResult, Who};

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_app::identity::WebSession;
use gantry_domain::Error;

pub fn routes() -> Router<App> {
    Router::new().merge(signin::routes()).merge(connect::routes()).merge(device::routes()).merge(pages::routes())
}

/// What a provider sends the browser back with.
#[derive(serde::Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl From<CallbackQuery> for gantry_app::identity::flow::Callback {
    fn from(q: CallbackQuery) -> Self {
        Self { state: q.state, code: q.code, error: q.error, error_description: q.error_description }
    }
}

/// Only paths on this site are followed after sign-in (no open redirects).
pub fn safe_next(next: Option<&str>) -> String {
    next.and_then(gantry_domain::url::local_path).unwrap_or("/").to_string()
}

pub use gantry_domain::url::escape as enc;

/// The address the request came from (the TCP peer; forwarded-for headers are not
/// trusted), for per-address throttles.
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(Peer(peer.map(|c| c.0.ip())))
    }
}

/// Pages that need a signed-in visitor send the others to sign in first.
pub fn to_login(path: &str) -> Response {
    Redirect::to(&format!("/login?next={}", enc(path))).into_response()
}

pub fn redirect_with_cookies(to: &str, cookies: impl IntoIterator<Item = HeaderValue>) -> Response {
    let mut r = Redirect::to(to).into_response();
    for c in cookies {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

/// The signed-in visitor of a form, whose CSRF token must match.
pub async fn form_session(app: &App, headers: &HeaderMap, csrf: &str) -> WebResult<WebSession> {
    let s = cookies::session(app, headers).await?.ok_or_else(|| Error::unauthorized("sign in first"))?;
    s.check_csrf(csrf)?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed() {
        use super::safe_next;
        assert_eq!(safe_next(Some("/collections/x?y=1")), "/collections/x?y=1");
        for bad in ["https://evil.example/", "//evil.example", "/\\evil.example", "evil", "/\t/evil.example/x", "/\n/x"]
        {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
