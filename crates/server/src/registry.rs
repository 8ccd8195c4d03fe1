//! Registry operations shared by every front door (OCI, REST, downloads): resolving a
//! repository with the caller's access, committing uploads, storing manifests, GC.

use crate::state::AppState;
use bytes::Bytes;
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{
    Access, CollectionName, Digest, Error, ErrorKind, Principal, RefTarget, RepoName, Result, TokenScope, sif,
    time::now_unix,
};
use gantry_store::{Collection, ManifestRow, NewManifest, Repo, Upload};
use std::time::Duration;

/// A repository together with the caller's access to its collection.
#[derive(Debug, Clone)]
pub struct RepoCtx {
    pub repo: Repo,
    pub collection: Collection,
    pub access: Access,
}

/// What a garbage collection removed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GcReport {
    pub blobs_removed: u64,
    pub uploads_removed: u64,
}

impl AppState {
    /// The caller's access to a collection, or the error that reveals nothing.
    pub async fn collection_access(
        &self,
        caller: Option<&Principal>,
        name: &CollectionName,
        needed: Access,
    ) -> Result<(Collection, Access)> {
        let found = self.store.collection_access(name.as_str(), caller.map(|p| p.user_id)).await?;
        let Some(ca) = found else {
            return Err(match caller {
                None => Error::unauthorized("authentication required"),
                Some(_) => Error::new(ErrorKind::NameUnknown, format!("collection {name} not found")),
            });
        };
        let access = Access::decide(caller, ca.collection.visibility, ca.role);
        access.require(needed, caller.is_none(), &format!("collection {name}"))?;
        Ok((ca.collection, access))
    }

    /// An existing repository the caller may access as `needed`.
    pub async fn repo(&self, caller: Option<&Principal>, name: &RepoName, needed: Access) -> Result<RepoCtx> {
        let (collection, access) = self.collection_access(caller, &name.collection(), needed.min(Access::Read)).await?;
        let repo = self.store.repo_by_name(name.as_str()).await?;
        let Some(repo) = repo else {
            return Err(Error::new(ErrorKind::NameUnknown, format!("repository {name} not found")));
        };
        access.require(needed, caller.is_none(), &format!("repository {name}"))?;
        Ok(RepoCtx { repo, collection, access })
    }

    /// A repository to push to, creating the collection (owned by the caller) and the
    /// repository on first push when that is allowed.
    pub async fn repo_for_push(&self, caller: Option<&Principal>, name: &RepoName) -> Result<RepoCtx> {
        let Some(p) = caller else {
            return Err(Error::unauthorized("authentication required to push"));
        };
        let cname = name.collection();
        if self.store.collection_access(cname.as_str(), Some(p.user_id)).await?.is_none() {
            self.create_collection_on_push(p, &cname).await?;
        }
        let (collection, access) = self.collection_access(caller, &cname, Access::Write).await?;
        let repo = self.store.ensure_repo(collection.id, name.as_str()).await?;
        Ok(RepoCtx { repo, collection, access })
    }

    async fn create_collection_on_push(&self, p: &Principal, name: &CollectionName) -> Result<()> {
        if p.scope != TokenScope::Write {
            return Err(Error::denied("a read-only token cannot create collections"));
        }
        if !self.config.allow_user_collections && !p.is_admin {
            return Err(Error::denied(format!(
                "collection {name} does not exist and only admins may create collections here; ask an admin to create it"
            )));
        }
        match self.store.create_collection(name.as_str(), self.config.default_visibility, "", Some(p.user_id)).await {
            Ok(_) => Ok(()),
            // Someone else created it at the same moment: fine, access is checked next.
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Verifies an upload and makes its blob visible in the upload's repository.
    pub async fn commit_upload(&self, up: &Upload, size: u64, digest: &Digest) -> Result<()> {
        if let Err(e) = self.blobs.verify(&up.id, size, digest).await {
            if e.kind == ErrorKind::DigestInvalid {
                self.store.delete_upload(&up.id).await?;
            }
            return Err(e);
        }
        let mut published = false;
        for _ in 0..300 {
            if self.store.blob_size(digest).await?.is_some() {
                // The bytes are already stored (an available row guarantees it).
                if self.store.commit_blob(up.repo_id, digest, size as i64).await? {
                    if !published {
                        self.blobs.discard(&up.id).await?;
                    }
                    self.store.delete_upload(&up.id).await?;
                    return Ok(());
                }
            } else if self.store.blob_is_deleting(digest).await? {
                // Garbage collection is removing this very digest: let it finish first.
            } else {
                if !published {
                    self.blobs.publish_upload(&up.id, digest).await?;
                    published = true;
                }
                if self.store.commit_blob(up.repo_id, digest, size as i64).await? {
                    self.store.delete_upload(&up.id).await?;
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(Error::new(ErrorKind::Unavailable, "the blob is being garbage-collected; retry the upload"))
    }

    /// Validates and stores a manifest pushed to `reference` of the repository.
    pub async fn put_manifest(
        &self,
        caller: &Principal,
        repo: &Repo,
        reference: &RefTarget,
        body: Bytes,
        content_type: Option<&str>,
    ) -> Result<ManifestRow> {
        if body.len() > self.config.max_manifest_bytes {
            return Err(Error::new(
                ErrorKind::TooLarge,
                format!("manifest is larger than {} bytes", self.config.max_manifest_bytes),
            ));
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
        let info = if m.is_sif() { self.sif_summary(repo, &m).await } else { None };
        let new = NewManifest {
            digest,
            media_type: m.media_type.clone(),
            artifact_type: m.effective_artifact_type(),
            config_media_type: m.config.as_ref().map(|c| c.media_type.clone()),
            content: body.to_vec(),
            subject: m.subject.as_ref().map(|s| s.digest.clone()),
            annotations: m.annotations.as_ref().map(|a| serde_json::Value::Object(a.clone()).to_string()),
            info: info.map(|v| v.to_string()),
            blobs: m.blobs(),
            children: m.manifests.iter().map(|d| d.digest.clone()).collect(),
            total_size: body.len() as i64 + m.content_size(),
            pushed_by: Some(caller.user_id),
        };
        let tag = match reference {
            RefTarget::Tag(t) => Some(t),
            RefTarget::Digest(_) => None,
        };
        self.store.put_manifest(repo.id, &new, tag).await
    }

    /// Reads the SIF header of the image layer; a broken SIF is noted, not fatal.
    async fn sif_summary(&self, repo: &Repo, m: &Manifest) -> Option<serde_json::Value> {
        let layer = m.layers.iter().find(|l| l.media_type == manifest::SIF_LAYER)?;
        // Only read blobs that really are in this repository.
        let size = self.store.blob_in_repo(repo.id, &layer.digest).await.ok()??;
        match self.read_sif(&layer.digest, size as u64).await {
            Ok(info) => serde_json::to_value(info).ok(),
            Err(e) => {
                tracing::warn!(digest = %layer.digest, "SIF layer could not be read: {}", e.message);
                Some(serde_json::json!({ "error": e.message }))
            }
        }
    }

    pub async fn read_sif(&self, d: &Digest, size: u64) -> Result<sif::SifInfo> {
        let head = self.blobs.read_range(d, 0..(sif::HEADER_LEN as u64).min(size)).await?;
        let h = sif::Header::parse(&head, size)?;
        let r = h.descriptor_range();
        let table = self.blobs.read_range(d, r).await?;
        let ds = sif::parse_descriptors(&table, size)?;
        let mut texts = std::collections::HashMap::new();
        for desc in ds.iter().filter(|d| sif::wants_text(d)) {
            let b = self.blobs.read_range(d, desc.offset as u64..(desc.offset + desc.size) as u64).await?;
            texts.insert(desc.id, b.to_vec());
        }
        Ok(sif::SifInfo::build(&h, &ds, |desc| texts.get(&desc.id).cloned()))
    }

    /// The manifest a reference points at.
    pub async fn resolve(&self, repo: &Repo, target: &RefTarget) -> Result<ManifestRow> {
        let m = match target {
            RefTarget::Tag(t) => self.store.manifest_by_tag(repo.id, t).await?,
            RefTarget::Digest(d) => self.store.manifest_by_digest(repo.id, d).await?,
        };
        m.ok_or_else(|| Error::new(ErrorKind::ManifestUnknown, format!("manifest {target} not found in {}", repo.name)))
    }

    /// Removes unreferenced blobs older than `grace_secs` and expired upload sessions.
    /// Safe while pushes run: see `Store::gc_mark`.
    pub async fn gc(&self, grace_secs: u64) -> Result<GcReport> {
        let now = now_unix();
        let mut report = GcReport::default();
        for id in self.store.stale_uploads(now - self.config.upload_expiry_secs as i64).await? {
            self.blobs.discard(&id).await?;
            self.store.delete_upload(&id).await?;
            report.uploads_removed += 1;
        }
        // Staged files without a session (a crash between creating the two).
        let known: std::collections::HashSet<String> = self.store.upload_ids().await?.into_iter().collect();
        for id in self.blobs.staged_ids().await? {
            if !known.contains(&id) && self.blobs.staged_age_secs(&id).await.is_some_and(|a| a > grace_secs) {
                self.blobs.discard(&id).await?;
                report.uploads_removed += 1;
            }
        }
        let cutoff = now - grace_secs as i64;
        for c in self.store.gc_candidates(cutoff).await? {
            let marked = c.marked || self.store.gc_mark(&c.digest, cutoff).await?;
            if marked {
                let d = Digest::parse(&c.digest)?;
                self.blobs.delete(&d).await?;
                self.store.gc_forget(&c.digest).await?;
                report.blobs_removed += 1;
            }
        }
        Ok(report)
    }
}

/// A dataset file path: relative, no empty, `.` or `..` components, no backslashes.
pub fn check_relative_path(p: &str) -> Result<()> {
    let bad = p.is_empty()
        || p.len() > 4096
        || p.starts_with('/')
        || p.contains('\\')
        || p.contains('\0')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(Error::new(
            ErrorKind::ManifestInvalid,
            format!("invalid dataset file path {p:?}: use a relative path without '..'"),
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
        for bad in ["", "/etc/passwd", "../x", "a/../b", "a//b", "a/./b", "a\\b", "a/"] {
            assert!(super::check_relative_path(bad).is_err(), "{bad}");
        }
    }
}
