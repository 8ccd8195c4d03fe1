//! `/i/{reference}`: an image's facts, labels, definition, files, pull commands,
//! download link and the button to send it with Globus.

use super::{Visitor, human_size, render};
use crate::web::{WebResult, Who, enc};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gantry_app::App;
use gantry_domain::{Access, ImageRef};
use serde_json::Value;

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage {
    who: Option<Who>,
    reference: String,
    reference_q: String,
    collection: String,
    kind: String,
    digest: String,
    size: String,
    created: String,
    architecture: String,
    image_created: String,
    tags: Vec<String>,
    download_url: String,
    host: String,
    labels: Vec<(String, String)>,
    definition: Option<String>,
    files: Vec<(String, String, String)>,
    can_transfer: bool,
}

pub(super) async fn show(
    State(app): State<App>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> WebResult<Response> {
    let v = Visitor::of(&app, &headers).await?;
    let p = v.principal();
    let r = ImageRef::parse(&reference)?;
    let ctx = app.registry.repo(p.as_ref(), &r.repo, Access::Read).await?;
    let row = app.registry.resolve(&ctx, &r.target).await?;
    let d = app.registry.image_detail(&ctx, &row).await?;
    let labels = match &d.labels {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
            .collect(),
        _ => vec![],
    };
    let files =
        d.files.iter().flatten().map(|f| (f.path.clone(), human_size(f.size), f.download_url.clone())).collect();
    let shown = r.to_string();
    let host = app.public_url.split("://").nth(1).unwrap_or(&app.public_url).to_string();
    render(&ImagePage {
        who: v.who(),
        reference_q: enc(&shown),
        reference: shown,
        collection: d.collection,
        kind: d.kind.as_str().to_string(),
        digest: d.digest,
        size: human_size(d.size),
        created: d.created,
        architecture: d.architecture.unwrap_or_default(),
        image_created: d.image_created.unwrap_or_default(),
        tags: d.tags,
        download_url: d.download_url,
        host,
        labels,
        definition: d.definition,
        files,
        can_transfer: v.session.is_some() && app.transfers.is_some() && d.kind.is_file_like(),
    })
}
