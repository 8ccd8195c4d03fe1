//! Parsing and validating manifests (OCI image manifest and index, Docker schema 2).

use crate::error::{Error, ErrorKind, Result};
use crate::names::Digest;
use serde_json::{Map, Value};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const SIF_CONFIG: &str = "application/vnd.sylabs.sif.config.v1+json";
pub const SIF_LAYER: &str = "application/vnd.sylabs.sif.layer.v1.sif";
/// Annotation carrying a layer's file name (ORAS).
pub const TITLE: &str = "org.opencontainers.image.title";
/// Artifact type of a Gantry dataset.
pub const DATASET_ARTIFACT: &str = "application/vnd.gantry.dataset.v1";
pub const DATASET_CONFIG: &str = "application/vnd.gantry.dataset.config.v1+json";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: i64,
    pub annotations: Option<Map<String, Value>>,
    pub artifact_type: Option<String>,
}

impl Descriptor {
    pub fn title(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(TITLE)?.as_str()
    }
}

/// A validated manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub media_type: String,
    pub artifact_type: Option<String>,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    /// The entries of an index.
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub annotations: Option<Map<String, Value>>,
}

fn invalid(m: impl Into<String>) -> Error {
    Error::new(ErrorKind::ManifestInvalid, m)
}

fn descriptor(v: &Value, what: &str) -> Result<Descriptor> {
    let o = v.as_object().ok_or_else(|| invalid(format!("{what} must be an object")))?;
    let media_type = o
        .get("mediaType")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} has no mediaType")))?
        .to_string();
    let digest_s = o.get("digest").and_then(Value::as_str).ok_or_else(|| invalid(format!("{what} has no digest")))?;
    let digest = Digest::parse(digest_s).map_err(|e| invalid(format!("{what}: {}", e.message)))?;
    let size = o.get("size").and_then(Value::as_i64).ok_or_else(|| invalid(format!("{what} has no size")))?;
    if size < 0 {
        return Err(invalid(format!("{what} has a negative size")));
    }
    let annotations = match o.get("annotations") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(invalid(format!("{what}: annotations must be an object"))),
    };
    let artifact_type = o.get("artifactType").and_then(Value::as_str).map(str::to_string);
    Ok(Descriptor { media_type, digest, size, annotations, artifact_type })
}

fn descriptors(o: &Map<String, Value>, key: &str) -> Result<Vec<Descriptor>> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a.iter().enumerate().map(|(i, v)| descriptor(v, &format!("{key}[{i}]"))).collect(),
        Some(_) => Err(invalid(format!("{key} must be an array"))),
    }
}

/// Base media type of a Content-Type header value (parameters dropped).
pub fn base_media_type(ct: &str) -> &str {
    ct.split(';').next().unwrap_or("").trim()
}

impl Manifest {
    /// Parses a manifest body. `content_type` is the request's Content-Type; when the
    /// body names a mediaType too, the two must agree.
    pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Manifest> {
        let v: Value = serde_json::from_slice(body).map_err(|e| invalid(format!("manifest is not valid JSON: {e}")))?;
        let o = v.as_object().ok_or_else(|| invalid("manifest must be a JSON object"))?;
        if o.get("schemaVersion").and_then(Value::as_i64) != Some(2) {
            return Err(invalid("schemaVersion must be 2"));
        }
        let body_type = o.get("mediaType").and_then(Value::as_str);
        let header_type = content_type
            .map(base_media_type)
            .filter(|t| !t.is_empty() && *t != "application/json" && *t != "application/octet-stream");
        let media_type = match (body_type, header_type) {
            (Some(b), Some(h)) if b != h => {
                return Err(invalid(format!("Content-Type {h} does not match the manifest's mediaType {b}")));
            }
            (Some(b), _) => b.to_string(),
            (None, Some(h)) => h.to_string(),
            (None, None) if o.contains_key("manifests") => OCI_INDEX.to_string(),
            (None, None) => OCI_MANIFEST.to_string(),
        };
        let annotations = match o.get("annotations") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => return Err(invalid("annotations must be an object")),
        };
        let subject = match o.get("subject") {
            None | Some(Value::Null) => None,
            Some(s) => Some(descriptor(s, "subject")?),
        };
        let artifact_type = o.get("artifactType").and_then(Value::as_str).map(str::to_string);
        match media_type.as_str() {
            OCI_MANIFEST | DOCKER_MANIFEST => {
                let config = descriptor(o.get("config").ok_or_else(|| invalid("manifest has no config"))?, "config")?;
                let layers = descriptors(o, "layers")?;
                if o.contains_key("manifests") {
                    return Err(invalid("an image manifest cannot have manifests"));
                }
                Ok(Manifest {
                    media_type,
                    artifact_type,
                    config: Some(config),
                    layers,
                    manifests: vec![],
                    subject,
                    annotations,
                })
            }
            OCI_INDEX | DOCKER_LIST => {
                let manifests = descriptors(o, "manifests")?;
                if o.contains_key("config") || o.contains_key("layers") {
                    return Err(invalid("an index cannot have config or layers"));
                }
                Ok(Manifest {
                    media_type,
                    artifact_type,
                    config: None,
                    layers: vec![],
                    manifests,
                    subject,
                    annotations,
                })
            }
            other => Err(invalid(format!(
                "unsupported manifest media type {other:?}: use an OCI image manifest or index, or Docker schema 2"
            ))),
        }
    }

    pub fn is_index(&self) -> bool {
        self.config.is_none()
    }

    /// The artifact type shown by the referrers API: `artifactType`, else the config's
    /// media type.
    pub fn effective_artifact_type(&self) -> Option<String> {
        self.artifact_type.clone().or_else(|| self.config.as_ref().map(|c| c.media_type.clone()))
    }

    /// Blobs that must exist for this manifest: config and layers.
    pub fn blobs(&self) -> Vec<Digest> {
        self.config.iter().chain(self.layers.iter()).map(|d| d.digest.clone()).collect()
    }

    /// Sum of the sizes of what the manifest references.
    pub fn content_size(&self) -> i64 {
        self.config.iter().chain(&self.layers).chain(&self.manifests).map(|d| d.size).sum()
    }

    pub fn is_sif(&self) -> bool {
        self.config.as_ref().is_some_and(|c| c.media_type == SIF_CONFIG)
    }

    pub fn is_dataset(&self) -> bool {
        self.artifact_type.as_deref() == Some(DATASET_ARTIFACT)
            || self.config.as_ref().is_some_and(|c| c.media_type == DATASET_CONFIG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> String {
        Digest::of(s.as_bytes()).to_string()
    }

    #[test]
    fn parses_an_oras_sif_artifact() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"{SIF_CONFIG}","digest":"{}","size":2}},
            "layers":[{{"mediaType":"{SIF_LAYER}","digest":"{}","size":10,"annotations":{{"{TITLE}":"a.sif"}}}}]}}"#,
            d("c"),
            d("l")
        );
        let m = Manifest::parse(body.as_bytes(), Some(OCI_MANIFEST)).unwrap();
        assert!(m.is_sif());
        assert_eq!(m.blobs().len(), 2);
        assert_eq!(m.layers[0].title(), Some("a.sif"));
        assert_eq!(m.content_size(), 12);
        assert_eq!(m.effective_artifact_type().as_deref(), Some(SIF_CONFIG));
    }

    #[test]
    fn rejects_bad_manifests() {
        let cases = [
            ("not json", None),
            ("[]", None),
            (r#"{"schemaVersion":1}"#, None),
            (r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#, None),
            (r#"{"schemaVersion":2,"mediaType":"text/plain","config":{}}"#, None),
            (r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:00","size":1}}"#, None),
            (
                r#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":-1}}"#,
                None,
            ),
            (
                r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#,
                Some(OCI_MANIFEST),
            ),
        ];
        for (body, ct) in cases {
            let e = Manifest::parse(body.as_bytes(), ct).unwrap_err();
            assert_eq!(e.kind, ErrorKind::ManifestInvalid, "{body}");
        }
    }

    #[test]
    fn index_from_content_type() {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":5}}]}}"#,
            d("m")
        );
        let m = Manifest::parse(body.as_bytes(), Some(&format!("{OCI_INDEX}; charset=utf-8"))).unwrap();
        assert!(m.is_index());
        assert_eq!(m.manifests.len(), 1);
        assert!(m.blobs().is_empty());
    }
}
