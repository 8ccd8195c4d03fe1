//! The web UI's pages, one module each: home and search, a collection (and managing
//! it), an image, settings, sending with Globus, tasks, admin. Server-rendered
//! (askama), htmx for the parts that update.

mod admin;
mod collection;
mod experiments;
mod home;
mod image;
mod repository;
mod settings;
mod tasks;
mod transfer;

use super::{WebResult, Who, cookies};
use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use gantry_api_types::ImageSummary;
use gantry_app::App;
use gantry_app::identity::WebSession;
use gantry_domain::{Error, Principal};

const HTMX: &[u8] = include_bytes!("../../../static/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("../../../static/gantry.css");
const ICON: &[u8] = include_bytes!("../../../static/favicon.svg");
const JS: &[u8] = include_bytes!("../../../static/gantry.js");

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home::home))
        .route("/static/{file}", get(asset))
        .route("/favicon.ico", get(|| asset(Path("favicon.svg".to_string()))))
        .route("/c/{name}", get(collection::show))
        .route("/c/{name}/settings", post(collection::settings))
        .route("/c/{name}/members", post(collection::give_role))
        .route("/c/{name}/{kind}/remove", post(collection::remove))
        .route("/i/{*reference}", get(image::show))
        .route("/r/{*repository}", get(repository::show))
        .route("/images/delete", post(repository::delete))
        .route("/settings", get(settings::show))
        .route("/settings/tokens", post(settings::create_token))
        .route("/settings/tokens/{id}/revoke", post(settings::revoke_token))
        .route("/settings/globus/disconnect", post(settings::disconnect_globus))
        .route("/transfer", get(transfer::show).post(transfer::submit))
        .route("/transfer/mkdir", post(transfer::mkdir))
        .route("/transfer/bookmark", post(transfer::bookmark))
        .route("/transfer/chosen/{reference}", get(transfer::chosen))
        .route("/transfer/chosen/data/{experiment}/{session}", get(transfer::chosen_data))
        .route("/transfer/chosen/data/{experiment}/{session}/{*source_path}", get(transfer::chosen_data))
        .route("/tasks", get(tasks::show))
        .route("/tasks/table", get(tasks::table))
        .route("/tasks/{id}", get(tasks::detail))
        .route("/tasks/{id}/cancel", post(tasks::cancel))
        .route("/experiments", get(experiments::list))
        .route("/experiments/{id}", get(experiments::show))
        .route("/experiments/{id}/favorite", post(experiments::favorite))
        .route("/experiments/{id}/sessions/{n}", get(experiments::data))
        .route("/admin", get(admin::show))
        .route("/admin/gc", post(admin::gc))
        .route("/admin/users/{name}/{change}", post(admin::change_user))
}

fn render(t: &impl Template) -> WebResult<Response> {
    let html = t.render().map_err(|e| Error::internal(format!("template: {e}")))?;
    Ok(Html(html).into_response())
}

pub fn human_size(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n >= 1024.0 * 1024.0 * 1024.0 => format!("{:.1} GiB", n / (1024.0 * 1024.0 * 1024.0)),
        n if n >= 1024.0 * 1024.0 => format!("{:.1} MiB", n / (1024.0 * 1024.0)),
        n if n >= 1024.0 => format!("{:.1} KiB", n / 1024.0),
        n => format!("{n} B"),
    }
}

/// A moment as pages show it: relative ("3 hours ago"), the exact UTC time on hover
/// and in `datetime`. Written into templates with `|safe`: both parts are made here
/// from a number, never from user input.
pub struct When {
    pub ago: String,
    pub full: String,
}

impl When {
    pub fn at(secs: i64) -> When {
        When {
            ago: gantry_domain::time::relative(secs, gantry_domain::time::now_unix()),
            full: gantry_domain::time::rfc3339(secs),
        }
    }
    /// From an RFC 3339 time as the API writes it; shown as it is when it does not read.
    pub fn parse(s: &str) -> When {
        match gantry_domain::time::parse_utc(s) {
            Some(secs) => When::at(secs),
            None => When { ago: s.to_string(), full: s.to_string() },
        }
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;");
        write!(f, "<time datetime=\"{}\" title=\"{}\">{}</time>", esc(&self.full), esc(&self.full), esc(&self.ago))
    }
}

/// The visitor's session, as a header and as a caller.
struct Visitor {
    session: Option<WebSession>,
    app: App,
}

impl Visitor {
    async fn of(app: &App, headers: &HeaderMap) -> WebResult<Visitor> {
        Ok(Visitor { session: cookies::session(app, headers).await?, app: app.clone() })
    }
    fn who(&self) -> Option<Who> {
        self.session.as_ref().map(|s| Who::of(&self.app, s))
    }
    fn principal(&self) -> Option<Principal> {
        self.session.as_ref().map(WebSession::principal)
    }
    fn csrf(&self) -> String {
        self.session.as_ref().map(|s| s.csrf().to_string()).unwrap_or_default()
    }
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript"),
        "gantry.css" => (CSS, "text/css"),
        "favicon.svg" => (ICON, "image/svg+xml"),
        "gantry.js" => (JS, "text/javascript"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// An image as the lists show it.
pub struct Card {
    pub reference: String,
    pub kind: &'static str,
    pub size: String,
    pub updated: When,
    pub architecture: String,
}

fn card(i: &ImageSummary) -> Card {
    Card {
        reference: i.reference.clone(),
        kind: i.kind.as_str(),
        size: human_size(i.size),
        updated: When::parse(&i.created),
        architecture: i.architecture.clone().unwrap_or_default(),
    }
}

/// A collection as the lists show it.
#[derive(Clone)]
pub struct CollCard {
    pub name: String,
    pub visibility: &'static str,
    pub description: String,
}

fn coll_card(c: &gantry_app::rows::Collection) -> CollCard {
    CollCard { name: c.name.clone(), visibility: c.visibility.as_str(), description: c.description.clone() }
}
