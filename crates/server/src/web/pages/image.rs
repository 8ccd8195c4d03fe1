//! `/i/{reference}`: an image's facts, labels, definition, files, pull commands,
//! download link and the button to send it with Globus.

use super::{Visitor, human_size, render};
use crate::web::{WebResult, Who, enc};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use gantry_api_types::ImageKind;
use gantry_app::App;
use gantry_domain::{Access, ImageRef};
use serde_json::Value;

pub struct FileFacts {
    pub sha256: String,
    pub size: String,
    pub bytes: i64,
}

/// The layer that `/download/REF` serves as the file (the same choice as the registry's).
fn file_of(d: &gantry_api_types::ImageDetail) -> Option<FileFacts> {
    let l = match d.kind {
        ImageKind::Sif => d.layers.iter().find(|l| l.media_type == gantry_domain::manifest::SIF_LAYER),
        ImageKind::Dataset | ImageKind::Image => None,
        _ if d.layers.len() == 1 => d.layers.first(),
        _ => None,
    }?;
    Some(FileFacts {
        sha256: l.digest.strip_prefix("sha256:").unwrap_or(&l.digest).to_string(),
        size: human_size(l.size),
        bytes: l.size,
    })
}

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage {
    who: Option<Who>,
    reference: String,
    reference_q: String,
    collection: String,
    repository: String,
    kind: String,
    digest: String,
    size: String,
    created: super::When,
    architecture: String,
    image_created: String,
    tags: Vec<String>,
    /// The one file a download gives (a SIF image, a single-file artifact), to check
    /// with `sha256sum`; datasets list their files instead.
    file: Option<FileFacts>,
    download_url: String,
    host: String,
    /// The public URL, for the CLI.
    base: String,
    /// The server speaks plain HTTP: clients need to be told.
    plain_http: bool,
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
    let file = file_of(&d);
    let shown = r.to_string();
    let host = app.public_url.split("://").nth(1).unwrap_or(&app.public_url).to_string();
    render(&ImagePage {
        who: v.who(),
        reference_q: enc(&shown),
        reference: shown,
        collection: d.collection,
        repository: d.repository,
        kind: d.kind.as_str().to_string(),
        digest: d.digest,
        size: human_size(d.size),
        created: super::When::parse(&d.created),
        architecture: d.architecture.unwrap_or_default(),
        image_created: d.image_created.unwrap_or_default(),
        tags: d.tags,
        file,
        download_url: d.download_url,
        host,
        base: app.public_url.to_string(),
        plain_http: app.public_url.starts_with("http://"),
        labels,
        definition: d.definition,
        files,
        can_transfer: v.session.is_some() && app.transfers.is_some() && d.kind.is_file_like(),
    })
}
