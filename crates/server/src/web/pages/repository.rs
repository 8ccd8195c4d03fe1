//! `/r/{repository}`: a repository's tags (tag, digest, size, architecture, who pushed
//! it, when) and its images by digest; its owners delete tags and images from here.

use super::{Visitor, When, human_size, render};
use crate::web::{WebResult, Who, enc, form_session};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use gantry_app::App;
use gantry_domain::{Access, Error, ImageRef, RepoName};
use serde::Deserialize;

/// Rows shown at most; the API lists them all.
const SHOWN: usize = 500;

pub struct TagRow {
    pub tag: String,
    pub reference: String,
    pub digest: String,
    pub short: String,
    pub kind: &'static str,
    pub size: String,
    pub architecture: String,
    pub pushed_by: String,
    pub when: When,
}

pub struct ImageRow {
    pub reference: String,
    pub digest: String,
    pub short: String,
    pub tags: Vec<String>,
    pub kind: &'static str,
    pub size: String,
    pub pushed_by: String,
    pub when: When,
}

#[derive(Template)]
#[template(path = "repository.html")]
struct RepositoryPage {
    who: Option<Who>,
    csrf: String,
    name: String,
    collection: String,
    visibility: &'static str,
    tags: Vec<TagRow>,
    images: Vec<ImageRow>,
    /// How many of each there are, when more than shown.
    more_tags: usize,
    more_images: usize,
    manage: bool,
    /// What was just deleted, to say so.
    deleted: Option<String>,
}

/// `sha256:0123456789ab…` as a short, recognisable form.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    format!("{}…", &hex[..hex.len().min(12)])
}

#[derive(Deserialize)]
pub(super) struct Shown {
    deleted: Option<String>,
}

pub(super) async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Path(name): Path<String>,
    q: axum::extract::Query<Shown>,
) -> WebResult<Response> {
    let v = Visitor::of(&app, &headers).await?;
    let p = v.principal();
    let repo = RepoName::parse(&name)?;
    let ctx = app.registry.repo(p.as_ref(), &repo, Access::Read).await?;
    let info = app.registry.repository(&ctx).await?;
    let by_digest: std::collections::HashMap<&str, &gantry_api_types::ManifestInfo> =
        info.manifests.iter().map(|m| (m.digest.as_str(), m)).collect();
    let mut tags: Vec<TagRow> = info
        .tags
        .iter()
        .map(|t| {
            let m = by_digest.get(t.digest.as_str());
            TagRow {
                reference: format!("{}:{}", info.name, t.name),
                tag: t.name.clone(),
                short: short(&t.digest),
                digest: t.digest.clone(),
                kind: m.map_or("", |m| m.kind.as_str()),
                size: m.map(|m| human_size(m.size)).unwrap_or_default(),
                architecture: m.and_then(|m| m.architecture.clone()).unwrap_or_default(),
                pushed_by: m.and_then(|m| m.pushed_by.clone()).unwrap_or_default(),
                when: When::parse(&t.updated),
            }
        })
        .collect();
    // Newest first, as registries show them.
    tags.sort_by(|a, b| b.when.full.cmp(&a.when.full).then_with(|| a.tag.cmp(&b.tag)));
    let images: Vec<ImageRow> = info
        .manifests
        .iter()
        .map(|m| ImageRow {
            reference: format!("{}@{}", info.name, m.digest),
            short: short(&m.digest),
            digest: m.digest.clone(),
            tags: info.tags.iter().filter(|t| t.digest == m.digest).map(|t| t.name.clone()).collect(),
            kind: m.kind.as_str(),
            size: human_size(m.size),
            pushed_by: m.pushed_by.clone().unwrap_or_default(),
            when: When::parse(&m.created),
        })
        .collect();
    let (more_tags, more_images) = (tags.len().saturating_sub(SHOWN), images.len().saturating_sub(SHOWN));
    render(&RepositoryPage {
        csrf: v.csrf(),
        who: v.who(),
        name: info.name.clone(),
        collection: info.collection.clone(),
        visibility: info.visibility.as_str(),
        tags: tags.into_iter().take(SHOWN).collect(),
        images: images.into_iter().take(SHOWN).collect(),
        more_tags,
        more_images,
        manage: ctx.access >= Access::Manage,
        deleted: q.deleted.as_deref().and_then(|d| ImageRef::parse(d).ok()).map(|r| r.to_string()),
    })
}

#[derive(Deserialize)]
pub(super) struct DeleteForm {
    csrf: String,
    /// `REPO:TAG` removes the tag; `REPO@DIGEST` removes the image and all its tags.
    reference: String,
}

/// `POST /images/delete`: the same rule as `gantry rm` and OCI DELETE (owners only).
pub(super) async fn delete(State(app): State<App>, headers: HeaderMap, f: Form<DeleteForm>) -> WebResult<Response> {
    let s = form_session(&app, &headers, &f.csrf).await?;
    let r = ImageRef::parse(&f.reference)?;
    let ctx = app.registry.repo(Some(&s.principal()), &r.repo, Access::Manage).await?;
    app.registry.delete_ref(&ctx, &r.target).await.map_err(|e| match e.kind {
        gantry_domain::ErrorKind::ManifestUnknown => {
            Error::not_found(format!("{r} is not there any more: someone may have deleted it already"))
        }
        _ => e,
    })?;
    let done = r.to_string();
    Ok(Redirect::to(&format!("/r/{}?deleted={}", r.repo, enc(&done))).into_response())
}
