//! `/transfer`: send an image, or an experiment's data, with Globus — connect, find an
//! endpoint by scope (or with the Globus web app's Browse Collections page), browse its
//! folders, make one, and submit.

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
use gantry_app::transfers::start::Source;
use gantry_domain::{Error, ErrorKind, ImageRef, SyncLevel};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage {
    who: Option<Who>,
    csrf: String,
    /// What is sent, in words, as a query and as hidden form fields.
    title: String,
    what_q: String,
    hidden: Vec<(&'static str, String)>,
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
    /// The path bar: each folder from the top, with its link.
    crumbs: Vec<(String, String)>,
    entries: Vec<Entry>,
    bookmarks: Vec<(String, String)>,
    /// The name the image arrives under, and whether something of that name is here.
    arriving: String,
    overwrites: bool,
    sync_levels: Vec<(&'static str, &'static str)>,
    /// A bookmark just made, by name.
    bookmarked: Option<String>,
    /// The Globus web app's Browse Collections page, set up to come back here.
    choose_with_globus: String,
    mkdir_error: Option<&'static str>,
}

/// What the page sends: an image (`ref`), or experiment data (`experiment`, `session`
/// and `source_path`); strings, as queries and forms carry them.
#[derive(Deserialize, Default, Clone, Debug)]
pub(super) struct What {
    #[serde(rename = "ref", default)]
    reference: String,
    #[serde(default)]
    experiment: String,
    #[serde(default)]
    session: String,
    #[serde(default)]
    source_path: String,
}

impl What {
    fn of_data(experiment: &str, session: i64, source_path: &str) -> What {
        What {
            reference: String::new(),
            experiment: experiment.into(),
            session: session.to_string(),
            source_path: source_path.trim_matches('/').into(),
        }
    }

    fn source(&self) -> Result<Source, Error> {
        if self.experiment.is_empty() {
            ImageRef::parse(&self.reference)?;
            return Ok(Source::Image(self.reference.clone()));
        }
        let session = self.session.parse().map_err(|_| Error::invalid("session is a number"))?;
        Ok(Source::Data { experiment: self.experiment.clone(), session, path: self.source_path.clone() })
    }

    /// The form fields that carry it.
    fn fields(&self) -> Vec<(&'static str, String)> {
        if self.experiment.is_empty() {
            return vec![("ref", self.reference.clone())];
        }
        let mut f = vec![("experiment", self.experiment.clone()), ("session", self.session.clone())];
        if !self.source_path.is_empty() {
            f.push(("source_path", self.source_path.clone()));
        }
        f
    }

    /// `ref=…`, or `experiment=…&session=…[&source_path=…]`.
    fn query(&self) -> String {
        self.fields().iter().map(|(k, v)| format!("{k}={}", enc(v))).collect::<Vec<_>>().join("&")
    }

    fn title(&self) -> String {
        match self.session.parse() {
            Ok(n) if !self.experiment.is_empty() => {
                gantry_api_types::data_label(&self.experiment, n, &self.source_path)
            }
            _ => self.reference.clone(),
        }
    }

    /// Where Browse Collections comes back to (what is sent is in the path: a GET form
    /// replaces the query).
    fn chosen_path(&self) -> String {
        if self.experiment.is_empty() {
            return format!("/transfer/chosen/{}", enc(&self.reference));
        }
        let mut p = format!("/transfer/chosen/data/{}/{}", enc(&self.experiment), enc(&self.session));
        if !self.source_path.is_empty() {
            p.push('/');
            p.push_str(&gantry_domain::url::escape_path(&self.source_path));
        }
        p
    }

    /// A request body for it.
    fn body(&self) -> Result<NewTransfer, Error> {
        Ok(match self.source()? {
            Source::Image(reference) => NewTransfer { reference, ..Default::default() },
            Source::Data { experiment, session, path } => NewTransfer {
                experiment: Some(experiment),
                session: Some(session),
                source_path: Some(path).filter(|p| !p.is_empty()),
                ..Default::default()
            },
        })
    }
}

/// The transfer page for what `info` sent (to send it again).
pub(super) fn page_of(info: &gantry_api_types::TransferInfo) -> String {
    let what = match (&info.experiment, info.session) {
        (Some(e), Some(n)) => What::of_data(e, n, info.source_path.as_deref().unwrap_or_default()),
        _ => What { reference: info.reference.clone(), ..Default::default() },
    };
    format!("/transfer?{}", what.query())
}

/// The transfer page for a session's data, or a folder or file of it.
pub(super) fn page_of_data(experiment: &str, session: i64, source_path: &str) -> String {
    format!("/transfer?{}", What::of_data(experiment, session, source_path).query())
}

#[derive(Deserialize)]
pub(super) struct TransferQuery {
    #[serde(flatten)]
    what: What,
    #[serde(default)]
    q: String,
    scope: Option<String>,
    endpoint: Option<String>,
    path: Option<String>,
    /// Set when making a folder here failed.
    mkdir: Option<MkdirProblem>,
    /// Set when a bookmark was just made.
    bookmarked: Option<String>,
}

/// A file or folder in the destination folder.
pub struct Entry {
    pub name: String,
    /// The folder's link (files have none).
    pub open: Option<String>,
    pub size: String,
    pub modified: Option<super::When>,
}

/// `/~/a/b/` → `[("~", "/~/"), ("a", "/~/a/"), ("b", "/~/a/b/")]`; `/` is `("/", "/")`.
fn crumbs_of(path: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut at = String::from("/");
    if !path.starts_with("/~") {
        out.push(("/".to_string(), at.clone()));
    }
    for part in path.split('/').filter(|p| !p.is_empty()) {
        at.push_str(part);
        at.push('/');
        out.push((part.to_string(), at.clone()));
    }
    out
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
    let what_q = q.what.query();
    let here = format!("/transfer?{what_q}");
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
    let t = app.transfers()?;
    // Only those who may read what is sent get past this (it says 404 otherwise).
    let arriving = t.arriving_name(&p, &q.what.source()?).await?;
    let connected = t.is_connected(p.user_id).await?;
    let scope = q.scope.clone().unwrap_or_else(|| "my-endpoints".into());
    let choose_with_globus = browse_collections_link(&app, &t.cfg.app_url, &q.what);
    let mut page = TransferPage {
        who: Some(Who::of(&app, &s)),
        csrf: s.csrf().to_string(),
        title: q.what.title(),
        hidden: q.what.fields(),
        what_q: what_q.clone(),
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
        crumbs: vec![],
        entries: vec![],
        bookmarks: vec![],
        arriving,
        overwrites: false,
        sync_levels: SyncLevel::ALL.iter().map(|l| (l.as_str(), l.describe())).collect(),
        bookmarked: q.bookmarked.clone().filter(|b| b.chars().count() <= 128),
        choose_with_globus,
        mkdir_error: q.mkdir.map(MkdirProblem::message),
    };
    if !connected {
        return render(&page);
    }
    // Bookmarks are a convenience: the page works without them.
    if let Ok(marks) = t.bookmarks(p.user_id).await {
        page.bookmarks = marks
            .into_iter()
            .take(50)
            .map(|b| {
                let link = format!("/transfer?{what_q}&endpoint={}&path={}", enc(&b.endpoint_id), enc(&b.path));
                (b.name, link)
            })
            .collect();
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
                page.crumbs = crumbs_of(&page.path)
                    .into_iter()
                    .map(|(n, at)| (n, format!("/transfer?{}&endpoint={}&path={}", page.what_q, enc(ep), enc(&at))))
                    .collect();
                let mut entries: Vec<&gantry_api_types::DirEntry> = listing.entries.iter().take(1000).collect();
                entries.sort_by(|a, b| (b.kind == "dir").cmp(&(a.kind == "dir")).then_with(|| a.name.cmp(&b.name)));
                let arriving = page.arriving.trim_end_matches('/');
                page.overwrites = entries.iter().any(|e| e.name == arriving);
                page.entries = entries
                    .into_iter()
                    .map(|e| Entry {
                        open: (e.kind == "dir").then(|| {
                            let to = format!("{}{}/", page.path, e.name);
                            format!("/transfer?{}&endpoint={}&path={}", page.what_q, enc(ep), enc(&to))
                        }),
                        size: if e.kind == "dir" {
                            String::new()
                        } else {
                            e.size.map(super::human_size).unwrap_or_default()
                        },
                        modified: e.last_modified.as_deref().map(super::When::parse),
                        name: e.name.clone(),
                    })
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

/// Browse Collections, asked to come back to `/transfer/chosen/…` with one folder (by
/// GET: the choice only fills in the form, it changes nothing).
fn browse_collections_link(app: &App, app_url: &str, what: &What) -> String {
    let public = app.public_url.trim_end_matches('/');
    let action = format!("{public}{}", what.chosen_path());
    let cancel = format!("{public}/transfer?{}", what.query());
    format!(
        "{}/helpers/browse-collections?action={}&method=GET&folderlimit=1&filelimit=0&label={}&cancelurl={}",
        app_url.trim_end_matches('/'),
        enc(&action),
        enc(&format!("Gantry {}", what.title())),
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
    q: Query<Chosen>,
) -> WebResult<Response> {
    chosen_for(What { reference, ..Default::default() }, q.0)
}

/// `GET /transfer/chosen/data/ID/SESSION[/PATH]?…`: the same, for experiment data.
pub(super) async fn chosen_data(
    axum::extract::Path(at): axum::extract::Path<std::collections::HashMap<String, String>>,
    q: Query<Chosen>,
) -> WebResult<Response> {
    let what = What {
        reference: String::new(),
        experiment: at.get("experiment").cloned().unwrap_or_default(),
        session: at.get("session").cloned().unwrap_or_default(),
        source_path: at.get("source_path").cloned().unwrap_or_default(),
    };
    chosen_for(what, q.0)
}

fn chosen_for(what: What, c: Chosen) -> WebResult<Response> {
    what.source()?;
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
    let to = format!("/transfer?{}&endpoint={}&path={}", what.query(), enc(&c.endpoint_id), enc(&path));
    Ok(Redirect::to(&to).into_response())
}

#[derive(Deserialize)]
/// A form about the folder shown: making a folder in it, bookmarking it.
pub(super) struct FolderForm {
    csrf: String,
    #[serde(flatten)]
    what: What,
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

pub(super) async fn mkdir(State(app): State<App>, headers: HeaderMap, f: Form<FolderForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let name = f.name.trim();
    let here = format!("/transfer?{}&endpoint={}", f.what.query(), enc(&f.endpoint));
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
    #[serde(flatten)]
    what: What,
    endpoint_id: String,
    path: String,
    #[serde(default)]
    label: String,
    /// A sync level's name, or empty to always copy.
    #[serde(default)]
    sync: String,
    /// Checkboxes: present when ticked.
    #[serde(default)]
    verify_checksum: bool,
    #[serde(default)]
    preserve_timestamp: bool,
}

pub(super) async fn submit(State(app): State<App>, headers: HeaderMap, f: Form<SubmitForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let body = NewTransfer {
        endpoint_id: f.endpoint_id.clone(),
        path: f.path.clone(),
        label: Some(f.label.trim().to_string()).filter(|l| !l.is_empty()),
        sync_level: match f.sync.as_str() {
            "" => None,
            l => Some(SyncLevel::parse(l)?.level()),
        },
        verify_checksum: Some(f.verify_checksum),
        preserve_timestamp: Some(f.preserve_timestamp),
        ..f.what.body()?
    };
    let started = app.transfers()?.start(&s.principal(), &body).await?;
    Ok(Redirect::to(&format!("/tasks?submitted={}", enc(&started.id))).into_response())
}

/// `POST /transfer/bookmark`: keeps this folder among the user's Globus bookmarks, and
/// comes back to it.
pub(super) async fn bookmark(State(app): State<App>, headers: HeaderMap, f: Form<FolderForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let b = app.transfers()?.bookmark(s.user().id, &f.name, &f.endpoint, &f.path).await?;
    let to = format!(
        "/transfer?{}&endpoint={}&path={}&bookmarked={}",
        f.what.query(),
        enc(&b.endpoint_id),
        enc(&b.path),
        enc(&b.name)
    );
    Ok(Redirect::to(&to).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_bar() {
        let names = |p: &str| super::crumbs_of(p).into_iter().map(|c| c.1).collect::<Vec<_>>();
        assert_eq!(names("/~/a/b/"), ["/~/", "/~/a/", "/~/a/b/"]);
        assert_eq!(names("/data/x/"), ["/", "/data/", "/data/x/"]);
        assert_eq!(names("/"), ["/"]);
    }
}
