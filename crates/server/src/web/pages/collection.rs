//! `/c/{name}`: a collection's images, and for its owners the forms that manage its
//! visibility, description, members and Globus group roles.

use super::{Card, Visitor, card, render};
use crate::web::{WebResult, Who, form_session};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_api_types::ImageSummary;
use gantry_app::App;
use gantry_app::collections::Managed;
use gantry_app::registry::images::Search;
use gantry_app::users::NamedGroup;
use gantry_domain::{Access, CollectionName, Role, Visibility};
use serde::Deserialize;

#[derive(Template)]
#[template(path = "collection.html")]
struct CollectionPage {
    who: Option<Who>,
    csrf: String,
    name: String,
    description: String,
    visibility: &'static str,
    role: Option<String>,
    repositories: Vec<RepoCard>,
    manage: bool,
    members: Vec<(String, String)>,
    /// Groups holding a role, with the role.
    groups: Vec<(NamedGroup, String)>,
    /// The visitor's own Globus groups, to choose from when giving a role.
    my_groups: Vec<NamedGroup>,
}

pub(super) async fn show(State(app): State<App>, headers: HeaderMap, Path(name): Path<String>) -> WebResult<Response> {
    let v = Visitor::of(&app, &headers).await?;
    let p = v.principal();
    let cname = CollectionName::parse(&name)?;
    let seen = app.collections.access(p.as_ref(), &cname, Access::Read).await?;
    let search = Search { collection: Some(cname.clone()), limit: 1000, ..Search::default() };
    let found = app.registry.search(p.as_ref(), &search).await?;
    let (members, groups, my_groups) = match (app.collections.managed(p.as_ref(), &cname).await, &p) {
        (Ok(m), Some(p)) => {
            let members =
                app.collections.members(&m).await?.into_iter().map(|m| (m.username, m.role.as_str().to_string()));
            let held = app.collections.groups(&m).await?;
            let ids: Vec<String> = held.iter().map(|g| g.group_id.clone()).collect();
            let named = app.users.named_groups(&ids).await?;
            let groups = named.into_iter().zip(held).map(|(n, g)| (n, g.role.as_str().to_string())).collect();
            (members.collect(), groups, app.users.profile(p.user_id).await?.groups)
        }
        _ => (vec![], vec![], vec![]),
    };
    let c = seen.collection;
    render(&CollectionPage {
        csrf: v.csrf(),
        who: v.who(),
        name: c.name,
        description: c.description,
        visibility: c.visibility.as_str(),
        // What the page lets the visitor do, said as it is: an administrator manages
        // every collection, whatever their own role in it.
        role: match (&p, seen.role) {
            (Some(p), Some(r)) if p.is_admin && r != gantry_domain::Role::Owner => {
                Some(format!("{} — and, as a server administrator, you manage this collection", r.as_str()))
            }
            (Some(p), None) if p.is_admin => Some("server administrator (you manage every collection)".into()),
            (Some(_), r) => r.map(|r| r.as_str().to_string()),
            (None, _) => None,
        },
        repositories: repositories(&found),
        manage: seen.access >= Access::Manage,
        members,
        groups,
        my_groups,
    })
}

/// A repository of a collection as its page lists it: the newest tag first.
pub struct RepoCard {
    pub name: String,
    pub latest: Card,
    /// Up to five tag names, newest first, and how many more there are.
    pub tags: Vec<String>,
    pub more: usize,
}

/// Search results (newest first) grouped by repository, keeping that order.
fn repositories(found: &[ImageSummary]) -> Vec<RepoCard> {
    let mut out: Vec<RepoCard> = vec![];
    for i in found {
        match out.iter_mut().find(|r| r.name == i.repository) {
            Some(r) if r.tags.len() < 5 => r.tags.push(i.tag.clone()),
            Some(r) => r.more += 1,
            None => {
                out.push(RepoCard { name: i.repository.clone(), latest: card(i), tags: vec![i.tag.clone()], more: 0 })
            }
        }
    }
    out
}

/// The collection a form manages: the visitor must be signed in, send the session's
/// CSRF token, and be one of its owners (or an admin).
async fn managed(app: &App, headers: &HeaderMap, name: &str, csrf: &str) -> WebResult<Managed> {
    let s = form_session(app, headers, csrf).await?;
    Ok(app.collections.managed(Some(&s.principal()), &CollectionName::parse(name)?).await?)
}

fn back_to(name: &str) -> Response {
    Redirect::to(&format!("/c/{name}")).into_response()
}

#[derive(Deserialize)]
pub(super) struct SettingsForm {
    csrf: String,
    visibility: Visibility,
    #[serde(default)]
    description: String,
}

pub(super) async fn settings(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<SettingsForm>,
) -> WebResult<Response> {
    let c = managed(&app, &headers, &name, &f.csrf).await?;
    app.collections.update(&c, Some(f.visibility), Some(&f.description)).await?;
    Ok(back_to(&name))
}

#[derive(Deserialize)]
pub(super) struct RoleForm {
    csrf: String,
    kind: String,
    who: String,
    role: Role,
}

pub(super) async fn give_role(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<RoleForm>,
) -> WebResult<Response> {
    let c = managed(&app, &headers, &name, &f.csrf).await?;
    if f.kind == "group" {
        app.collections.set_group_role(&c, &f.who, f.role).await?;
    } else {
        app.collections.set_user_role(&c, &f.who, f.role).await?;
    }
    Ok(back_to(&name))
}

#[derive(Deserialize)]
pub(super) struct WhoForm {
    csrf: String,
    who: String,
}

/// `/c/{name}/members/remove` and `/c/{name}/groups/remove`.
pub(super) async fn remove(
    State(app): State<App>,
    headers: HeaderMap,
    Path((name, kind)): Path<(String, String)>,
    f: Form<WhoForm>,
) -> WebResult<Response> {
    let c = managed(&app, &headers, &name, &f.csrf).await?;
    match kind.as_str() {
        "members" => app.collections.remove_user_role(&c, &f.who).await?,
        "groups" => app.collections.remove_group_role(&c, &f.who).await?,
        _ => return Err(gantry_domain::Error::not_found("no such form").into()),
    }
    Ok(back_to(&name))
}
