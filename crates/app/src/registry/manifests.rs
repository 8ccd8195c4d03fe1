//! Pushing a manifest: size and digest checks, dataset paths, what the SIF header says,
//! then one transaction that checks every referenced blob and moves the tag.

use super::{Registry, RepoCtx, check_relative_path};
use bytes::Bytes;
use gantry_api_types::SifSummary;
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{Digest, Error, ErrorKind, Principal, RefTarget, Result, sif};
use gantry_store::{ManifestRow, NewManifest};

/// The most labels of one manifest kept for search, and the longest name and value.
const MAX_LABELS: usize = 256;
const MAX_LABEL_NAME: usize = 256;
const MAX_LABEL_VALUE: usize = 1024;

/// The manifest's annotations and its SIF labels, as the database searches them
/// (non-string values as JSON; over-long ones are not searchable).
fn searchable_labels(m: &Manifest, info: Option<&SifSummary>) -> Vec<(String, String)> {
    let sif = match info {
        Some(SifSummary::Read(i)) => i.labels.as_ref().and_then(|l| l.as_object()),
        _ => None,
    };
    m.annotations
        .iter()
        .chain(sif)
        .flat_map(|o| o.iter())
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
        .filter(|(k, v)| k.len() <= MAX_LABEL_NAME && v.len() <= MAX_LABEL_VALUE)
        .take(MAX_LABELS)
        .collect()
}

/// How much of the title, description and definition file free-text search reads.
const MAX_SEARCH_TEXT: usize = 16 * 1024;

/// The text free-text search reads besides the repository name: the title and
/// description annotations and the SIF definition file, lower-cased, at most
/// `MAX_SEARCH_TEXT` bytes (so a search's work per image is bounded).
fn searchable_text(m: &Manifest, info: Option<&SifSummary>) -> String {
    let note = |k: &str| m.annotations.as_ref().and_then(|a| a.get(k)).and_then(|v| v.as_str()).unwrap_or_default();
    let def = match info {
        Some(SifSummary::Read(i)) => i.definition.as_deref().unwrap_or_default(),
        _ => "",
    };
    let mut text = [note("org.opencontainers.image.title"), note("org.opencontainers.image.description"), def]
        .join("\n")
        .to_lowercase();
    if text.trim_matches('\n').is_empty() {
        return String::new();
    }
    let mut end = text.len().min(MAX_SEARCH_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::internal(format!("SIF reader stopped: {e}")))
}

impl Registry {
    /// Validates and stores a manifest pushed to `reference` of the repository.
    pub async fn put_manifest(
        &self,
        caller: &Principal,
        ctx: &RepoCtx,
        reference: &RefTarget,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<ManifestRow> {
        let limit = self.max_manifest_bytes();
        if body.len() > limit {
            return Err(Error::new(ErrorKind::TooLarge, format!("manifest is larger than {limit} bytes")));
        }
        let m = Manifest::parse(&body, content_type)?;
        let digest = Digest::of(&body);
        if let RefTarget::Digest(d) = reference
            && d != &digest
        {
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("the manifest's digest is {digest}, not the {d} it was pushed as"),
            ));
        }
        if m.is_dataset() {
            for l in &m.layers {
                let title = l.title().ok_or_else(|| {
                    Error::new(
                        ErrorKind::ManifestInvalid,
                        format!("dataset layer {} has no title annotation", l.digest),
                    )
                })?;
                check_relative_path(title)?;
            }
        }
        let content_size = self.stored_sizes(ctx, &m).await?;
        let info = if m.is_sif() { self.sif_summary(ctx, &m).await } else { None };
        let labels = searchable_labels(&m, info.as_ref());
        let text = searchable_text(&m, info.as_ref());
        let new = NewManifest {
            digest,
            media_type: m.media_type.clone(),
            artifact_type: m.effective_artifact_type(),
            config_media_type: m.config.as_ref().map(|c| c.media_type.clone()),
            content: body.to_vec(),
            subject: m.subject.as_ref().map(|s| s.digest.clone()),
            annotations: m.annotations.as_ref().map(|a| serde_json::Value::Object(a.clone()).to_string()),
            info: info.and_then(|i| serde_json::to_string(&i).ok()),
            blobs: m.blobs(),
            labels,
            text,
            children: m.manifests.iter().map(|d| d.digest.clone()).collect(),
            total_size: (body.len() as i64).saturating_add(content_size),
            pushed_by: Some(caller.user_id),
        };
        let tag = match reference {
            RefTarget::Tag(t) => Some(t),
            RefTarget::Digest(_) => None,
        };
        self.store.put_manifest(ctx.repo.id, &new, tag).await
    }

    /// The sizes of what the manifest references, as stored; a declared size that is not
    /// the stored one is refused (so no listing shows a made-up size). Blobs that are not
    /// stored are left to the store's check, which names them.
    async fn stored_sizes(&self, ctx: &RepoCtx, m: &Manifest) -> Result<i64> {
        let mut total = 0i64;
        let blobs = m.config.iter().chain(&m.layers).map(|d| (d, false));
        for (d, child) in blobs.chain(m.manifests.iter().map(|d| (d, true))) {
            let stored = if child {
                self.store.manifest_by_digest(ctx.repo.id, &d.digest).await?.map(|r| r.size)
            } else {
                self.store.blob_in_repo(ctx.repo.id, &d.digest).await?
            };
            if let Some(size) = stored {
                if size != d.size {
                    return Err(Error::new(
                        ErrorKind::ManifestInvalid,
                        format!("{} is {size} bytes, but the manifest says {}", d.digest, d.size),
                    ));
                }
                total = total.saturating_add(size);
            }
        }
        Ok(total)
    }

    /// The largest manifest accepted.
    pub fn max_manifest_bytes(&self) -> usize {
        self.config.max_manifest_bytes
    }

    /// Reads the SIF header of the image layer; a broken SIF is noted, not fatal.
    async fn sif_summary(&self, ctx: &RepoCtx, m: &Manifest) -> Option<SifSummary> {
        let layer = m.layers.iter().find(|l| l.media_type == manifest::SIF_LAYER)?;
        // Only read blobs that really are in this repository.
        let size = self.store.blob_in_repo(ctx.repo.id, &layer.digest).await.ok()??;
        match self.read_sif(&layer.digest, size as u64).await {
            Ok(info) => Some(SifSummary::Read(info)),
            Err(e) => {
                tracing::warn!(digest = %layer.digest, "SIF layer could not be read: {}", e.message);
                Some(SifSummary::Broken { error: e.message })
            }
        }
    }

    async fn read_sif(&self, d: &Digest, size: u64) -> Result<sif::SifInfo> {
        let head = self.blobs.read_range(d, 0..(sif::HEADER_LEN as u64).min(size)).await?;
        let h = sif::Header::parse(&head, size)?;
        let table = self.blobs.read_range(d, h.descriptor_range()).await?;
        // Parsing runs on the blocking pool, never on the async workers.
        let ds = blocking(move || sif::parse_descriptors(&table, size)).await??;
        let mut texts = std::collections::HashMap::new();
        for desc in sif::shown_texts(&ds) {
            let b = self.blobs.read_range(d, desc.offset as u64..(desc.offset + desc.size) as u64).await?;
            texts.insert(desc.id, b.to_vec());
        }
        blocking(move || sif::SifInfo::build(&h, &ds, |desc| texts.get(&desc.id).cloned())).await
    }
}
