//! `/admin`: users, collections and the transfers still under way, and running garbage
//! collection, for administrators.

use super::settings::CsrfForm;
use super::{CollCard, When, coll_card, human_size, render};
use crate::web::{WebResult, Who, cookies, form_session, to_login};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_app::users::validate_username;
use gantry_domain::Error;

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    who: Option<Who>,
    users: Vec<UserRow>,
    me: String,
    storage: Vec<(CollCard, String, i64, i64)>,
    stored: String,
    /// A change just made to an account, to say so.
    changed: Option<String>,
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
    changed: Option<String>,
}

/// An account as the admin page lists it.
pub struct UserRow {
    pub name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub since: When,
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
    let users = app
        .users
        .list()
        .await?
        .into_iter()
        .map(|u| UserRow {
            name: u.username,
            is_admin: u.is_admin,
            disabled: u.disabled,
            since: When::at(u.created_at),
        })
        .collect();
    let cards: std::collections::HashMap<String, CollCard> = app
        .collections
        .visible(Some(&p))
        .await?
        .iter()
        .map(|c| (c.collection.name.clone(), coll_card(&c.collection)))
        .collect();
    let (used, stored) = app.gc.storage_use().await?;
    let storage = used
        .into_iter()
        .filter_map(|u| Some((cards.get(&u.name)?.clone(), human_size(u.bytes), u.repositories, u.manifests)))
        .collect();
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
        who: Some(Who::of(&app, &s)),
        users,
        me: s.user().username.clone(),
        storage,
        stored: human_size(stored),
        changed: q.changed.filter(|c| validate_username(c).is_ok()),
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

/// What the admin page does to an account.
#[derive(serde::Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub(super) enum AccountChange {
    Disable,
    Enable,
    MakeAdmin,
    RemoveAdmin,
}

/// `POST /admin/users/{name}/{change}`: administrators, with their CSRF token; never
/// their own account, never the last administrator.
pub(super) async fn change_user(
    State(app): State<App>,
    headers: HeaderMap,
    Path((name, change)): Path<(String, AccountChange)>,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let by = s.principal();
    match change {
        AccountChange::Disable => app.users.set_disabled(&by, &name, true).await?,
        AccountChange::Enable => app.users.set_disabled(&by, &name, false).await?,
        AccountChange::MakeAdmin => app.users.set_admin(&by, &name, true).await?,
        AccountChange::RemoveAdmin => app.users.set_admin(&by, &name, false).await?,
    };
    Ok(Redirect::to(&format!("/admin?changed={}#users", crate::web::enc(&name))).into_response())
}
