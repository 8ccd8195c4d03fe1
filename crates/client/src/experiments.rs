//! `gantry experiment pull`: a session's data (or one folder of it) into a directory,
//! file by file from their `/data/…` URLs. Resumable: a file whose size and ETag match
//! what was pulled before is skipped, a `FILE.part` is continued with a Range request
//! that only applies while the file is unchanged (`If-Range`), and every file is checked
//! against the size the server listed and an unchanged ETag before it is renamed into place.

use crate::Client;
use anyhow::{Context, anyhow, bail};
use futures::StreamExt;
use gantry_api_types::DataListing;
use reqwest::{Method, StatusCode};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where the ETags of the files pulled into a directory are kept.
const DONE: &str = ".gantry-pull.json";

/// A file to pull: its path in the session (`VOLUME/…`) and listed size.
struct Wanted {
    path: String,
    size: u64,
}

fn files_url(id: &str, session: i64, path: &str) -> String {
    format!("/api/v1/experiments/{id}/sessions/{session}/files?path={}", gantry_domain::url::escape(path))
}

/// Every file under `path` (folders followed), at most 100,000.
async fn walk(c: &Client, id: &str, session: i64, path: &str) -> anyhow::Result<Vec<Wanted>> {
    let mut todo = vec![path.to_string()];
    let mut out = vec![];
    while let Some(p) = todo.pop() {
        let l: DataListing = c.get(&files_url(id, session, &p), "list the session's data").await?;
        for e in l.entries {
            if e.kind == "dir" {
                todo.push(e.path);
            } else {
                out.push(Wanted { path: e.path, size: e.size });
            }
        }
        if out.len() > 100_000 {
            bail!("more than 100,000 files: pull one folder at a time (--path VOLUME/folder)");
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// A path of the server's listing as a safe path under the output directory.
fn local(out: &Path, p: &str) -> anyhow::Result<PathBuf> {
    let ok = !p.is_empty() && p.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    if !ok {
        bail!("the server listed a path that is not safe to write: {p:?}");
    }
    Ok(out.join(p))
}

/// Pulls a session's data (all of it, or `path`) into `out`; returns files and bytes
/// fetched (files already there and unchanged are not fetched again).
pub async fn pull_session(c: &Client, id: &str, session: i64, path: &str, out: &Path) -> anyhow::Result<(usize, u64)> {
    let wanted = walk(c, id, session, path).await?;
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let done_file = out.join(DONE);
    let mut done: BTreeMap<String, String> =
        std::fs::read(&done_file).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let (mut files, mut bytes) = (0, 0);
    for w in &wanted {
        let dest = local(out, &w.path)?;
        let url = format!("/data/{id}/{session}/{}", gantry_domain::url::escape_path(&w.path));
        let head = c.send(c.req(Method::HEAD, &url), &format!("look at {}", w.path)).await?;
        let etag = head.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let same = dest.metadata().is_ok_and(|m| m.len() == w.size) && done.get(&w.path) == Some(&etag);
        if same {
            continue;
        }
        bytes += fetch(c, &url, &dest, w, &etag).await?;
        files += 1;
        done.insert(w.path.clone(), etag);
        std::fs::write(&done_file, serde_json::to_vec_pretty(&done)?)?;
    }
    Ok((files, bytes))
}

/// One file, resuming `dest.part` while the file keeps the ETag `etag`.
async fn fetch(c: &Client, url: &str, dest: &Path, w: &Wanted, etag: &str) -> anyhow::Result<u64> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let part = PathBuf::from(format!("{}.part", dest.display()));
    let mut have = part.metadata().map(|m| m.len()).unwrap_or(0);
    if have > w.size {
        std::fs::remove_file(&part)?;
        have = 0;
    }
    let mut req = c.req(Method::GET, url);
    if have > 0 && !etag.is_empty() {
        req = req.header("range", format!("bytes={have}-")).header("if-range", etag);
    }
    let res = c.send(req, &format!("download {}", w.path)).await?;
    let sent_etag = res.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if res.status() != StatusCode::PARTIAL_CONTENT {
        have = 0; // the whole file: start over
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(have > 0)
        .truncate(have == 0)
        .open(&part)
        .with_context(|| format!("cannot write {}", part.display()))?;
    let pb = c.bar(w.size, &w.path);
    pb.set_position(have);
    let start = have;
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            anyhow!("download of {} interrupted at {have} bytes ({e}); run the same pull again to resume", w.path)
        })?;
        f.write_all(&chunk)?;
        have += chunk.len() as u64;
        pb.set_position(have);
    }
    f.sync_all()?;
    pb.finish_and_clear();
    if have != w.size || (!etag.is_empty() && sent_etag != etag) {
        std::fs::remove_file(&part).ok();
        bail!(
            "{} changed on the server while it was pulled ({have} bytes, {} listed); removed it, run the pull again",
            w.path,
            w.size
        );
    }
    std::fs::rename(&part, dest)?;
    Ok(have - start)
}
