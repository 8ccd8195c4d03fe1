//! `/transfer`: send an image with Globus — connect, find an endpoint by scope (or with
//! the Globus web app's Browse Collections page), browse its folders, make one, and submit.

use super::render;
use crate::web::{WebResult, Who, cookies, enc, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_api_types::NewTransfer;
use gantry_app::App;
use gantry_app::transfers::reauth_link;
use gantry_domain::{Access, Error, ErrorKind, ImageRef};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage {
    who: Option<Who>,
    csrf: String,
    reference: String,
    reference_q: String,
    here_q: String,
    connected: bool,
    error: Option<String>,
    /// Where to sign in again when a collection's policy asks for it.
    reauth: Option<String>,
    q: String,
    q_q: String,
    scope: String,
    scopes: Vec<(&'static str, &'static str)>,
    searched: bool,
    endpoints: Vec<(String, String, String)>,
    endpoint: Option<(String, String)>,
    path: String,
    up: Option<String>,
    folders: Vec<(String, String)>,
    /// The Globus web app's Browse Collections page, set up to come back here.
    choose_with_globus: String,
    mkdir_error: Option<&'static str>,
}

#[derive(Deserialize)]
pub(super) struct TransferQuery {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    q: String,
    scope: Option<String>,
    endpoint: Option<String>,
    path: Option<String>,
    /// Set when making a folder here failed.
    mkdir: Option<MkdirProblem>,
}

/// `/a/b/` → `/a/`; the root and `/~/` have no parent shown.
fn parent_of(path: &str) -> Option<String> {
    let t = path.trim_end_matches('/');
    if t.is_empty() || t == "/~" {
        return None;
    }
    t.rfind('/').map(|i| format!("{}/", &t[..i]))
}

pub(super) async fn show(State(app): State<App>, headers: HeaderMap, q: Query<TransferQuery>) -> WebResult<Response> {
    let here = format!("/transfer?ref={}", enc(&q.reference));
    // Where this page is, with the endpoint and folder chosen: signing in or connecting
    // Globus comes back to exactly that.
    let mut here_full = here.clone();
    if let Some(ep) = &q.endpoint {
        here_full.push_str(&format!("&endpoint={}", enc(ep)));
        if let Some(path) = &q.path {
            here_full.push_str(&format!("&path={}", enc(path)));
        }
    }
    let Some(s) = cookies::session(&app, &headers).await? else { return Ok(to_login(&here_full)) };
    let p = s.principal();
    // Only those who may pull the image get this far.
    let image = ImageRef::parse(&q.reference)?;
    app.registry.repo(Some(&p), &image.repo, Access::Read).await?;
    let t = app.transfers()?;
    let connected = t.is_connected(p.user_id).await?;
    let scope = q.scope.clone().unwrap_or_else(|| "my-endpoints".into());
    let choose_with_globus = browse_collections_link(&app, &t.cfg.app_url, &q.reference);
    let mut page = TransferPage {
        who: Some(Who::of(&s)),
        csrf: s.csrf().to_string(),
        reference_q: enc(&q.reference),
        reference: q.reference.clone(),
        here_q: enc(&here_full),
        connected,
        error: None,
        reauth: None,
        q_q: enc(&q.q),
        q: q.q.clone(),
        scope: scope.clone(),
        scopes: vec![
            ("my-endpoints", "my endpoints"),
            ("shared-with-me", "shared with me"),
            ("recently-used", "recently used"),
            ("all", "all endpoints"),
        ],
        searched: false,
        endpoints: vec![],
        endpoint: None,
        path: q.path.clone().unwrap_or_else(|| "/~/".into()),
        up: None,
        folders: vec![],
        choose_with_globus,
        mkdir_error: q.mkdir.map(MkdirProblem::message),
    };
    if !connected {
        return render(&page);
    }
    match t.endpoint_search(p.user_id, Some(q.q.trim()).filter(|x| !x.is_empty()), &scope, 25).await {
        Ok(eps) => {
            page.searched = true;
            page.endpoints = eps
                .into_iter()
                .map(|e| {
                    let owner = e.owner.unwrap_or_default();
                    let about = format!("{owner} · {}", e.description.unwrap_or_default());
                    (e.id, e.display_name.unwrap_or_default(), about)
                })
                .collect();
        }
        Err(e) => page.error = Some(e.public_message().to_string()),
    }
    if let Some(ep) = &q.endpoint {
        match t.ls(p.user_id, ep, &page.path).await {
            Ok(listing) => {
                let name =
                    page.endpoints.iter().find(|e| &e.0 == ep).map(|e| e.1.clone()).unwrap_or_else(|| ep.clone());
                let base = listing.path.unwrap_or_else(|| page.path.clone());
                page.path = if base.ends_with('/') { base } else { format!("{base}/") };
                page.up = parent_of(&page.path).map(|u| enc(&u));
                page.folders = listing
                    .entries
                    .iter()
                    .filter(|e| e.kind == "dir")
                    .map(|e| (e.name.clone(), enc(&format!("{}{}/", page.path, e.name))))
                    .collect();
                page.endpoint = Some((ep.clone(), name));
            }
            Err(e) => {
                if let Some(params) = &e.authorization_parameters {
                    let next = format!("{here}&endpoint={}&path={}", enc(ep), enc(&page.path));
                    page.reauth = Some(format!("{}&next={}", reauth_link(params), enc(&next)));
                }
                let msg = e.public_message();
                page.error = Some(msg.split(" Sign in again with Globus:").next().unwrap_or(msg).to_string());
            }
        }
    }
    render(&page)
}

/// Browse Collections, asked to come back to `/transfer/chosen/REF` with one folder (by
/// GET: the choice only fills in the form, it changes nothing).
fn browse_collections_link(app: &App, app_url: &str, reference: &str) -> String {
    let public = app.public_url.trim_end_matches('/');
    let action = format!("{public}/transfer/chosen/{}", enc(reference));
    let cancel = format!("{public}/transfer?ref={}", enc(reference));
    format!(
        "{}/helpers/browse-collections?action={}&method=GET&folderlimit=1&filelimit=0&label={}&cancelurl={}",
        app_url.trim_end_matches('/'),
        enc(&action),
        enc(&format!("Gantry {reference}")),
        enc(&cancel)
    )
}

/// What Browse Collections sends back (its other fields are not needed).
#[derive(Deserialize)]
pub(super) struct Chosen {
    endpoint_id: String,
    path: String,
    #[serde(rename = "folder[0]")]
    folder: Option<String>,
}

/// `GET /transfer/chosen/REF?endpoint_id=…&path=…[&folder[0]=…]`: the destination chosen
/// on Globus's page, shown in the transfer form (which checks everything again).
pub(super) async fn chosen(
    axum::extract::Path(reference): axum::extract::Path<String>,
    Query(c): Query<Chosen>,
) -> WebResult<Response> {
    ImageRef::parse(&reference)?;
    let id_ok = !c.endpoint_id.is_empty()
        && c.endpoint_id.len() <= 64
        && c.endpoint_id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-');
    if !id_ok || !c.path.starts_with('/') || c.path.chars().any(char::is_control) {
        return Err(Error::invalid("Globus sent back an endpoint or a path that is not one").into());
    }
    let mut path = if c.path.ends_with('/') { c.path } else { format!("{}/", c.path) };
    if let Some(f) = c.folder.filter(|f| !f.is_empty()) {
        if f.contains('/') || f == ".." || f.chars().any(char::is_control) {
            return Err(Error::invalid("Globus sent back a folder name that is not one").into());
        }
        path = format!("{path}{f}/");
    }
    let to = format!("/transfer?ref={}&endpoint={}&path={}", enc(&reference), enc(&c.endpoint_id), enc(&path));
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
pub(super) struct MkdirForm {
    csrf: String,
    #[serde(rename = "ref")]
    reference: String,
    endpoint: String,
    path: String,
    name: String,
}

/// Why a folder could not be made, said on the transfer page itself (a fixed message
/// per case: the URL carries only the case).
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub(super) enum MkdirProblem {
    Name,
    Exists,
    Denied,
    Failed,
}

impl MkdirProblem {
    fn of(e: &Error) -> MkdirProblem {
        match e.kind {
            ErrorKind::Conflict => MkdirProblem::Exists,
            ErrorKind::Invalid => MkdirProblem::Name,
            ErrorKind::Denied | ErrorKind::NotFound => MkdirProblem::Denied,
            _ => MkdirProblem::Failed,
        }
    }
    fn as_str(self) -> &'static str {
        match self {
            MkdirProblem::Name => "name",
            MkdirProblem::Exists => "exists",
            MkdirProblem::Denied => "denied",
            MkdirProblem::Failed => "failed",
        }
    }
    fn message(self) -> &'static str {
        match self {
            MkdirProblem::Name => {
                "A folder name cannot be empty, \".\" or \"..\", or contain \"/\". Choose another name."
            }
            MkdirProblem::Exists => "A folder or file of that name is already here. Open it, or choose another name.",
            MkdirProblem::Denied => "You may not create folders here. Choose a folder where you may write.",
            MkdirProblem::Failed => "Globus could not create the folder. Try again, or choose another folder.",
        }
    }
}

pub(super) async fn mkdir(State(app): State<App>, headers: HeaderMap, f: Form<MkdirForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let name = f.name.trim();
    let here = format!("/transfer?ref={}&endpoint={}", enc(&f.reference), enc(&f.endpoint));
    let problem = if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        MkdirProblem::Name
    } else {
        let path = format!("{}/{name}/", f.path.trim_end_matches('/'));
        match app.transfers()?.mkdir(s.user().id, &f.endpoint, &path).await {
            Ok(()) => return Ok(Redirect::to(&format!("{here}&path={}", enc(&path))).into_response()),
            Err(e) => MkdirProblem::of(&e),
        }
    };
    Ok(Redirect::to(&format!("{here}&path={}&mkdir={}", enc(&f.path), problem.as_str())).into_response())
}

#[derive(Deserialize)]
pub(super) struct SubmitForm {
    csrf: String,
    #[serde(rename = "ref")]
    reference: String,
    endpoint_id: String,
    path: String,
    #[serde(default)]
    label: String,
}

pub(super) async fn submit(State(app): State<App>, headers: HeaderMap, f: Form<SubmitForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let body = NewTransfer {
        reference: f.reference.clone(),
        endpoint_id: f.endpoint_id.clone(),
        path: f.path.clone(),
        label: Some(f.label.trim().to_string()).filter(|l| !l.is_empty()),
        sync_level: None,
    };
    let started = app.transfers()?.start(&s.principal(), &body).await?;
    Ok(Redirect::to(&format!("/tasks?submitted={}", enc(&started.id))).into_response())
}
