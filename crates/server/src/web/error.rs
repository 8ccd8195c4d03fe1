//! Errors shown as pages. A handler's error becomes a response that carries the error
//! itself ([`PageError`]); the [`pages`] layer renders it with the visitor's own header
//! and a way on (sign in and come back, back, home). API and download errors are
//! rendered the same way when a browser navigates to them, and stay JSON for programs.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use gantry_app::App;
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
    /// The server has a facility: the header links its experiments.
    pub facility: bool,
}

impl Who {
    pub fn of(app: &App, s: &WebSession) -> Who {
        Who {
            username: s.user().username.clone(),
            is_admin: s.user().is_admin,
            csrf: s.csrf().to_string(),
            facility: app.facility.is_some(),
        }
    }
}

/// The error behind an error response, for the [`pages`] layer. `page` is set when a
/// page handler answered (always shown as a page); otherwise only browsers get a page.
#[derive(Clone)]
pub struct PageError {
    pub error: Error,
    pub page: bool,
}

#[derive(Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    who: Option<Who>,
    title: &'a str,
    message: &'a str,
    links: Vec<(String, &'static str)>,
}

fn title_of(kind: ErrorKind) -> &'static str {
    use ErrorKind::*;
    match kind {
        Unauthorized => "Sign-in needed",
        Denied => "Not allowed",
        Unavailable => "Service unavailable",
        NotFound | NameUnknown | ManifestUnknown | BlobUnknown => "Not found",
        Invalid | NameInvalid | DigestInvalid => "Not valid",
        Conflict => "Not possible now",
        TooManyRequests => "Too many at once",
        _ => "Something went wrong",
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let e = self.0;
        if e.kind == ErrorKind::Internal {
            tracing::error!("internal error: {}", e.message);
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // The plain page, for when the layer is not in front (it replaces it).
        let page = MessagePage { who: None, title: title_of(e.kind), message: e.public_message(), links: vec![] };
        let mut r = (status, Html(page.render().unwrap_or_default())).into_response();
        r.extensions_mut().insert(PageError { error: e, page: true });
        r
    }
}

/// Whether the request is a browser opening a page (not a program, not htmx).
fn navigation(method: &Method, headers: &HeaderMap, path: &str) -> bool {
    let html = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("text/html"));
    *method == Method::GET
        && html
        && !headers.contains_key("hx-request")
        && !path.starts_with("/v2/")
        && !path.starts_with("/api/")
}

/// The ways on from an error: sign in and come back here, back where the visitor was
/// (same site only), home.
fn links(e: &Error, signed_in: bool, here: &str, referer: Option<&str>, app: &App) -> Vec<(String, &'static str)> {
    let mut v = vec![];
    let private = matches!(e.kind, ErrorKind::Unauthorized | ErrorKind::NotFound | ErrorKind::Denied);
    if !signed_in && private {
        v.push((format!("/login?next={}", super::enc(here)), "Sign in"));
    }
    if let Some(back) = referer.and_then(|r| r.strip_prefix(&*app.public_url)).filter(|b| b.starts_with('/'))
        && back != here
    {
        v.push((back.to_string(), "Back"));
    }
    v.push(("/".to_string(), "Home"));
    v
}

/// Renders error responses as pages with the visitor's header (see the module).
pub async fn pages(State(app): State<App>, req: Request, next: Next) -> Response {
    let here = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    let browser = navigation(req.method(), req.headers(), req.uri().path());
    let headers = req.headers().clone();
    let res = next.run(req).await;
    let Some(pe) = res.extensions().get::<PageError>().cloned() else { return res };
    if !pe.page && !browser {
        return res;
    }
    let session = super::cookies::session(&app, &headers).await.ok().flatten();
    let referer = headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    let e = pe.error;
    let page = MessagePage {
        who: session.as_ref().map(|s| Who::of(&app, s)),
        title: title_of(e.kind),
        message: e.public_message(),
        links: links(&e, session.is_some(), &here, referer, &app),
    };
    let mut out = (res.status(), Html(page.render().unwrap_or_default())).into_response();
    for (k, v) in res.headers() {
        if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH && k != header::WWW_AUTHENTICATE {
            out.headers_mut().append(k.clone(), v.clone());
        }
    }
    out.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    out
}
