//! What the registry tells about images: their kind, search results, a repository's
//! tags and manifests, one image's detail with its SIF facts or dataset files.

use super::{Registry, RepoCtx};
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{CollectionName, Principal, Result, time};
use gantry_store::{ManifestRow, TaggedManifest};

pub use gantry_api_types::{
    ChildInfo, FileInfo, ImageDetail, ImageKind, ImageSummary, LayerInfo, ManifestInfo, RepositoryInfo, SifSummary,
    TagInfo,
};

/// What kind of thing a manifest describes.
pub fn kind_of(row: &ManifestRow) -> ImageKind {
    match (row.media_type.as_str(), row.config_media_type.as_deref(), row.artifact_type.as_deref()) {
        (_, Some(manifest::SIF_CONFIG), _) => ImageKind::Sif,
        (_, Some(manifest::DATASET_CONFIG), _) | (_, _, Some(manifest::DATASET_ARTIFACT)) => ImageKind::Dataset,
        (manifest::OCI_INDEX | manifest::DOCKER_LIST, _, _) => ImageKind::Index,
        (_, Some("application/vnd.oci.image.config.v1+json" | "application/vnd.docker.container.image.v1+json"), _) => {
            ImageKind::Image
        }
        _ => ImageKind::Artifact,
    }
}

/// What was read of a SIF image when it was pushed.
pub fn sif_of(row: &ManifestRow) -> Option<SifSummary> {
    row.info.as_deref().and_then(|s| serde_json::from_str(s).ok())
}

fn architecture_of(row: &ManifestRow) -> Option<String> {
    match sif_of(row)? {
        SifSummary::Read(i) => i.architecture,
        SifSummary::Broken { .. } => None,
    }
}

/// A search: text in the repository name, titles, labels, definition file, the name of
/// who pushed an image or of its collection's owners; an optional label (`key` or `key=value`,
/// matched against SIF labels and manifest annotations) and collection.
#[derive(Debug, Clone, Default)]
pub struct Search {
    pub text: String,
    pub label: Option<String>,
    pub collection: Option<CollectionName>,
    pub limit: i64,
}

impl Registry {
    /// The stable download URL of a manifest (or one file of a dataset).
    pub fn download_url(&self, repo: &str, digest: &str, path: Option<&str>) -> String {
        match path {
            Some(p) => format!("{}/download/{repo}@{digest}/{}", self.public_url, gantry_domain::url::escape_path(p)),
            None => format!("{}/download/{repo}@{digest}", self.public_url),
        }
    }

    fn summary(&self, t: &TaggedManifest) -> ImageSummary {
        let row = &t.manifest;
        ImageSummary {
            reference: format!("{}:{}", t.repo, t.tag),
            repository: t.repo.clone(),
            tag: t.tag.clone(),
            digest: row.digest.clone(),
            kind: kind_of(row),
            size: row.total_size,
            created: time::rfc3339(row.created_at),
            pushed_by: row.pushed_by.clone(),
            architecture: architecture_of(row),
            download_url: self.download_url(&t.repo, &row.digest, None),
        }
    }

    /// Tagged images the caller may read, newest first.
    pub async fn search(&self, caller: Option<&Principal>, q: &Search) -> Result<Vec<ImageSummary>> {
        if q.text.len() > 200 {
            return Err(gantry_domain::Error::invalid("search text is longer than 200 characters"));
        }
        let limit = q.limit.clamp(1, 1000);
        if q.label.as_ref().is_some_and(|l| l.len() > 1200) {
            return Err(gantry_domain::Error::invalid("the label to search for is longer than 1200 characters"));
        }
        // Labels are searched by the database (the manifest_labels table).
        let label = q.label.as_deref().map(|l| match l.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (l, None),
        });
        let (uid, admin) = (caller.map(|p| p.user_id), caller.is_some_and(|p| p.is_admin));
        let coll = q.collection.as_ref().map(|c| c.as_str());
        let found = self.store.search_tagged(uid, admin, &q.text.to_lowercase(), coll, label, limit).await?;
        Ok(found.iter().map(|t| self.summary(t)).collect())
    }

    /// A repository's tags and manifests.
    pub async fn repository(&self, ctx: &RepoCtx) -> Result<RepositoryInfo> {
        let tags = self.store.tags_in_repo(ctx.repo.id).await?;
        let manifests = self.store.manifests_in_repo(ctx.repo.id).await?;
        Ok(RepositoryInfo {
            name: ctx.repo.name.clone(),
            collection: ctx.collection.name.clone(),
            visibility: ctx.collection.visibility,
            tags: tags
                .into_iter()
                .map(|t| TagInfo { name: t.name, digest: t.digest, updated: time::rfc3339(t.updated_at) })
                .collect(),
            manifests: manifests
                .iter()
                .map(|m| ManifestInfo {
                    digest: m.digest.clone(),
                    kind: kind_of(m),
                    size: m.total_size,
                    created: time::rfc3339(m.created_at),
                    pushed_by: m.pushed_by.clone(),
                    architecture: architecture_of(m),
                })
                .collect(),
        })
    }

    /// Everything shown of one image.
    pub async fn image_detail(&self, ctx: &RepoCtx, row: &ManifestRow) -> Result<ImageDetail> {
        let m: Manifest = self.manifest(row).await?;
        let repo = ctx.repo.name.as_str();
        let tags = self.store.tags_in_repo(ctx.repo.id).await?;
        let kind = kind_of(row);
        let mut d = ImageDetail {
            repository: repo.to_string(),
            collection: ctx.collection.name.clone(),
            digest: row.digest.clone(),
            tags: tags.into_iter().filter(|t| t.digest == row.digest).map(|t| t.name).collect(),
            kind,
            media_type: row.media_type.clone(),
            artifact_type: row.artifact_type.clone(),
            size: row.total_size,
            manifest_size: row.size,
            created: time::rfc3339(row.created_at),
            pushed_by: row.pushed_by.clone(),
            download_url: self.download_url(repo, &row.digest, None),
            annotations: m.annotations.clone(),
            layers: m
                .layers
                .iter()
                .map(|l| LayerInfo {
                    digest: l.digest.to_string(),
                    size: l.size,
                    media_type: l.media_type.clone(),
                    title: l.title().map(str::to_string),
                })
                .collect(),
            manifests: m.is_index().then(|| {
                m.manifests
                    .iter()
                    .map(|c| ChildInfo { digest: c.digest.to_string(), size: c.size, media_type: c.media_type.clone() })
                    .collect()
            }),
            sif: None,
            architecture: None,
            definition: None,
            labels: None,
            image_created: None,
            files: None,
        };
        if kind == ImageKind::Sif
            && let Some(s) = sif_of(row)
        {
            if let SifSummary::Read(i) = &s {
                d.architecture = i.architecture.clone();
                d.definition = i.definition.clone();
                d.labels = i.labels.clone();
                d.image_created = Some(time::rfc3339(i.created));
            }
            d.sif = Some(s);
        }
        if kind == ImageKind::Dataset {
            d.files = Some(
                m.layers
                    .iter()
                    .filter_map(|l| {
                        let t = l.title()?;
                        Some(FileInfo {
                            path: t.to_string(),
                            size: l.size,
                            digest: l.digest.to_string(),
                            download_url: self.download_url(repo, &row.digest, Some(t)),
                        })
                    })
                    .collect(),
            );
        }
        Ok(d)
    }
}
