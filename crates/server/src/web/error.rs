//! Errors shown as pages, with a neutral header and a way on.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use gantry_app::identity::WebSession;
use gantry_domain::{Error, ErrorKind};

/// An error shown as a page.
pub struct WebError(pub Error);

impl From<Error> for WebError {
    fn from(e: Error) -> Self {
        WebError(e)
    }
}

pub type WebResult<T> = std::result::Result<T, WebError>;

/// The signed-in visitor, as the page header shows them.
pub struct Who {
    pub username: String,
    pub is_admin: bool,
    pub csrf: String,
}

impl Who {
    pub fn of(s: &WebSession) -> Who {
        Who { username: s.user().username.clone(), is_admin: s.user().is_admin, csrf: s.csrf().to_string() }
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
