//! Starting a transfer: who may send what, the export of the image's files, the row
//! that makes it a job, and the first submission.

use super::Transfers;
use super::data::Item;
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

/// What a transfer sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// An image (a SIF or a dataset) of the registry.
    Image(String),
    /// A session of an experiment, or a folder or file of it (`VOLUME/sub…`).
    Data { experiment: String, session: i64, path: String },
}

impl Source {
    /// What a request names: an image `ref`, or `experiment` and `session`.
    pub fn of(body: &NewTransfer) -> Result<Source> {
        match (&body.experiment, body.session, body.reference.is_empty()) {
            (Some(e), Some(n), true) => Ok(Source::Data {
                experiment: e.clone(),
                session: n,
                path: body.source_path.clone().unwrap_or_default().trim_matches('/').to_string(),
            }),
            (None, None, false) if body.source_path.is_none() => Ok(Source::Image(body.reference.clone())),
            (None, None, true) => Err(Error::invalid("say what to send: ref, or experiment and session")),
            (Some(_), None, true) | (None, Some(_), true) => {
                Err(Error::invalid("experiment data are named by both experiment and session"))
            }
            _ => Err(Error::invalid("send an image (ref) or experiment data (experiment, session), not both")),
        }
    }
}

/// What a transfer is made of, once the caller's access is checked.
struct Prepared {
    image_ref: String,
    digest: String,
    files: i64,
    bytes: i64,
    /// Blobs to link under the export (images).
    export: Vec<(String, PathBuf)>,
    /// Experiment data: the experiment, session and path, the collection and the items.
    data: Option<(String, i64, String, String, Vec<Item>)>,
}

impl Transfers {
    /// The name what `source` names arrives under in the destination folder: `NAME_TAG.sif`
    /// for a SIF image, the folder `NAME/` for a dataset, `ID-SESSION/` for a session,
    /// `FOLDER/` or `FILE` for a part of one (for the caller who may read it).
    pub async fn arriving_name(&self, p: &Principal, source: &Source) -> Result<String> {
        let first = match source {
            Source::Image(reference) => {
                let image = ImageRef::parse(reference)?;
                let ctx = self.registry.repo(Some(p), &image.repo, Access::Read).await?;
                let m = self.registry.manifest(&self.registry.resolve(&ctx, &image.target).await?).await?;
                files_of(&m, &image)?.into_iter().next().map(|f| f.0).unwrap_or_default()
            }
            Source::Data { experiment, session, path } => {
                let items = self.facility()?.globus_items(p, experiment, *session, path).await?;
                items.into_iter().next().map(|i| i.dest).unwrap_or_default()
            }
        };
        Ok(match first.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => first,
        })
    }

    /// An image's files, for a caller who may pull it.
    async fn prepare_image(&self, p: &Principal, reference: &str) -> Result<Prepared> {
        let image = ImageRef::parse(reference)?;
        // Only those who may pull an image may send it.
        let ctx = self.registry.repo(Some(p), &image.repo, Access::Read).await?;
        let row = self.registry.resolve(&ctx, &image.target).await?;
        let m = self.registry.manifest(&row).await?;
        let files = files_of(&m, &image)?;
        let export = files
            .iter()
            .map(|(rel, d)| {
                let src = self.registry.blobs().local_path(d).ok_or_else(|| {
                    Error::new(ErrorKind::Unsupported, "Globus transfers need blobs on the local disk")
                })?;
                Ok((rel.clone(), src))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Prepared {
            image_ref: image.to_string(),
            digest: row.digest.clone(),
            files: files.len() as i64,
            bytes: m.layers.iter().map(|l| l.size).sum(),
            export,
            data: None,
        })
    }

    /// A session's data (or a part of it), for a member of the experiment, from the
    /// facility's Globus collection.
    async fn prepare_data(&self, p: &Principal, experiment: &str, session: i64, path: &str) -> Result<Prepared> {
        let facility = self.facility()?;
        let items = facility.globus_items(p, experiment, session, path).await?;
        let collection = facility.cfg.globus_collection.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::Unsupported,
                "this facility's data are not on a Globus collection: download them over HTTPS instead",
            )
        })?;
        let tallies: Option<Vec<(i64, i64)>> = items.iter().map(|i| i.tally).collect();
        let (files, bytes) = tallies.map_or((0, 0), |t| t.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)));
        Ok(Prepared {
            image_ref: String::new(),
            digest: String::new(),
            files,
            bytes,
            export: vec![],
            data: Some((
                experiment.to_string(),
                session,
                path.to_string(),
                collection,
                items.iter().map(Item::of).collect(),
            )),
        })
    }

    /// Starts a transfer for `p`, who must be able to read what it sends.
    pub async fn start(&self, p: &Principal, body: &NewTransfer) -> Result<TransferRow> {
        let prepared = match Source::of(body)? {
            Source::Image(r) => self.prepare_image(p, &r).await?,
            Source::Data { experiment, session, path } => self.prepare_data(p, &experiment, session, &path).await?,
        };
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
        let now = time::now_unix();
        let export_id = crate::secrets::random_hex(16);
        let data = prepared.data.as_ref();
        let mut tr = TransferRow {
            id: crate::secrets::random_hex(16),
            user_id: p.user_id,
            image_ref: prepared.image_ref.clone(),
            digest: prepared.digest.clone(),
            endpoint_id: body.endpoint_id.clone(),
            endpoint_name,
            path: body.path.clone(),
            label: body.label.clone(),
            sync_level: body.sync_level,
            verify_checksum: body.verify_checksum.unwrap_or(true),
            preserve_timestamp: body.preserve_timestamp.unwrap_or(false),
            experiment: data.map(|d| d.0.clone()),
            session_number: data.map(|d| d.1),
            source_path: data.map(|d| d.2.clone()),
            source_collection: data.map(|d| d.3.clone()),
            sources: serde_json::to_string(&data.map(|d| d.4.clone()).unwrap_or_default())
                .map_err(|e| Error::internal(format!("sources: {e}")))?,
            status: TransferStatus::Preparing,
            submission_id: None,
            task_id: None,
            rule_id: None,
            export_id,
            files: prepared.files,
            bytes_transferred: 0,
            bytes_total: prepared.bytes,
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
        let export_files = prepared.export;
        let exported = tokio::task::spawn_blocking(move || export(&root, &export_files))
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
