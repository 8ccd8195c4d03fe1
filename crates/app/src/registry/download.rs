//! The stable download URLs: `/download/COLLECTION/NAME@sha256:…[/FILE]` (or `:TAG`)
//! give a SIF image's file, a dataset's file, a single-file artifact, or otherwise the
//! manifest itself.

use super::Registry;
use super::images::{ImageKind, kind_of};
use gantry_domain::manifest;
use gantry_domain::{Access, Digest, Error, Principal, RefTarget, RepoName, Result, Tag};

/// What a download URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRef {
    pub repo: RepoName,
    pub target: RefTarget,
    pub path: Option<String>,
}

/// Splits `repo@digest[/path]` or `repo:tag[/path]` (already percent-decoded).
pub fn parse_download(rest: &str) -> Result<DownloadRef> {
    let bad = || Error::not_found("download URLs look like /download/COLLECTION/NAME@sha256:…[/FILE]");
    let split = |after: &str| match after.split_once('/') {
        Some((x, p)) => (x.to_string(), Some(p.to_string())),
        None => (after.to_string(), None),
    };
    if let Some((repo, after)) = rest.split_once('@') {
        let (d, path) = split(after);
        return Ok(DownloadRef { repo: RepoName::parse(repo)?, target: RefTarget::Digest(Digest::parse(&d)?), path });
    }
    let (repo, after) = rest.split_once(':').ok_or_else(bad)?;
    let (t, path) = split(after);
    Ok(DownloadRef { repo: RepoName::parse(repo)?, target: RefTarget::Tag(Tag::parse(&t)?), path })
}

/// What to send.
#[derive(Debug, Clone)]
pub enum Download {
    /// One blob, under this file name.
    Blob { digest: Digest, size: u64, filename: String },
    /// The manifest itself.
    Manifest { media_type: String, digest: String, content: Vec<u8> },
}

impl Registry {
    pub async fn download(&self, caller: Option<&Principal>, r: &DownloadRef) -> Result<Download> {
        let ctx = self.repo(caller, &r.repo, Access::Read).await?;
        let row = self.resolve(&ctx, &r.target).await?;
        let content = self.manifest_bytes(&row).await?;
        let m = manifest::Manifest::parse(&content, Some(&row.media_type))?;
        let layer = match &r.path {
            Some(p) => Some(
                m.layers
                    .iter()
                    .find(|l| l.title() == Some(p.as_str()))
                    .ok_or_else(|| Error::not_found(format!("{p} is not a file of {}", r.repo)))?,
            ),
            None if m.is_sif() => m.layers.iter().find(|l| l.media_type == manifest::SIF_LAYER),
            None if m.layers.len() == 1 && !m.is_dataset() && kind_of(&row) != ImageKind::Image => m.layers.first(),
            None => None,
        };
        let Some(l) = layer else {
            return Ok(Download::Manifest { media_type: row.media_type, digest: row.digest, content });
        };
        let size = self
            .store
            .blob_in_repo(ctx.repo.id, &l.digest)
            .await?
            .ok_or_else(|| Error::internal(format!("blob {} of {} is missing", l.digest, r.repo)))?;
        let base = r.repo.basename();
        let filename = match (&r.path, m.is_sif(), &r.target) {
            (Some(p), _, _) => p.rsplit('/').next().unwrap_or(p).to_string(),
            (None, true, RefTarget::Tag(t)) => format!("{base}_{t}.sif"),
            (None, true, RefTarget::Digest(_)) => format!("{base}.sif"),
            (None, false, _) => l.title().map(str::to_string).unwrap_or_else(|| base.to_string()),
        };
        Ok(Download::Blob { digest: l.digest.clone(), size: size as u64, filename })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_paths() {
        let d = Digest::of(b"x");
        let r = parse_download(&format!("lab/data@{d}/sub/file.txt")).unwrap();
        assert_eq!(
            (r.repo.as_str(), r.target, r.path.as_deref()),
            ("lab/data", RefTarget::Digest(d.clone()), Some("sub/file.txt"))
        );
        let r = parse_download("lab/tool:1.0").unwrap();
        assert_eq!((r.repo.as_str(), r.target, r.path), ("lab/tool", RefTarget::Tag(Tag::parse("1.0").unwrap()), None));
        assert!(parse_download("lab/tool").is_err());
        assert!(parse_download("../etc@sha256:00").is_err());
    }
}
