//! `gantry pull REF [-o PATH]`: a SIF image to a file, a dataset to a directory, any
//! other image to an OCI image layout. Files are downloaded to `*.part`, resumed with
//! Range requests, verified against their digest, and only then renamed into place.

use crate::Client;
use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use gantry_domain::manifest::{DOCKER_LIST, DOCKER_MANIFEST, Manifest, OCI_INDEX, OCI_MANIFEST, SIF_LAYER};
use gantry_domain::{ImageRef, RefTarget};
use reqwest::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json";

/// Fetches and verifies a manifest; returns (bytes, media type, digest).
pub async fn manifest(c: &Client, r: &ImageRef) -> anyhow::Result<(Vec<u8>, String, String)> {
    let res = c
        .send(
            c.req(Method::GET, &format!("/v2/{}/manifests/{}", r.repo, r.target)).header("accept", ACCEPT),
            &r.to_string(),
        )
        .await?;
    let mt = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or(OCI_MANIFEST).to_string();
    let body = res.bytes().await?.to_vec();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    if let RefTarget::Digest(d) = &r.target
        && d.as_str() != digest
    {
        bail!("the server sent a manifest with digest {digest}, not {d}; refusing it");
    }
    Ok((body, mt, digest))
}

/// A relative path from a manifest that cannot leave the target directory.
fn safe_relative(p: &str) -> anyhow::Result<&str> {
    if p.is_empty()
        || p.starts_with('/')
        || p.contains('\\')
        || p.split('/').any(|c| c.is_empty() || c == "." || c == "..")
    {
        bail!("the image names a file {p:?} outside its directory; refusing it");
    }
    Ok(p)
}

pub async fn pull(c: &Client, r: &ImageRef, out: Option<&Path>) -> anyhow::Result<PathBuf> {
    let (body, mt, digest) = manifest(c, r).await?;
    let m = Manifest::parse(&body, Some(&mt)).map_err(|e| anyhow!("{r}: {}", e.message))?;
    let base = r.repo.basename().to_string();
    let tag = r.tag().map(|t| t.to_string());
    if m.is_sif() {
        let layer = m.layers.iter().find(|l| l.media_type == SIF_LAYER).context("SIF image without a SIF layer")?;
        let dest = out.map(Path::to_path_buf).unwrap_or_else(|| match &tag {
            Some(t) => PathBuf::from(format!("{base}_{t}.sif")),
            None => PathBuf::from(format!("{base}.sif")),
        });
        download(c, r.repo.as_str(), layer.digest.as_str(), layer.size as u64, &dest, "image").await?;
        return Ok(dest);
    }
    if m.is_dataset() || (m.layers.len() == 1 && m.layers[0].title().is_some() && out.is_none()) {
        let dir = out.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(&base));
        for l in &m.layers {
            let title = safe_relative(l.title().context("dataset file without a name")?)?;
            let dest = dir.join(title);
            std::fs::create_dir_all(dest.parent().unwrap())?;
            download(c, r.repo.as_str(), l.digest.as_str(), l.size as u64, &dest, title).await?;
        }
        return Ok(dir);
    }
    // Any other image: an OCI image layout.
    let dir = out.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from(&base));
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs)?;
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    layout_manifest(c, r.repo.as_str(), &body, &mt, &digest, &blobs, 0).await?;
    let mut entry = serde_json::json!({"mediaType": mt, "digest": digest, "size": body.len()});
    if let Some(t) = &tag {
        entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": t});
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index)?)?;
    Ok(dir)
}

fn layout_manifest<'a>(
    c: &'a Client,
    repo: &'a str,
    body: &'a [u8],
    mt: &'a str,
    digest: &'a str,
    blobs: &'a Path,
    depth: u32,
) -> futures::future::BoxFuture<'a, anyhow::Result<()>> {
    Box::pin(async move {
        if depth > 4 {
            bail!("image index nested too deeply");
        }
        std::fs::write(blobs.join(&digest[7..]), body)?;
        let m = Manifest::parse(body, Some(mt)).map_err(|e| anyhow!("{}", e.message))?;
        for d in m.config.iter().chain(&m.layers) {
            download(c, repo, d.digest.as_str(), d.size as u64, &blobs.join(d.digest.hex()), &d.digest.as_str()[7..19])
                .await?;
        }
        for child in &m.manifests {
            if ![OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].contains(&child.media_type.as_str()) {
                continue;
            }
            let r = ImageRef::parse(&format!("{repo}@{}", child.digest))?;
            let (cb, cmt, cd) = manifest(c, &r).await?;
            layout_manifest(c, repo, &cb, &cmt, &cd, blobs, depth + 1).await?;
        }
        Ok(())
    })
}

fn hash_prefix(path: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut h = Sha256::new();
    let mut n = 0u64;
    match std::fs::File::open(path) {
        Ok(mut f) => n = gantry_domain::chunks::each_chunk(&mut f, |b| h.update(b))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    Ok((h, n))
}

/// Downloads one blob to `dest`, resuming `dest.part`, verifying the digest.
pub async fn download(c: &Client, repo: &str, digest: &str, size: u64, dest: &Path, label: &str) -> anyhow::Result<()> {
    if dest.exists() {
        let d2 = dest.to_path_buf();
        let (h, n) = tokio::task::spawn_blocking(move || hash_prefix(&d2)).await??;
        if n == size && format!("sha256:{}", hex::encode(h.finalize())) == digest {
            return Ok(()); // already complete and verified
        }
    }
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let p2 = part.clone();
    let (mut hasher, mut have) = tokio::task::spawn_blocking(move || hash_prefix(&p2)).await??;
    if have > size {
        std::fs::remove_file(&part)?;
        hasher = Sha256::new();
        have = 0;
    }
    let pb = c.bar(size, label);
    pb.set_position(have);
    if have < size {
        let mut req = c.req(Method::GET, &format!("/v2/{repo}/blobs/{digest}"));
        if have > 0 {
            req = req.header("range", format!("bytes={have}-"));
        }
        let res = c.send(req, "download").await?;
        if have > 0 && res.status() != StatusCode::PARTIAL_CONTENT {
            // The server sent everything: start over.
            hasher = Sha256::new();
            have = 0;
            std::fs::remove_file(&part).ok();
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&part)
            .with_context(|| format!("cannot write {}", part.display()))?;
        let mut stream = res.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                anyhow!("download of {label} interrupted at {have} bytes ({e}); run the same pull again to resume")
            })?;
            f.write_all(&chunk)?;
            hasher.update(&chunk);
            have += chunk.len() as u64;
            pb.set_position(have);
        }
        f.sync_all()?;
    }
    pb.finish_and_clear();
    let got = format!("sha256:{}", hex::encode(hasher.finalize()));
    if have != size || got != digest {
        std::fs::remove_file(&part).ok();
        bail!(
            "downloaded {label} does not match its digest (got {got}, {have} bytes; want {digest}, {size} bytes); removed it, run pull again"
        );
    }
    std::fs::rename(&part, dest)?;
    Ok(())
}
