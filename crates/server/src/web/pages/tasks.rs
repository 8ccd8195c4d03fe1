//! `/tasks`: the visitor's transfers, refreshing themselves with htmx while one is
//! under way, and cancelling.

use super::settings::CsrfForm;
use super::{human_size, render};
use crate::web::{WebResult, Who, cookies, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_domain::Error;

pub struct TaskRow {
    pub id: String,
    pub reference: String,
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
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    who: Option<Who>,
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "tasks_table.html")]
struct TasksTable {
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
}

async fn rows(app: &App, s: &gantry_app::identity::WebSession) -> WebResult<(Vec<TaskRow>, bool)> {
    let list = match &app.transfers {
        Some(t) => t.transfers(&s.principal(), 100).await?,
        None => vec![],
    };
    let rows: Vec<TaskRow> = list
        .into_iter()
        .map(|t| TaskRow {
            globus_url: t.globus_url,
            active: !t.status.is_final(),
            id: t.id,
            reference: t.reference,
            endpoint: t.endpoint_name.unwrap_or(t.endpoint_id),
            path: t.path,
            status: t.status.as_str().to_string(),
            error: t.error,
            bytes: human_size(t.bytes_transferred),
            total: human_size(t.bytes_total),
            rate: format!("{}/s", human_size(t.bytes_per_second)),
            faults: t.faults,
        })
        .collect();
    // The table refreshes itself while a transfer is under way.
    let live = rows.iter().any(|r| r.active);
    Ok((rows, live))
}

pub(super) async fn show(State(app): State<App>, headers: HeaderMap) -> WebResult<Response> {
    let Some(s) = cookies::session(&app, &headers).await? else { return Ok(to_login("/tasks")) };
    let (rows, live) = rows(&app, &s).await?;
    render(&TasksPage { who: Some(Who::of(&s)), csrf: s.csrf().to_string(), rows, live, message: None })
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
