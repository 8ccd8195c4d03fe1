//! `gantry push FILE|DIR REF`: a SIF file becomes an ORAS SIF artifact (what
//! `apptainer push oras://` makes), a directory (or any other file) a dataset with one
//! layer per file. Blobs already on the server are skipped; an interrupted upload is
//! resumed from where the server says it stopped.

use crate::{Client, config};
use anyhow::{Context, anyhow, bail};
use gantry_domain::manifest::{DATASET_ARTIFACT, DATASET_CONFIG, OCI_MANIFEST, SIF_CONFIG, SIF_LAYER, TITLE};
use gantry_domain::{ImageRef, RefTarget};
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

/// Bytes sent per PATCH request.
pub const CHUNK: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushReport {
    pub digest: String,
    pub kind: &'static str,
    pub bytes_sent: u64,
    pub blobs_skipped: usize,
}

struct Item {
    title: String,
    path: PathBuf,
    size: u64,
    digest: String,
}

pub fn is_sif(path: &Path) -> bool {
    let mut b = [0u8; 42];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut b)).is_ok() && &b[32..42] == b"SIF_MAGIC\0"
}

fn hash_file(path: &Path, c: &Client, label: &str) -> anyhow::Result<(String, u64)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata()?.len();
    let pb = c.bar(size, &format!("hashing {label}"));
    let mut h = Sha256::new();
    gantry_domain::chunks::each_chunk(&mut f, |b| {
        h.update(b);
        pb.inc(b.len() as u64);
    })?;
    pb.finish_and_clear();
    Ok((format!("sha256:{}", hex::encode(h.finalize())), size))
}

/// Regular files under `dir`, sorted, as (relative path, path). Symlinks are refused.
fn walk(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("cannot read {}", d.display()))? {
            let e = e?;
            let t = e.file_type()?;
            let p = e.path();
            if t.is_symlink() {
                bail!("{} is a symbolic link; datasets hold regular files only", p.display());
            } else if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                let rel = p.strip_prefix(dir)?.to_str().with_context(|| format!("{} is not UTF-8", p.display()))?;
                out.push((rel.to_string(), p));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        bail!("{} holds no files", dir.display());
    }
    Ok(out)
}

pub async fn push(c: &Client, src: &Path, r: &ImageRef) -> anyhow::Result<PushReport> {
    let meta = std::fs::metadata(src).with_context(|| format!("cannot read {}", src.display()))?;
    let sif = meta.is_file() && is_sif(src);
    let files: Vec<(String, PathBuf)> = if meta.is_dir() {
        walk(src)?
    } else {
        let name = src.file_name().and_then(|n| n.to_str()).context("file name is not UTF-8")?;
        vec![(name.to_string(), src.to_path_buf())]
    };
    let mut items = vec![];
    for (title, path) in files {
        let (digest, size) = {
            let (c2, p2, t2) = (c.clone(), path.clone(), title.clone());
            tokio::task::spawn_blocking(move || hash_file(&p2, &c2, &t2)).await??
        };
        items.push(Item { title, path, size, digest });
    }
    let repo = r.repo.as_str();
    let config = b"{}".to_vec();
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config)));
    let mut report = PushReport {
        digest: String::new(),
        kind: if sif { "sif" } else { "dataset" },
        bytes_sent: 0,
        blobs_skipped: 0,
    };
    if blob_exists(c, repo, &config_digest).await? {
        report.blobs_skipped += 1;
    } else {
        let r = c
            .req(Method::POST, &format!("/v2/{repo}/blobs/uploads/?digest={config_digest}"))
            .header("content-type", "application/octet-stream")
            .body(config.clone());
        c.send(r, "upload config").await?;
    }
    for it in &items {
        match upload_blob(c, repo, &it.path, &it.digest, it.size, &it.title).await? {
            None => report.blobs_skipped += 1,
            Some(sent) => report.bytes_sent += sent,
        }
    }
    let layer_type = if sif { SIF_LAYER } else { "application/octet-stream" };
    let layers: Vec<_> = items
        .iter()
        .map(|it| json!({"mediaType": layer_type, "digest": it.digest, "size": it.size, "annotations": {TITLE: it.title}}))
        .collect();
    let mut m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": if sif { SIF_CONFIG } else { DATASET_CONFIG }, "digest": config_digest, "size": config.len()},
        "layers": layers});
    if !sif {
        m["artifactType"] = json!(DATASET_ARTIFACT);
    }
    let body = serde_json::to_vec(&m)?;
    report.digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    let reference = match &r.target {
        RefTarget::Tag(t) => t.to_string(),
        RefTarget::Digest(d) => d.to_string(),
    };
    let req = c
        .req(Method::PUT, &format!("/v2/{repo}/manifests/{reference}"))
        .header("content-type", OCI_MANIFEST)
        .body(body);
    c.send(req, "push manifest").await?;
    Ok(report)
}

async fn blob_exists(c: &Client, repo: &str, digest: &str) -> anyhow::Result<bool> {
    let r = c
        .req(Method::HEAD, &format!("/v2/{repo}/blobs/{digest}"))
        .send()
        .await
        .map_err(|e| anyhow!("cannot reach {}: {e}", c.base))?;
    match r.status() {
        StatusCode::OK => Ok(true),
        StatusCode::NOT_FOUND => Ok(false),
        _ => Err(c.error_of(r, "check blob").await),
    }
}

fn state_file(c: &Client, repo: &str, digest: &str) -> anyhow::Result<PathBuf> {
    let key = hex::encode(Sha256::digest(format!("{}|{repo}|{digest}", c.base).as_bytes()));
    Ok(config::cache_dir()?.join("uploads").join(format!("{key}.json")))
}

fn absolute(c: &Client, loc: &str) -> String {
    if loc.starts_with("http://") || loc.starts_with("https://") {
        loc.strip_prefix(&c.base).unwrap_or(loc).to_string()
    } else {
        loc.to_string()
    }
}

/// Where an upload session stands: Some(bytes received) or None if it is gone.
async fn session_offset(c: &Client, loc: &str) -> anyhow::Result<Option<u64>> {
    let r = c.req(Method::GET, loc).send().await.map_err(|e| anyhow!("cannot reach {}: {e}", c.base))?;
    if r.status() != StatusCode::NO_CONTENT {
        return Ok(None);
    }
    let range = r.headers().get("range").and_then(|v| v.to_str().ok()).unwrap_or("0-0");
    let end: u64 = range.split_once('-').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    Ok(Some(if end == 0 { 0 } else { end + 1 }))
}

/// Uploads a file as a blob unless the server has it; returns the bytes sent.
pub async fn upload_blob(
    c: &Client,
    repo: &str,
    path: &Path,
    digest: &str,
    size: u64,
    label: &str,
) -> anyhow::Result<Option<u64>> {
    if blob_exists(c, repo, digest).await? {
        return Ok(None);
    }
    let state = state_file(c, repo, digest)?;
    let mut session: Option<(String, u64)> = None;
    if let Ok(b) = std::fs::read(&state)
        && let Ok(loc) = serde_json::from_slice::<String>(&b)
        && let Some(off) = session_offset(c, &loc).await?
    {
        session = Some((loc, off.min(size)));
    }
    let (mut loc, mut offset) = match session {
        Some(s) => s,
        None => {
            let r = c.send(c.req(Method::POST, &format!("/v2/{repo}/blobs/uploads/")), "start upload").await?;
            let loc =
                r.headers().get("location").and_then(|v| v.to_str().ok()).context("server gave no upload location")?;
            let loc = absolute(c, loc);
            std::fs::create_dir_all(state.parent().unwrap())?;
            std::fs::write(&state, serde_json::to_vec(&loc)?)?;
            (loc, 0)
        }
    };
    let pb = c.bar(size, label);
    pb.set_position(offset);
    let sent_from = offset;
    while offset < size {
        let len = CHUNK.min(size - offset);
        let mut f = tokio::fs::File::open(path).await?;
        f.seek(std::io::SeekFrom::Start(offset)).await?;
        let pb2 = pb.clone();
        let stream = tokio_util::io::ReaderStream::with_capacity(f.take(len), 256 * 1024);
        let stream = futures::StreamExt::inspect(stream, move |r| {
            if let Ok(b) = r {
                pb2.inc(b.len() as u64);
            }
        });
        let r = c
            .req(Method::PATCH, &loc)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{}-{}", offset, offset + len - 1))
            .header("content-length", len)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        match r {
            Ok(r) if r.status() == StatusCode::ACCEPTED => {
                if let Some(l) = r.headers().get("location").and_then(|v| v.to_str().ok()) {
                    loc = absolute(c, l);
                }
                offset += len;
            }
            Ok(r) if r.status() == StatusCode::RANGE_NOT_SATISFIABLE => {
                // The server has a different length: ask and continue from there.
                offset = session_offset(c, &loc).await?.context("upload session vanished; run push again")?;
                pb.set_position(offset);
            }
            Ok(r) => return Err(c.error_of(r, "upload").await),
            Err(e) => bail!("upload of {label} interrupted at {offset} bytes ({e}); run the same push again to resume"),
        }
    }
    let sep = if loc.contains('?') { '&' } else { '?' };
    c.send(c.req(Method::PUT, &format!("{loc}{sep}digest={digest}")), "finish upload").await?;
    pb.finish_and_clear();
    let _ = std::fs::remove_file(&state);
    Ok(Some(size - sent_from))
}
