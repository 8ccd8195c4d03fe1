//! `/tasks`: the visitor's transfers, refreshing themselves with htmx while one is
//! under way, and cancelling; `/tasks/{id}`: one transfer in detail (times, progress,
//! events, faults, "transfer again").

use super::settings::CsrfForm;
use super::{When, human_size, render};
use crate::web::{WebResult, Who, cookies, enc, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_domain::Error;

pub struct TaskRow {
    pub id: String,
    /// What is sent, in words.
    pub what: String,
    pub endpoint: String,
    pub path: String,
    pub status: String,
    pub error: Option<String>,
    pub bytes: String,
    pub total: String,
    pub rate: String,
    pub faults: i64,
    pub active: bool,
    pub globus_url: Option<String>,
    pub submitted: When,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    who: Option<Who>,
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
    message: Option<String>,
    submitted: Option<(String, String)>,
}

#[derive(Template)]
#[template(path = "tasks_table.html")]
struct TasksTable {
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
}

fn row_of(t: gantry_api_types::TransferInfo) -> TaskRow {
    TaskRow {
        what: t.what(),
        submitted: When::parse(&t.created),
        globus_url: t.globus_url,
        active: !t.status.is_final(),
        id: t.id,
        endpoint: t.endpoint_name.unwrap_or(t.endpoint_id),
        path: t.path,
        status: t.status.as_str().to_string(),
        error: t.error,
        bytes: human_size(t.bytes_transferred),
        total: human_size(t.bytes_total),
        rate: format!("{}/s", human_size(t.bytes_per_second)),
        faults: t.faults,
    }
}

async fn rows(app: &App, s: &gantry_app::identity::WebSession) -> WebResult<(Vec<TaskRow>, bool)> {
    let list = match &app.transfers {
        Some(t) => t.transfers(&s.principal(), 100).await?,
        None => vec![],
    };
    let rows: Vec<TaskRow> = list.into_iter().map(row_of).collect();
    // The table refreshes itself while a transfer is under way.
    let live = rows.iter().any(|r| r.active);
    Ok((rows, live))
}

#[derive(serde::Deserialize)]
pub(super) struct TasksQuery {
    /// Set right after the visitor submitted this transfer.
    submitted: Option<String>,
}

pub(super) async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<TasksQuery>,
) -> WebResult<Response> {
    let Some(s) = cookies::session(&app, &headers).await? else { return Ok(to_login("/tasks")) };
    let (rows, live) = rows(&app, &s).await?;
    // Said only for a transfer of the visitor's own that is in the list.
    let submitted = q.submitted.and_then(|id| rows.iter().find(|r| r.id == id)).map(|r| (r.id.clone(), r.what.clone()));
    render(&TasksPage {
        who: Some(Who::of(&app, &s)),
        csrf: s.csrf().to_string(),
        rows,
        live,
        message: None,
        submitted,
    })
}

pub(super) async fn table(State(app): State<App>, headers: HeaderMap) -> WebResult<Response> {
    let s = cookies::session(&app, &headers).await?.ok_or_else(|| Error::unauthorized("sign in first"))?;
    let (rows, live) = rows(&app, &s).await?;
    render(&TasksTable { csrf: s.csrf().to_string(), rows, live })
}

pub(super) async fn cancel(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    app.transfers()?.cancel(&s.principal(), &id).await?;
    Ok(Redirect::to("/tasks").into_response())
}

#[derive(Template)]
#[template(path = "task.html")]
struct TaskPage {
    who: Option<Who>,
    csrf: String,
    t: gantry_api_types::TransferInfo,
    row: TaskRow,
    submitted: When,
    completed: Option<When>,
    /// Percent of the bytes moved, when the total is known.
    percent: Option<i64>,
    events: Vec<(When, gantry_api_types::TransferEvent)>,
    again: String,
    /// "Image" or "Data", and the page of what is sent.
    kind: &'static str,
    source_link: String,
}

pub(super) async fn detail(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> WebResult<Response> {
    let Some(s) = cookies::session(&app, &headers).await? else { return Ok(to_login(&format!("/tasks/{}", enc(&id)))) };
    let t = app.transfers()?;
    // Only the owner (or an administrator) finds it: 404 otherwise.
    let info = t.info(&t.transfer_of(&s.principal(), &id).await?);
    let row = row_of(info.clone());
    let percent = (info.bytes_total > 0).then(|| (info.bytes_transferred * 100 / info.bytes_total).clamp(0, 100));
    let again =
        format!("{}&endpoint={}&path={}", super::transfer::page_of(&info), enc(&info.endpoint_id), enc(&info.path));
    let (kind, source_link) = match (&info.experiment, info.session) {
        (Some(e), Some(n)) => ("Data", format!("/experiments/{}/sessions/{n}", enc(e))),
        _ => ("Image", format!("/i/{}", info.reference)),
    };
    render(&TaskPage {
        who: Some(Who::of(&app, &s)),
        csrf: s.csrf().to_string(),
        submitted: When::parse(&info.created),
        completed: info.completed.as_deref().map(When::parse),
        events: info.events.iter().map(|e| (When::parse(&e.time), e.clone())).collect(),
        percent,
        again,
        kind,
        source_link,
        row,
        t: info,
    })
}
