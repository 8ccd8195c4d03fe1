//! Starting a transfer: who may send what, the export of the image's files, the row
//! that makes it a job, and the first submission.

use super::Transfers;
use crate::registry::check_relative_path;
use gantry_api_types::NewTransfer;
use gantry_domain::manifest::{self, Manifest};
use gantry_domain::{
    Access, Digest, Error, ErrorKind, ImageRef, JobKind, Principal, RefTarget, Result, TransferStatus, time,
};
use std::time::Duration;

/// How long the request that starts a transfer holds its job: another process takes it
/// over only if the request died on the way.
const PREPARE_LEASE: Duration = Duration::from_secs(120);
use gantry_store::TransferRow;
use std::path::{Path, PathBuf};

/// What arrives at the destination: (path under the export, blob digest).
fn files_of(m: &Manifest, image: &ImageRef) -> Result<Vec<(String, Digest)>> {
    let base = image.repo.basename().to_string();
    if m.is_sif() {
        let l = m
            .layers
            .iter()
            .find(|l| l.media_type == manifest::SIF_LAYER)
            .ok_or_else(|| Error::invalid("no SIF layer"))?;
        let name = match &image.target {
            RefTarget::Tag(t) => format!("{base}_{t}.sif"),
            RefTarget::Digest(d) => format!("{base}_{}.sif", &d.hex()[..12]),
        };
        return Ok(vec![(name, l.digest.clone())]);
    }
    if m.is_dataset() {
        let mut out = vec![];
        for l in &m.layers {
            let title = l.title().ok_or_else(|| Error::invalid("a dataset file has no title"))?;
            check_relative_path(title)?;
            out.push((format!("{base}/{title}"), l.digest.clone()));
        }
        return Ok(out);
    }
    Err(Error::invalid("only SIF images and datasets can be sent with Globus; pull OCI images with oras or skopeo"))
}

/// Links the image's blobs under `root` (a copy where links cannot be made).
fn export(root: &Path, files: &[(String, PathBuf)]) -> Result<()> {
    for (rel, src) in files {
        let dst = root.join(rel);
        std::fs::create_dir_all(dst.parent().unwrap_or(root)).map_err(|e| Error::internal(format!("export: {e}")))?;
        if std::fs::hard_link(src, &dst).is_err() {
            std::fs::copy(src, &dst).map_err(|e| Error::internal(format!("export {}: {e}", dst.display())))?;
        }
    }
    Ok(())
}

impl Transfers {
    /// Starts a transfer for `p`, who must be able to pull the image.
    /// The name the image arrives under in the destination folder: `NAME_TAG.sif` for a
    /// SIF image, the folder `NAME/` for a dataset (for the caller who may pull it).
    pub async fn arriving_name(&self, p: &Principal, reference: &str) -> Result<String> {
        let image = ImageRef::parse(reference)?;
        let ctx = self.registry.repo(Some(p), &image.repo, Access::Read).await?;
        let m = self.registry.manifest(&self.registry.resolve(&ctx, &image.target).await?).await?;
        let files = files_of(&m, &image)?;
        let first = files.first().map(|f| f.0.as_str()).unwrap_or_default();
        Ok(match first.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => first.to_string(),
        })
    }

    pub async fn start(&self, p: &Principal, body: &NewTransfer) -> Result<TransferRow> {
        let image = ImageRef::parse(&body.reference)?;
        // Only those who may pull an image may send it.
        let ctx = self.registry.repo(Some(p), &image.repo, Access::Read).await?;
        let row = self.registry.resolve(&ctx, &image.target).await?;
        let m = self.registry.manifest(&row).await?;
        let files = files_of(&m, &image)?;
        if !body.path.starts_with('/') {
            return Err(Error::invalid("path must be absolute at the endpoint, e.g. /~/images/"));
        }
        if body.sync_level.is_some_and(|l| !(0..=3).contains(&l)) {
            return Err(Error::invalid("sync_level is 0, 1, 2 or 3"));
        }
        if self.store.active_transfers(p.user_id).await? >= self.cfg.max_concurrent {
            return Err(Error::new(
                ErrorKind::TooManyRequests,
                format!(
                    "you have {} transfers under way, the most this server allows; wait for one to end",
                    self.cfg.max_concurrent
                ),
            ));
        }
        // The user's connection is checked before anything is prepared; the endpoint's
        // name is kept for display (a failure to get it is not an error).
        let (_, token) = self.user_token(p.user_id).await?;
        let endpoint_name = match self.globus.endpoint(&token, &body.endpoint_id).await {
            Ok(e) => e.display_name,
            Err(e) if e.is_not_found() => {
                return Err(Error::not_found(format!("Globus knows no endpoint {}", body.endpoint_id)));
            }
            Err(_) => None,
        };
        let sources = files
            .iter()
            .map(|(rel, d)| {
                let src = self.registry.blobs().local_path(d).ok_or_else(|| {
                    Error::new(ErrorKind::Unsupported, "Globus transfers need blobs on the local disk")
                })?;
                Ok((rel.clone(), src))
            })
            .collect::<Result<Vec<_>>>()?;
        let now = time::now_unix();
        let export_id = crate::secrets::random_hex(16);
        let size: i64 = m.layers.iter().map(|l| l.size).sum();
        let mut tr = TransferRow {
            id: crate::secrets::random_hex(16),
            user_id: p.user_id,
            image_ref: image.to_string(),
            digest: row.digest.clone(),
            endpoint_id: body.endpoint_id.clone(),
            endpoint_name,
            path: body.path.clone(),
            label: body.label.clone(),
            sync_level: body.sync_level,
            verify_checksum: body.verify_checksum.unwrap_or(true),
            preserve_timestamp: body.preserve_timestamp.unwrap_or(false),
            status: TransferStatus::Preparing,
            submission_id: None,
            task_id: None,
            rule_id: None,
            export_id,
            files: files.len() as i64,
            bytes_transferred: 0,
            bytes_total: size,
            rate: 0,
            faults: 0,
            nice_status: None,
            error: None,
            events: "[]".into(),
            cleaned: false,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        // The row (with its job, held by this request) comes first, so that no process
        // takes the export or the rule for something left behind.
        self.store.create_transfer(&tr, self.jobs.owner(), now + PREPARE_LEASE.as_secs() as i64).await?;
        let job = self
            .jobs
            .claim(JobKind::Transfer, &tr.id, PREPARE_LEASE)
            .await?
            .ok_or_else(|| Error::internal("the new transfer's job is held elsewhere"))?;
        let root = self.exports.join(&tr.export_id);
        let exported = tokio::task::spawn_blocking(move || export(&root, &sources))
            .await
            .map_err(|e| Error::internal(format!("export stopped: {e}")))
            .and_then(|r| r);
        // Submitting may fail half-way; the follower finishes what is left (idempotently).
        let submitted = match exported {
            Ok(()) => self.submit(&mut tr).await,
            Err(e) => Err(e),
        };
        match submitted {
            Ok(()) => self.jobs.release(&job, time::now_unix() + self.cfg.poll_secs as i64, 0).await?,
            Err(e) if e.kind == ErrorKind::Unavailable => {
                tr.error = Some(e.message.clone());
                self.store.update_transfer(&tr).await?;
                self.jobs.release(&job, time::now_unix() + 10, 1).await?;
            }
            Err(e) => {
                self.fail(&mut tr, &e.message).await?;
                self.jobs.finish(&job).await?;
                return Err(e);
            }
        }
        Ok(tr)
    }
}
