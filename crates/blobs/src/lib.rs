//! The content-addressed blob store.
//!
//! Blobs live at `blobs/sha256/<2 hex>/<64 hex>` in an `object_store` (local disk by
//! default). Uploads are staged as files under `uploads/`, hashed as they arrive, and
//! published only once their bytes are durable and the server-computed digest matches:
//! on local disk by an atomic rename, elsewhere by a multipart put. A crash at any
//! point therefore leaves either nothing or a complete, verified blob.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use gantry_domain::{Digest, Error, ErrorKind, Result};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

/// Size of the pieces uploads are written and hashed in.
pub const CHUNK: usize = 512 * 1024;
/// Size of the pieces downloads are read in; with `READ_AHEAD` pieces queued per
/// download this bounds the memory of each one.
pub const READ_CHUNK: usize = 512 * 1024;
pub const READ_AHEAD: usize = 1;

pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

fn io_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::internal(format!("{what}: {e}"))
}

/// Hash state of an upload, valid while `offset` equals the staged length.
struct UploadState {
    hasher: Sha256,
    offset: u64,
}

/// The staged file of an upload being appended to, moved to the blocking pool for each
/// batch and back.
struct Sink {
    file: std::fs::File,
    written: u64,
    hs: Option<UploadState>,
}

impl Sink {
    /// Drops whatever lies past the offset (a chunk that was cut off) and seeks there.
    fn start(mut self, len: u64) -> std::io::Result<Sink> {
        if len > self.written {
            self.file.set_len(self.written)?;
        }
        self.file.seek(SeekFrom::Start(self.written))?;
        Ok(self)
    }

    fn write(mut self, batch: Vec<Bytes>) -> std::io::Result<Sink> {
        for chunk in &batch {
            self.file.write_all(chunk)?;
            if let Some(s) = self.hs.as_mut() {
                s.hasher.update(chunk);
                s.offset += chunk.len() as u64;
            }
            self.written += chunk.len() as u64;
        }
        Ok(self)
    }

    fn sync(self) -> std::io::Result<Sink> {
        self.file.sync_data()?;
        Ok(self)
    }
}

/// The sink back from a blocking batch, or the error it met.
fn finished(r: std::result::Result<std::io::Result<Sink>, tokio::task::JoinError>) -> Result<Sink> {
    r.map_err(|e| io_err("upload writer", e))?.map_err(|e| io_err("write upload", e))
}

pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Root of the local file system store, when blobs are on local disk.
    local_root: Option<PathBuf>,
    staging: PathBuf,
    uploads: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<UploadState>>>>>,
}

/// The outcome of appending a request body to an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// Bytes durably staged after this append.
    pub size: u64,
    /// The body ended early (client went away); what arrived is kept.
    pub interrupted: bool,
}

impl BlobStore {
    /// A store on local disk under `root` (blobs in `root/blobs`, staging in `root/uploads`).
    pub fn local(root: &Path) -> Result<BlobStore> {
        std::fs::create_dir_all(root.join("blobs")).map_err(|e| io_err("create blob directory", e))?;
        std::fs::create_dir_all(root.join("uploads")).map_err(|e| io_err("create upload directory", e))?;
        let root = root.canonicalize().map_err(|e| io_err("blob directory", e))?;
        let fs = LocalFileSystem::new_with_prefix(&root).map_err(|e| io_err("blob directory", e))?.with_fsync(true);
        Ok(BlobStore {
            store: Arc::new(fs),
            local_root: Some(root.clone()),
            staging: root.join("uploads"),
            uploads: Mutex::new(HashMap::new()),
        })
    }

    /// A store on any object store, staging uploads in a local directory.
    pub fn remote(store: Arc<dyn ObjectStore>, staging: &Path) -> Result<BlobStore> {
        std::fs::create_dir_all(staging).map_err(|e| io_err("create upload directory", e))?;
        Ok(BlobStore { store, local_root: None, staging: staging.to_path_buf(), uploads: Mutex::new(HashMap::new()) })
    }

    pub fn key(d: &Digest) -> ObjPath {
        let h = d.hex();
        ObjPath::from(format!("blobs/sha256/{}/{}", &h[..2], h))
    }

    /// Where a blob's bytes are on local disk, if the store is local.
    pub fn local_path(&self, d: &Digest) -> Option<PathBuf> {
        self.local_root.as_ref().map(|r| r.join(Self::key(d).as_ref()))
    }

    fn staged(&self, upload_id: &str) -> Result<PathBuf> {
        // Upload ids are generated by the server; refuse anything else outright.
        if upload_id.is_empty()
            || upload_id.len() > 64
            || !upload_id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return Err(Error::new(ErrorKind::BlobUploadUnknown, "unknown upload"));
        }
        Ok(self.staging.join(upload_id))
    }

    fn state(&self, upload_id: &str) -> Arc<tokio::sync::Mutex<Option<UploadState>>> {
        self.uploads.lock().unwrap().entry(upload_id.to_string()).or_default().clone()
    }

    fn forget(&self, upload_id: &str) {
        self.uploads.lock().unwrap().remove(upload_id);
    }

    /// Creates the staging file of a new upload.
    pub async fn begin(&self, upload_id: &str) -> Result<()> {
        let p = self.staged(upload_id)?;
        tokio::fs::File::create(&p).await.map_err(|e| io_err("create upload", e))?;
        *self.state(upload_id).lock().await = Some(UploadState { hasher: Sha256::new(), offset: 0 });
        Ok(())
    }

    /// Appends a body at `offset` (the durably recorded size). Bytes past `offset` left
    /// by an earlier interrupted request are discarded first. The data is on disk when
    /// this returns. One append per upload runs at a time.
    pub async fn append<S, E>(&self, upload_id: &str, offset: u64, mut body: S) -> Result<Appended>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let path = self.staged(upload_id)?;
        let state = self.state(upload_id);
        let mut guard = state.lock().await;
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|_| Error::new(ErrorKind::BlobUploadUnknown, "upload has no staged data; start a new upload"))?;
        let len = file.metadata().map_err(|e| io_err("stat upload", e))?.len();
        if len < offset {
            return Err(Error::new(
                ErrorKind::BlobUploadInvalid,
                format!("upload lost data ({len} of {offset} bytes on disk); start a new upload"),
            ));
        }
        let hs = match guard.take() {
            Some(s) if s.offset == offset => Some(s),
            _ => None,
        };
        // Writing and hashing run on the blocking pool one batch (about CHUNK bytes) at a
        // time, the next batch arriving while the last is written: no thread is held
        // while a slow client sends nothing, and at most two batches are in memory.
        let sink = Sink { file, written: offset, hs };
        let mut writing = tokio::task::spawn_blocking(move || sink.start(len));
        let (mut batch, mut batch_len) = (Vec::new(), 0usize);
        let mut interrupted = false;
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => {
                    batch_len += chunk.len();
                    batch.push(chunk);
                    if batch_len >= CHUNK {
                        let sink = finished(writing.await)?;
                        let b = std::mem::take(&mut batch);
                        batch_len = 0;
                        writing = tokio::task::spawn_blocking(move || sink.write(b));
                    }
                }
                Err(e) => {
                    tracing::info!(upload = upload_id, "upload body ended early: {e}");
                    interrupted = true;
                    break;
                }
            }
        }
        let sink = finished(writing.await)?;
        let sink = finished(tokio::task::spawn_blocking(move || sink.write(batch).and_then(Sink::sync)).await)?;
        *guard = sink.hs;
        let size = sink.written;
        Ok(Appended { size, interrupted })
    }

    /// Verifies the staged bytes of an upload (`size` of them) against `expected`.
    /// On a mismatch the staged data is removed and nothing is published.
    pub async fn verify(&self, upload_id: &str, size: u64, expected: &Digest) -> Result<()> {
        let path = self.staged(upload_id)?;
        let state = self.state(upload_id);
        let mut guard = state.lock().await;
        let actual = match guard.take() {
            Some(s) if s.offset == size => Digest::from_sha256(&s.hasher.finalize()),
            _ => {
                // After a restart the hash state is gone: hash the staged file again.
                let p = path.clone();
                tokio::task::spawn_blocking(move || hash_file(&p, size))
                    .await
                    .map_err(|e| io_err("hash upload", e))??
            }
        };
        if &actual != expected {
            drop(guard);
            self.discard(upload_id).await?;
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("digest mismatch: the uploaded content has digest {actual}, not {expected}"),
            ));
        }
        let len = tokio::fs::metadata(&path).await.map_err(|e| io_err("stat upload", e))?.len();
        if len != size {
            let f = std::fs::OpenOptions::new().write(true).open(&path).map_err(|e| io_err("open upload", e))?;
            f.set_len(size).map_err(|e| io_err("truncate upload", e))?;
            f.sync_data().map_err(|e| io_err("sync upload", e))?;
        }
        Ok(())
    }

    /// Publishes a verified upload as the blob `d`.
    pub async fn publish_upload(&self, upload_id: &str, d: &Digest) -> Result<()> {
        let path = self.staged(upload_id)?;
        self.publish(&path, d).await?;
        self.forget(upload_id);
        Ok(())
    }

    /// Verifies and publishes in one step.
    pub async fn finish(&self, upload_id: &str, size: u64, expected: &Digest) -> Result<()> {
        self.verify(upload_id, size, expected).await?;
        self.publish_upload(upload_id, expected).await
    }

    async fn publish(&self, staged: &Path, d: &Digest) -> Result<()> {
        let key = Self::key(d);
        if let Some(root) = &self.local_root {
            let rel = staged.strip_prefix(root).map_err(|e| io_err("staging outside blob root", e))?;
            let from = ObjPath::from(rel.to_string_lossy().as_ref());
            // An atomic rename (with fsync of file and directory) makes the blob appear whole.
            self.store.rename(&from, &key).await.map_err(|e| io_err("publish blob", e))?;
        } else {
            let mut up = self.store.put_multipart(&key).await.map_err(|e| io_err("publish blob", e))?;
            let mut f = tokio::fs::File::open(staged).await.map_err(|e| io_err("open upload", e))?;
            loop {
                let mut buf = BytesMut::zeroed(8 * 1024 * 1024);
                let n = read_full(&mut f, &mut buf).await.map_err(|e| io_err("read upload", e))?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                up.put_part(PutPayload::from(buf.freeze())).await.map_err(|e| io_err("publish blob", e))?;
            }
            up.complete().await.map_err(|e| io_err("publish blob", e))?;
            let _ = tokio::fs::remove_file(staged).await;
        }
        Ok(())
    }

    /// Stores a small blob given whole (e.g. an empty config). The digest is checked.
    pub async fn put_bytes(&self, data: Bytes, expected: &Digest) -> Result<()> {
        let actual = Digest::of(&data);
        if &actual != expected {
            return Err(Error::new(ErrorKind::DigestInvalid, format!("digest mismatch: content has digest {actual}")));
        }
        self.store.put(&Self::key(expected), PutPayload::from(data)).await.map_err(|e| io_err("store blob", e))?;
        Ok(())
    }

    /// Removes an upload's staged data.
    pub async fn discard(&self, upload_id: &str) -> Result<()> {
        let path = self.staged(upload_id)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("remove upload", e)),
        }
        self.forget(upload_id);
        Ok(())
    }

    /// Staged upload files, by id.
    pub async fn staged_ids(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut rd = tokio::fs::read_dir(&self.staging).await.map_err(|e| io_err("list uploads", e))?;
        while let Some(e) = rd.next_entry().await.map_err(|e| io_err("list uploads", e))? {
            if let Some(n) = e.file_name().to_str() {
                out.push(n.to_string());
            }
        }
        Ok(out)
    }

    /// Seconds since a staged upload file was last written.
    pub async fn staged_age_secs(&self, upload_id: &str) -> Option<u64> {
        let m = tokio::fs::metadata(self.staged(upload_id).ok()?).await.ok()?;
        m.modified().ok()?.elapsed().ok().map(|d| d.as_secs())
    }

    /// Size of a stored blob, or None.
    pub async fn size(&self, d: &Digest) -> Result<Option<u64>> {
        match self.store.head(&Self::key(d)).await {
            Ok(m) => Ok(Some(m.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(io_err("stat blob", e)),
        }
    }

    /// Streams a blob, or a byte range of it.
    pub async fn open(&self, d: &Digest, range: Option<Range<u64>>) -> Result<ByteStream> {
        let opts = GetOptions { range: range.clone().map(GetRange::Bounded), ..Default::default() };
        let res = self.store.get_opts(&Self::key(d), opts).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                Error::new(ErrorKind::BlobUnknown, format!("blob {d} is missing from storage"))
            }
            e => io_err("read blob", e),
        })?;
        match res.payload {
            GetResultPayload::File(file, _) => {
                let r = range.unwrap_or(0..res.meta.size);
                Ok(file_stream(file, r))
            }
            GetResultPayload::Stream(s) => Ok(Box::pin(s.map(|r| r.map_err(std::io::Error::other)))),
        }
    }

    /// Reads up to `n` bytes from the start of a blob (for format sniffing).
    pub async fn read_prefix(&self, d: &Digest, n: u64) -> Result<Bytes> {
        let size = self.size(d).await?.ok_or_else(|| Error::new(ErrorKind::BlobUnknown, "blob unknown"))?;
        self.read_range(d, 0..n.min(size)).await
    }

    pub async fn read_range(&self, d: &Digest, r: Range<u64>) -> Result<Bytes> {
        if r.start >= r.end {
            return Ok(Bytes::new());
        }
        self.store.get_range(&Self::key(d), r).await.map_err(|e| io_err("read blob", e))
    }

    /// Removes a blob's bytes; a missing blob is not an error.
    pub async fn delete(&self, d: &Digest) -> Result<()> {
        match self.store.delete(&Self::key(d)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(io_err("delete blob", e)),
        }
    }
}

async fn read_full(f: &mut tokio::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    use tokio::io::AsyncReadExt;
    let mut n = 0;
    while n < buf.len() {
        let k = f.read(&mut buf[n..]).await?;
        if k == 0 {
            break;
        }
        n += k;
    }
    Ok(n)
}

fn hash_file(path: &Path, size: u64) -> Result<Digest> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err("open upload", e))?;
    let mut h = Sha256::new();
    let mut left = size;
    let mut buf = vec![0u8; CHUNK];
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let n = f.read(&mut buf[..want]).map_err(|e| io_err("read upload", e))?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::BlobUploadInvalid,
                "upload is shorter than recorded; start a new upload",
            ));
        }
        h.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Digest::from_sha256(&h.finalize()))
}

/// Streams `range` of a local file in large pieces from a blocking thread.
fn file_stream(mut file: std::fs::File, range: Range<u64>) -> ByteStream {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        if let Err(e) = file.seek(SeekFrom::Start(range.start)) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        let mut left = range.end - range.start;
        while left > 0 {
            let want = (READ_CHUNK as u64).min(left) as usize;
            let mut buf = BytesMut::zeroed(want);
            match file.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.blocking_send(Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "blob shorter than expected",
                    )));
                    return;
                }
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    if tx.blocking_send(Ok(buf.freeze())).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|x| (x, rx)) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[&'static [u8]]) -> impl Stream<Item = std::result::Result<Bytes, std::io::Error>> + Unpin + Send {
        futures::stream::iter(parts.iter().map(|p| Ok(Bytes::from_static(p))).collect::<Vec<_>>())
    }

    async fn collect(mut s: ByteStream) -> Vec<u8> {
        let mut v = Vec::new();
        while let Some(c) = s.next().await {
            v.extend_from_slice(&c.unwrap());
        }
        v
    }

    #[tokio::test]
    async fn upload_in_chunks_verify_and_read_back() {
        let dir = tempdir();
        let bs = BlobStore::local(&dir).unwrap();
        bs.begin("u1").await.unwrap();
        let a = bs.append("u1", 0, body(&[b"hello ", b"wor"])).await.unwrap();
        assert_eq!(a, Appended { size: 9, interrupted: false });
        let a = bs.append("u1", 9, body(&[b"ld"])).await.unwrap();
        assert_eq!(a.size, 11);
        let d = Digest::of(b"hello world");
        assert_eq!(bs.size(&d).await.unwrap(), None, "nothing visible before finish");
        bs.finish("u1", 11, &d).await.unwrap();
        assert_eq!(bs.size(&d).await.unwrap(), Some(11));
        assert_eq!(collect(bs.open(&d, None).await.unwrap()).await, b"hello world");
        assert_eq!(collect(bs.open(&d, Some(6..11)).await.unwrap()).await, b"world");
        assert!(bs.staged_ids().await.unwrap().is_empty());
        assert!(bs.local_path(&d).unwrap().ends_with(format!("blobs/sha256/{}/{}", &d.hex()[..2], d.hex())));
    }

    #[tokio::test]
    async fn digest_mismatch_publishes_nothing() {
        let dir = tempdir();
        let bs = BlobStore::local(&dir).unwrap();
        bs.begin("u2").await.unwrap();
        bs.append("u2", 0, body(&[b"abc"])).await.unwrap();
        let wrong = Digest::of(b"abd");
        let e = bs.finish("u2", 3, &wrong).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::DigestInvalid);
        assert_eq!(bs.size(&wrong).await.unwrap(), None);
        assert_eq!(bs.size(&Digest::of(b"abc")).await.unwrap(), None);
        assert!(bs.staged_ids().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn resume_after_restart_discards_unrecorded_bytes_and_rehashes() {
        let dir = tempdir();
        {
            let bs = BlobStore::local(&dir).unwrap();
            bs.begin("u3").await.unwrap();
            bs.append("u3", 0, body(&[b"0123456789"])).await.unwrap();
        }
        // A new process: no hash state. The caller recorded only 4 bytes as durable.
        let bs = BlobStore::local(&dir).unwrap();
        let a = bs.append("u3", 4, body(&[b"xyz"])).await.unwrap();
        assert_eq!(a.size, 7);
        let d = Digest::of(b"0123xyz");
        bs.finish("u3", 7, &d).await.unwrap();
        assert_eq!(collect(bs.open(&d, None).await.unwrap()).await, b"0123xyz");
    }

    #[tokio::test]
    async fn interrupted_body_keeps_what_arrived() {
        let dir = tempdir();
        let bs = BlobStore::local(&dir).unwrap();
        bs.begin("u4").await.unwrap();
        let s = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"part")),
            Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")),
        ]);
        let a = bs.append("u4", 0, s).await.unwrap();
        assert_eq!(a, Appended { size: 4, interrupted: true });
    }

    #[test]
    fn upload_ids_cannot_escape_staging() {
        let dir = tempdir();
        let bs = BlobStore::local(&dir).unwrap();
        for bad in ["../x", "a/b", "", ".."] {
            assert_eq!(bs.staged(bad).unwrap_err().kind, ErrorKind::BlobUploadUnknown);
        }
    }

    fn tempdir() -> PathBuf {
        tempfile::tempdir().unwrap().keep()
    }
}
