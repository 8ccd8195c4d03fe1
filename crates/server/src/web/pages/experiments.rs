//! `/experiments`: the facility's experiments the visitor may see (search, favourites,
//! the stale marker), one experiment with its sessions, and a session's data browser
//! whose files download from their stable `/data/…` URLs.

use super::{When, human_size, render};
use crate::web::{WebResult, Who, cookies, enc, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_api_types::{DataListing, ExperimentInfo, ExperimentPage, SessionInfo};
use gantry_app::App;
use gantry_app::facility::ListQuery;
use gantry_app::identity::WebSession;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "experiments.html")]
struct ListPage {
    who: Option<Who>,
    csrf: String,
    facility: String,
    umbrella: bool,
    admin: bool,
    page: ExperimentPage,
    synced: Option<When>,
    search: String,
    favorite: bool,
    prev: Option<String>,
    next: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ListForm {
    #[serde(default)]
    search: String,
    #[serde(default)]
    favorite: bool,
    page: Option<i64>,
}

/// The signed-in visitor, or the way to sign in and come back to `here`.
async fn visitor(app: &App, headers: &HeaderMap, here: &str) -> WebResult<Result<WebSession, Response>> {
    Ok(cookies::session(app, headers).await?.ok_or_else(|| to_login(here)))
}

pub(super) async fn list(State(app): State<App>, headers: HeaderMap, Query(q): Query<ListForm>) -> WebResult<Response> {
    let s = match visitor(&app, &headers, "/experiments").await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let f = app.facility()?;
    let p = s.principal();
    let search: String = q.search.trim().chars().take(200).collect();
    let lq = ListQuery {
        search: search.clone(),
        favorites_only: q.favorite,
        page: q.page.unwrap_or(1),
        page_size: 25,
        ..ListQuery::default()
    };
    let page = f.list(&p, &lq).await?;
    let at = |n: i64| format!("/experiments?search={}&favorite={}&page={n}", enc(&search), q.favorite);
    let pages = (page.count + page.page_size - 1) / page.page_size;
    render(&ListPage {
        who: Some(Who::of(&app, &s)),
        csrf: s.csrf().to_string(),
        facility: f.cfg.name.clone(),
        umbrella: f.cfg.umbrella_provider.is_some(),
        admin: p.is_admin,
        synced: page.synced.as_deref().map(When::parse),
        prev: (page.page > 1).then(|| at(page.page - 1)),
        next: (page.page < pages).then(|| at(page.page + 1)),
        page,
        search,
        favorite: q.favorite,
    })
}

#[derive(Template)]
#[template(path = "experiment.html")]
struct OnePage {
    who: Option<Who>,
    csrf: String,
    synced: When,
    authorized: String,
    sessions: Vec<SessionInfo>,
    e: ExperimentInfo,
}

pub(super) async fn show(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> WebResult<Response> {
    let s = match visitor(&app, &headers, &format!("/experiments/{}", enc(&id))).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let f = app.facility()?;
    let p = s.principal();
    let mut e = f.get(&p, &id).await?;
    // The office's answer is shown as it is; its absence is not an error of this page.
    let authorized = match f.authorized(&p).await {
        Ok(true) => "allowed".to_string(),
        Ok(false) => format!("not allowed ({} decides)", f.cfg.name),
        Err(e) => format!("unknown: {}", e.public_message()),
    };
    render(&OnePage {
        who: Some(Who::of(&app, &s)),
        csrf: s.csrf().to_string(),
        synced: When::parse(&e.synced),
        authorized,
        sessions: e.sessions.take().unwrap_or_default(),
        e,
    })
}

#[derive(Deserialize)]
pub(super) struct FavoriteForm {
    csrf: String,
    on: bool,
    /// `experiment`: back to the experiment's page; otherwise the list.
    #[serde(default)]
    back: String,
}

pub(super) async fn favorite(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form<FavoriteForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    app.facility()?.set_favorite(&s.principal(), &id, f.on).await?;
    let to = if f.back == "experiment" { format!("/experiments/{}", enc(&id)) } else { "/experiments".to_string() };
    Ok(Redirect::to(&to).into_response())
}

/// A file or folder as the data browser shows it.
pub struct Row {
    pub name: String,
    pub open: String,
    pub download: Option<String>,
    pub size: String,
    pub modified: Option<When>,
}

#[derive(Template)]
#[template(path = "session_data.html")]
struct DataPage {
    who: Option<Who>,
    proposal: String,
    session: i64,
    crumbs: Vec<(String, String)>,
    entries: Vec<Row>,
    listing: DataListing,
    /// The transfer page for what is shown, when the data can go with Globus.
    send: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct DataQuery {
    #[serde(default)]
    path: String,
}

pub(super) async fn data(
    State(app): State<App>,
    headers: HeaderMap,
    Path((id, n)): Path<(String, i64)>,
    Query(q): Query<DataQuery>,
) -> WebResult<Response> {
    let here = format!("/experiments/{}/sessions/{n}?path={}", enc(&id), enc(&q.path));
    let s = match visitor(&app, &headers, &here).await? {
        Ok(s) => s,
        Err(to) => return Ok(to),
    };
    let listing = app.facility()?.files(&s.principal(), &id, n, &q.path).await?;
    let link = |path: &str| format!("/experiments/{}/sessions/{n}?path={}", enc(&id), enc(path));
    let mut crumbs = vec![];
    let mut at = String::new();
    for part in listing.path.split('/').filter(|p| !p.is_empty()) {
        if !at.is_empty() {
            at.push('/');
        }
        at.push_str(part);
        crumbs.push((part.to_string(), link(&at)));
    }
    let entries = listing
        .entries
        .iter()
        .map(|e| Row {
            name: e.name.clone(),
            open: link(&e.path),
            download: e.download_url.clone(),
            size: if e.kind == "dir" { String::new() } else { human_size(e.size as i64) },
            modified: (!e.modified.is_empty()).then(|| When::parse(&e.modified)),
        })
        .collect();
    let globus = app.transfers.is_some() && app.facility()?.cfg.globus_collection.is_some();
    let send = globus.then(|| super::transfer::page_of_data(&id, n, &listing.path));
    render(&DataPage { who: Some(Who::of(&app, &s)), proposal: id, session: n, crumbs, entries, listing, send })
}
