//! `/admin`: users, collections and the transfers still under way, and running garbage
//! collection, for administrators.

use super::settings::CsrfForm;
use super::{CollCard, coll_card, render};
use crate::web::{WebResult, Who, cookies, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_domain::{Error, time};

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    who: Option<Who>,
    users: Vec<(String, bool, String)>,
    collections: Vec<CollCard>,
    jobs: Vec<(String, String, String, String)>,
    csrf: String,
    gc: Option<GcDone>,
    grace_secs: u64,
}

/// What the last garbage collection from this page removed (numbers only in the URL).
#[derive(Clone, Copy)]
pub(super) struct GcDone {
    blobs: u64,
    uploads: u64,
}

#[derive(serde::Deserialize)]
pub(super) struct AdminQuery {
    blobs: Option<u64>,
    uploads: Option<u64>,
}

pub(super) async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Query(q): Query<AdminQuery>,
) -> WebResult<Response> {
    let Some(s) = cookies::session(&app, &headers).await? else { return Ok(to_login("/admin")) };
    if !s.user().is_admin {
        return Err(Error::denied("this page is for administrators").into());
    }
    let p = s.principal();
    let users =
        app.users.list().await?.into_iter().map(|u| (u.username, u.is_admin, time::rfc3339(u.created_at))).collect();
    let collections = app.collections.visible(Some(&p)).await?.iter().map(|c| coll_card(&c.collection)).collect();
    let jobs = match &app.transfers {
        Some(t) => t
            .unfinished()
            .await?
            .into_iter()
            .map(|(t, who)| (t.id, who, t.image_ref, t.status.as_str().to_string()))
            .collect(),
        None => vec![],
    };
    render(&AdminPage {
        who: Some(Who::of(&s)),
        users,
        collections,
        jobs,
        csrf: s.csrf().to_string(),
        gc: q.blobs.zip(q.uploads).map(|(blobs, uploads)| GcDone { blobs, uploads }),
        grace_secs: app.gc.grace_secs,
    })
}

/// Runs a garbage collection now (the same as `gantry admin gc`), with the configured
/// grace period, and shows what it removed.
pub(super) async fn gc(State(app): State<App>, headers: HeaderMap, f: Form<CsrfForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    if !s.user().is_admin {
        return Err(Error::denied("this is for administrators").into());
    }
    let r = app.gc.run(app.gc.grace_secs).await?;
    Ok(Redirect::to(&format!("/admin?blobs={}&uploads={}", r.blobs_removed, r.uploads_removed)).into_response())
}
