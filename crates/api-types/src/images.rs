//! Images: what search lists, what a repository holds, an image's detail.

use gantry_domain::Visibility;
use gantry_domain::sif::SifInfo;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What kind of thing a manifest describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageKind {
    /// A SIF image (Apptainer, Singularity).
    Sif,
    /// Files under a common root, one layer per file.
    Dataset,
    /// An OCI index or Docker manifest list.
    Index,
    /// An OCI or Docker container image.
    Image,
    /// Any other OCI artifact.
    Artifact,
}

impl ImageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageKind::Sif => "sif",
            ImageKind::Dataset => "dataset",
            ImageKind::Index => "index",
            ImageKind::Image => "image",
            ImageKind::Artifact => "artifact",
        }
    }

    /// Whether Globus can send it (a SIF file, or a dataset's files).
    pub fn is_file_like(self) -> bool {
        matches!(self, ImageKind::Sif | ImageKind::Dataset)
    }
}

/// What Gantry read of a SIF image when it was pushed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum SifSummary {
    Read(SifInfo),
    /// The SIF could not be read; the image is kept all the same.
    Broken {
        error: String,
    },
}

/// One tagged image, as search and collection listings show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageSummary {
    #[serde(rename = "ref")]
    pub reference: String,
    pub repository: String,
    pub tag: String,
    pub digest: String,
    pub kind: ImageKind,
    pub size: i64,
    pub created: String,
    pub pushed_by: Option<String>,
    pub architecture: Option<String>,
    pub download_url: String,
}

/// `GET /api/v1/search` and `GET /api/v1/collections/{name}/images`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageList {
    pub images: Vec<ImageSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TagInfo {
    pub name: String,
    pub digest: String,
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ManifestInfo {
    pub digest: String,
    pub kind: ImageKind,
    pub size: i64,
    pub created: String,
    pub pushed_by: Option<String>,
    /// The CPU architecture a SIF image was built for, when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// `GET /api/v1/repositories/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RepositoryInfo {
    pub name: String,
    pub collection: String,
    pub visibility: Visibility,
    pub tags: Vec<TagInfo>,
    pub manifests: Vec<ManifestInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LayerInfo {
    pub digest: String,
    pub size: i64,
    pub media_type: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ChildInfo {
    pub digest: String,
    pub size: i64,
    pub media_type: String,
}

/// A file of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FileInfo {
    pub path: String,
    pub size: i64,
    pub digest: String,
    pub download_url: String,
}

/// `GET /api/v1/images/{reference}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImageDetail {
    pub repository: String,
    pub collection: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub kind: ImageKind,
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub size: i64,
    pub manifest_size: i64,
    pub created: String,
    pub pushed_by: Option<String>,
    pub download_url: String,
    pub annotations: Option<Map<String, Value>>,
    pub layers: Vec<LayerInfo>,
    /// The manifests of an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifests: Option<Vec<ChildInfo>>,
    /// SIF images: what the SIF header says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sif: Option<SifSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Value>,
    /// When the SIF image was built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_created: Option<String>,
    /// Datasets: their files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileInfo>>,
}
