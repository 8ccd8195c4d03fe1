//! `/admin`: users, collections and the transfers still under way, for administrators.

use super::{CollCard, coll_card, render};
use crate::web::{WebResult, Who, cookies, to_login};
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use gantry_app::App;
use gantry_domain::{Error, time};

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    who: Option<Who>,
    users: Vec<(String, bool, String)>,
    collections: Vec<CollCard>,
    jobs: Vec<(String, String, String, String)>,
}

pub(super) async fn show(State(app): State<App>, headers: HeaderMap) -> WebResult<Response> {
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
    render(&AdminPage { who: Some(Who::of(&s)), users, collections, jobs })
}
