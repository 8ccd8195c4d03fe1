//! Blob uploads: started (or answered by a cross-repository mount), appended chunk by
//! chunk at the recorded size, verified against the server-computed digest and
//! published, or cancelled. Staged bytes past the recorded size are never trusted.

use super::{Registry, RepoCtx};
use bytes::Bytes;
use futures::Stream;
use gantry_domain::{Access, Digest, Error, ErrorKind, Principal, RepoName, Result, time};
use gantry_store::Upload;
use std::time::Duration;

/// What a chunk says of itself (`Content-Range`, `Content-Length`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Chunk {
    /// First and last byte offset, inclusive.
    pub range: Option<(u64, u64)>,
    pub length: Option<u64>,
}

/// How a new upload ended.
#[derive(Debug)]
pub enum Started {
    /// The blob was mounted from another repository, or uploaded whole.
    Done(Digest),
    /// A session to append to, with the bytes it has so far.
    Session { id: String, size: i64 },
}

impl Registry {
    /// Begins an upload: a mount from a repository the caller can read when asked
    /// (falling back to a normal upload, which reveals nothing about the other
    /// repository), a monolithic upload when a digest is given, or a session.
    pub async fn start_upload<S, E>(
        &self,
        caller: Option<&Principal>,
        name: &RepoName,
        mount: Option<(&Digest, Option<&RepoName>)>,
        digest: Option<&Digest>,
        body: Option<(Chunk, S)>,
    ) -> Result<Started>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let ctx = self.repo_for_push(caller, name).await?;
        if let Some((d, Some(from))) = mount
            && let Ok(src) = self.repo(caller, from, Access::Read).await
            && self.store.blob_in_repo(src.repo.id, d).await?.is_some()
            && self.store.mount_blob(ctx.repo.id, d).await?
        {
            return Ok(Started::Done(d.clone()));
        }
        if let Some(p) = caller.filter(|p| p.user_id > 0) {
            let max = self.config.limits.uploads_per_user;
            let since = time::now_unix() - self.config.upload_expiry_secs as i64;
            if self.store.count_uploads(p.user_id, since).await? >= max as i64 {
                return Err(Error::new(
                    ErrorKind::TooManyRequests,
                    format!(
                        "you have {max} uploads open, the most this server allows: finish or cancel one \
                         (DELETE its URL), or wait until it expires"
                    ),
                ));
            }
        }
        let id = crate::secrets::random_hex(16);
        let up = self.store.create_upload(&id, ctx.repo.id, caller.map(|p| p.user_id)).await?;
        self.blobs.begin(&id).await?;
        let size = match body {
            Some((chunk, stream)) => self.append(&up, chunk, stream).await?,
            None => 0,
        };
        if let Some(d) = digest {
            self.commit_upload(&up, size as u64, d).await?;
            return Ok(Started::Done(d.clone()));
        }
        Ok(Started::Session { id, size })
    }

    /// An upload session of the caller's in this repository.
    pub async fn upload(&self, caller: Option<&Principal>, name: &RepoName, id: &str) -> Result<(RepoCtx, Upload)> {
        let ctx = self.repo_for_push(caller, name).await?;
        let up = self
            .store
            .upload(id)
            .await?
            .filter(|u| u.repo_id == ctx.repo.id && u.user_id == caller.map(|p| p.user_id))
            .ok_or_else(|| Error::new(ErrorKind::BlobUploadUnknown, format!("upload {id} not found")))?;
        Ok((ctx, up))
    }

    /// Appends the last chunk, verifies the digest and publishes the blob.
    pub async fn finish_upload<S, E>(&self, up: &Upload, chunk: Chunk, body: S, digest: &Digest) -> Result<()>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let size = self.append(up, chunk, body).await?;
        self.commit_upload(up, size as u64, digest).await
    }

    /// Drops an upload and its staged bytes.
    pub async fn cancel_upload(&self, up: &Upload) -> Result<()> {
        self.blobs.discard(&up.id).await?;
        self.store.delete_upload(&up.id).await?;
        Ok(())
    }

    /// Appends a chunk at the upload's recorded size; returns the new size.
    pub async fn append<S, E>(&self, up: &Upload, chunk: Chunk, body: S) -> Result<i64>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        if let Some((start, end)) = chunk.range {
            if start != up.size as u64 {
                return Err(Error::new(
                    ErrorKind::RangeInvalid,
                    format!("chunk starts at {start} but the upload has {} bytes; resume from there", up.size),
                ));
            }
            if chunk.length.is_some_and(|l| l != end - start + 1) {
                return Err(Error::new(ErrorKind::RangeInvalid, "Content-Length does not match Content-Range"));
            }
        }
        let a = self.blobs.append(&up.id, up.size as u64, body).await?;
        let size = a.size as i64;
        if let Some((start, end)) = chunk.range
            && !a.interrupted
            && a.size - up.size as u64 != end - start + 1
        {
            // Nothing is kept: the bytes past the recorded size are dropped by the next append.
            return Err(Error::new(
                ErrorKind::RangeInvalid,
                format!(
                    "the body has {} bytes but Content-Range {start}-{end} says {}",
                    a.size - up.size as u64,
                    end - start + 1
                ),
            ));
        }
        if !self.store.advance_upload(&up.id, up.size, size).await? {
            return Err(Error::new(
                ErrorKind::RangeInvalid,
                "the upload was changed by another request; check its status",
            ));
        }
        if a.interrupted {
            return Err(Error::new(
                ErrorKind::BlobUploadInvalid,
                format!("request body ended early; {size} bytes kept"),
            ));
        }
        Ok(size)
    }

    /// Verifies an upload and makes its blob visible in the upload's repository.
    async fn commit_upload(&self, up: &Upload, size: u64, digest: &Digest) -> Result<()> {
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
}
