//! `/`: search, recent images and the collections the visitor can see.

use super::{CollCard, Visitor, card, coll_card, render};
use crate::web::{WebResult, Who};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gantry_app::App;
use gantry_app::registry::images::Search;
use serde::Deserialize;

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    who: Option<Who>,
    q: String,
    images: Vec<super::Card>,
    collections: Vec<CollCard>,
}

#[derive(Deserialize)]
pub(super) struct SearchQuery {
    #[serde(default)]
    q: String,
}

pub(super) async fn home(State(app): State<App>, headers: HeaderMap, q: Query<SearchQuery>) -> WebResult<Response> {
    let v = Visitor::of(&app, &headers).await?;
    let p = v.principal();
    let needle = q.q.trim().chars().take(200).collect::<String>();
    let found =
        app.registry.search(p.as_ref(), &Search { text: needle.clone(), limit: 48, ..Search::default() }).await?;
    let collections = if needle.is_empty() {
        app.collections.visible(p.as_ref()).await?.iter().map(|s| coll_card(&s.collection)).collect()
    } else {
        vec![]
    };
    render(&HomePage { who: v.who(), q: needle, images: found.iter().map(card).collect(), collections })
}
