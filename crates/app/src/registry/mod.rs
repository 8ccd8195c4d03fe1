//! The registry: repositories with the caller's access, uploads, manifests, tags,
//! referrers, image detail, search and downloads. Every front door (OCI `/v2`, the REST
//! API, downloads, the web UI, transfers) comes through these operations.

pub mod download;
pub mod images;
pub mod manifests;
pub mod uploads;

use crate::collections::Collections;
use crate::config::Config;
use gantry_blobs::BlobStore;
use gantry_domain::manifest::Manifest;
use gantry_domain::{Access, Error, ErrorKind, Principal, RefTarget, RepoName, Result};
use gantry_store::{Collection, ManifestRow, Repo, Store};
use std::sync::Arc;

pub use images::{ImageDetail, ImageKind, ImageSummary};

#[derive(Clone)]
pub struct Registry {
    store: Store,
    blobs: Arc<BlobStore>,
    collections: Collections,
    config: Arc<Config>,
    public_url: Arc<str>,
}

/// Refuses what a registry token was not issued for, with the 403 and challenge that make
/// a client ask `/v2/token` again for the scope it needs.
fn granted(caller: Option<&Principal>, name: &RepoName, needed: Access) -> Result<()> {
    match caller {
        Some(p) if p.granted(name.as_str()) < needed => {
            let action = if needed > Access::Read { "push" } else { "pull" };
            Err(Error::new(
                ErrorKind::InsufficientScope,
                format!(
                    "this registry token does not grant {action} on {name}; ask /v2/token for repository:{name}:{action}"
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// A repository together with the caller's access to its collection.
#[derive(Debug, Clone)]
pub struct RepoCtx {
    pub repo: Repo,
    pub collection: Collection,
    pub access: Access,
}

impl Registry {
    pub fn new(
        store: Store,
        blobs: Arc<BlobStore>,
        collections: Collections,
        config: Arc<Config>,
        public_url: Arc<str>,
    ) -> Registry {
        Registry { store, blobs, collections, config, public_url }
    }

    pub fn blobs(&self) -> &Arc<BlobStore> {
        &self.blobs
    }

    /// An existing repository the caller may access as `needed`.
    pub async fn repo(&self, caller: Option<&Principal>, name: &RepoName, needed: Access) -> Result<RepoCtx> {
        granted(caller, name, needed)?;
        let seen = self.collections.access(caller, &name.collection(), needed.min(Access::Read)).await?;
        let repo = self.store.repo_by_name(name.as_str()).await?;
        let Some(repo) = repo else {
            return Err(Error::new(ErrorKind::NameUnknown, format!("repository {name} not found")));
        };
        seen.access.require(needed, caller.is_none(), &format!("repository {name}"))?;
        let access = seen.access.min(caller.map_or(Access::Manage, |p| p.granted(name.as_str())));
        Ok(RepoCtx { repo, collection: seen.collection, access })
    }

    /// A repository to push to, creating the collection (owned by the caller) and the
    /// repository on first push when that is allowed.
    pub async fn repo_for_push(&self, caller: Option<&Principal>, name: &RepoName) -> Result<RepoCtx> {
        let Some(p) = caller else {
            return Err(Error::unauthorized("authentication required to push"));
        };
        granted(caller, name, Access::Write)?;
        let cname = name.collection();
        if self.store.collection_access(cname.as_str(), Some(p.user_id)).await?.is_none() {
            self.collections.create_on_push(p, &cname).await?;
        }
        let seen = self.collections.access(caller, &cname, Access::Write).await?;
        let repo = self.store.ensure_repo(seen.collection.id, name.as_str()).await?;
        let access = seen.access.min(p.granted(name.as_str()));
        Ok(RepoCtx { repo, collection: seen.collection, access })
    }

    /// The manifest a reference points at.
    pub async fn resolve(&self, ctx: &RepoCtx, target: &RefTarget) -> Result<ManifestRow> {
        let repo = &ctx.repo;
        let m = match target {
            RefTarget::Tag(t) => self.store.manifest_by_tag(repo.id, t).await?,
            RefTarget::Digest(d) => self.store.manifest_by_digest(repo.id, d).await?,
        };
        m.ok_or_else(|| Error::new(ErrorKind::ManifestUnknown, format!("manifest {target} not found in {}", repo.name)))
    }

    /// The stored bytes of a manifest.
    pub async fn manifest_bytes(&self, row: &ManifestRow) -> Result<Vec<u8>> {
        self.store.manifest_content(row.id).await
    }

    /// The stored manifest, parsed.
    pub async fn manifest(&self, row: &ManifestRow) -> Result<Manifest> {
        Manifest::parse(&self.manifest_bytes(row).await?, Some(&row.media_type))
    }

    /// The size of a blob of the repository (404 in the OCI sense when it is not there).
    pub async fn blob_size(&self, ctx: &RepoCtx, d: &gantry_domain::Digest) -> Result<u64> {
        let size = self.store.blob_in_repo(ctx.repo.id, d).await?;
        size.map(|s| s as u64)
            .ok_or_else(|| Error::new(ErrorKind::BlobUnknown, format!("blob {d} not found in {}", ctx.repo.name)))
    }

    /// Removes a blob from a repository (the bytes go at the next gc if nothing else uses them).
    pub async fn unlink_blob(&self, ctx: &RepoCtx, d: &gantry_domain::Digest) -> Result<()> {
        if !self.store.unlink_blob(ctx.repo.id, d).await? {
            return Err(Error::new(ErrorKind::BlobUnknown, format!("blob {d} not found in {}", ctx.repo.name)));
        }
        Ok(())
    }

    /// `gantry rm`, OCI DELETE: a tag removes the tag, a digest removes the manifest
    /// (and its tags).
    pub async fn delete_ref(&self, ctx: &RepoCtx, target: &RefTarget) -> Result<()> {
        let gone = match target {
            RefTarget::Tag(t) => self.store.delete_tag(ctx.repo.id, t).await?,
            RefTarget::Digest(d) => self.store.delete_manifest(ctx.repo.id, d).await?,
        };
        if !gone {
            return Err(Error::new(ErrorKind::ManifestUnknown, format!("manifest {target} not found")));
        }
        Ok(())
    }

    /// Tag names of a repository, after `last`, at most `n`.
    pub async fn tag_names(&self, ctx: &RepoCtx, last: &str, n: i64) -> Result<Vec<String>> {
        if n == 0 {
            return Ok(vec![]);
        }
        self.store.tag_names(ctx.repo.id, last, n).await
    }

    /// Repository names the caller can read, after `last`, at most `n`.
    pub async fn catalog(&self, caller: Option<&Principal>, last: &str, n: i64) -> Result<Vec<String>> {
        self.store.catalog(caller.map(|p| p.user_id), caller.is_some_and(|p| p.is_admin), last, n).await
    }

    /// The manifests that refer to `subject`, optionally of one artifact type.
    pub async fn referrers(
        &self,
        ctx: &RepoCtx,
        subject: &gantry_domain::Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<ManifestRow>> {
        self.store.referrers(ctx.repo.id, subject, artifact_type).await
    }
}

/// A dataset file path: relative, no empty, `.` or `..` components, no backslashes.
pub fn check_relative_path(p: &str) -> Result<()> {
    let bad = p.is_empty()
        || p.len() > 4096
        || p.starts_with('/')
        || p.contains('\\')
        || gantry_domain::text::has_hidden_controls(p)
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(Error::new(
            ErrorKind::ManifestInvalid,
            format!("invalid dataset file path {p:?}: use a relative path without '..', control or bidi characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn dataset_paths_stay_inside() {
        for ok in ["a", "a/b.txt", "dir/sub/file.h5", ".hidden"] {
            assert!(super::check_relative_path(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "a\\b", "a/", "a\nb", "x\u{202e}fdp.exe"] {
            assert!(super::check_relative_path(bad).is_err(), "{bad}");
        }
    }
}
