//! Experiment data, served in place from the datasets root: a session's volumes, the
//! folders and files under them, and one file to stream. Every path is resolved and
//! canonicalised, and must stay inside its volume's directory (itself inside the root):
//! `..`, absolute paths and symbolic links that lead out are refused.

use super::office::is_safe_relative;
use gantry_domain::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Entries listed at most per folder.
pub const MAX_ENTRIES: usize = 10_000;

/// A file or folder of experiment data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    /// Modification time, unix seconds.
    pub modified: i64,
}

/// A file to stream: where it is, its size and modification time (for the ETag).
#[derive(Debug, Clone)]
pub struct DataFile {
    pub path: PathBuf,
    pub size: u64,
    pub modified_nanos: u128,
}

impl DataFile {
    /// Changes whenever the file's size or modification time does.
    pub fn etag(&self) -> String {
        format!("\"{:x}-{:x}\"", self.size, self.modified_nanos)
    }
}

fn not_found(what: &str) -> Error {
    Error::not_found(format!("{what} is not there"))
}

fn io(e: std::io::Error, what: &str) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotADirectory => Error::invalid(format!("{what} is a file, not a folder")),
        std::io::ErrorKind::NotFound => not_found(what),
        std::io::ErrorKind::PermissionDenied => Error::denied(format!("{what} cannot be read by Gantry")),
        _ => Error::internal(format!("{what}: {e}")),
    }
}

/// The directory of a volume, canonical and inside the datasets root.
pub fn volume_dir(root: &Path, rel: &str) -> Result<PathBuf> {
    if !is_safe_relative(rel) {
        return Err(Error::invalid(format!("the volume path {rel:?} is not relative to the datasets root")));
    }
    let root = std::fs::canonicalize(root).map_err(|e| io(e, "the datasets root"))?;
    let dir = std::fs::canonicalize(root.join(rel)).map_err(|e| io(e, "this session's data"))?;
    if !dir.starts_with(&root) {
        return Err(Error::denied("this session's data lead outside the datasets root"));
    }
    Ok(dir)
}

/// `sub` (relative, possibly empty) under a volume's directory, canonical and inside it.
pub fn resolve(volume: &Path, sub: &str) -> Result<PathBuf> {
    let sub = sub.trim_matches('/');
    if sub.is_empty() {
        return Ok(volume.to_path_buf());
    }
    if !is_safe_relative(sub) {
        return Err(Error::invalid(format!("{sub:?} is not a path inside the session (no '..', no leading '/')")));
    }
    let p = std::fs::canonicalize(volume.join(sub)).map_err(|e| io(e, sub))?;
    if !p.starts_with(volume) {
        return Err(Error::denied(format!("{sub} leads outside this session's data")));
    }
    Ok(p)
}

fn seconds(m: &std::fs::Metadata) -> i64 {
    m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs() as i64)
}

/// A folder's entries, folders first, then by name; links that lead outside the volume
/// are left out (and logged). Returns whether the list was cut at [`MAX_ENTRIES`].
pub fn list(volume: &Path, dir: &Path) -> Result<(Vec<DataEntry>, bool)> {
    let rd = std::fs::read_dir(dir).map_err(|e| io(e, "this folder"))?;
    let mut out = vec![];
    let mut cut = false;
    for e in rd {
        let Ok(e) = e else { continue };
        if out.len() >= MAX_ENTRIES {
            cut = true;
            break;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(meta) = e.metadata() else { continue };
        let meta = if meta.file_type().is_symlink() {
            match std::fs::canonicalize(e.path()) {
                Ok(t) if t.starts_with(volume) => match std::fs::metadata(&t) {
                    Ok(m) => m,
                    Err(_) => continue,
                },
                _ => {
                    tracing::warn!(path = %e.path().display(), "a link leading outside the session's data is not listed");
                    continue;
                }
            }
        } else {
            meta
        };
        if !(meta.is_dir() || meta.is_file()) {
            continue;
        }
        out.push(DataEntry {
            name,
            is_dir: meta.is_dir(),
            size: if meta.is_file() { meta.len() } else { 0 },
            modified: seconds(&meta),
        });
    }
    out.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    Ok((out, cut))
}

/// A regular file to stream.
pub fn file(path: PathBuf) -> Result<DataFile> {
    let meta = std::fs::metadata(&path).map_err(|e| io(e, "this file"))?;
    if !meta.is_file() {
        return Err(Error::invalid("this is a folder: list it, or send it with Globus"));
    }
    let modified_nanos =
        meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    Ok(DataFile { path, size: meta.len(), modified_nanos })
}

/// A folder or file of a session to send with Globus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataItem {
    /// Its path on the facility's collection (a folder's ends with '/').
    pub source: String,
    /// Where it arrives, relative to the destination folder (a folder's ends with '/').
    pub dest: String,
    pub is_dir: bool,
    /// The folder a read rule must cover (a file's own folder).
    pub rule_path: String,
    /// Its files and bytes, when counted.
    pub tally: Option<(i64, i64)>,
}

impl DataItem {
    /// `at` (canonical, inside `root`) arriving as `dest`.
    pub fn of(root: &Path, at: &Path, dest: String) -> Result<DataItem> {
        let is_dir = std::fs::metadata(at).map_err(|e| io(e, "these data"))?.is_dir();
        let source = collection_path(root, at, is_dir)?;
        let rule_path = if is_dir { source.clone() } else { collection_path(root, at.parent().unwrap_or(root), true)? };
        let dest = if is_dir { format!("{dest}/") } else { dest };
        Ok(DataItem { source, dest, is_dir, rule_path, tally: tally(at) })
    }
}

/// Entries counted at most when totalling what a Globus transfer will send.
pub const MAX_TALLIED: usize = 200_000;

/// The path of `at` (canonical, inside `root`) on a Globus collection whose root is the
/// datasets root: `/2026/E1/s1/raw/` for a folder, `/…/scan.h5` for a file.
pub fn collection_path(root: &Path, at: &Path, is_dir: bool) -> Result<String> {
    let root = std::fs::canonicalize(root).map_err(|e| io(e, "the datasets root"))?;
    let rel = at.strip_prefix(&root).map_err(|_| Error::denied("these data lie outside the datasets root"))?;
    let mut out = String::from("/");
    for c in rel.components() {
        let c = c.as_os_str().to_str().ok_or_else(|| Error::invalid("a folder name here is not UTF-8"))?;
        out.push_str(c);
        out.push('/');
    }
    if !is_dir && out.len() > 1 {
        out.pop();
    }
    Ok(out)
}

/// Files and bytes under `at` (itself when a file), not following links; `None` when
/// there are more than [`MAX_TALLIED`] entries (the total is then left unknown).
pub fn tally(at: &Path) -> Option<(i64, i64)> {
    let meta = std::fs::symlink_metadata(at).ok()?;
    if meta.is_file() {
        return Some((1, meta.len() as i64));
    }
    let (mut files, mut bytes, mut seen) = (0i64, 0i64, 0usize);
    let mut dirs = vec![at.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            seen += 1;
            if seen > MAX_TALLIED {
                return None;
            }
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                dirs.push(e.path());
            } else if m.is_file() {
                files += 1;
                bytes += m.len() as i64;
            }
        }
    }
    Some((files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_their_volume() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("e1/raw/sub")).unwrap();
        std::fs::create_dir_all(root.join("e2/raw")).unwrap();
        std::fs::write(root.join("e1/raw/sub/a.dat"), b"a").unwrap();
        std::fs::write(root.join("e2/raw/secret"), b"s").unwrap();
        std::fs::write(d.path().join("outside"), b"o").unwrap();
        std::os::unix::fs::symlink(d.path().join("outside"), root.join("e1/raw/out")).unwrap();
        std::os::unix::fs::symlink(root.join("e2/raw/secret"), root.join("e1/raw/other")).unwrap();
        std::os::unix::fs::symlink(root.join("e1/raw/sub/a.dat"), root.join("e1/raw/inside")).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("up")).unwrap();

        let v = volume_dir(&root, "e1/raw").unwrap();
        assert!(resolve(&v, "sub/a.dat").is_ok() && resolve(&v, "inside").is_ok());
        for bad in ["../../e2/raw/secret", "sub/../../e2", "a\\b"] {
            assert_eq!(resolve(&v, bad).unwrap_err().kind, gantry_domain::ErrorKind::Invalid, "{bad}");
        }
        // A leading '/' is inside the volume, like any other path.
        assert_eq!(resolve(&v, "/etc/passwd").unwrap_err().kind, gantry_domain::ErrorKind::NotFound);
        for out in ["out", "other"] {
            assert_eq!(resolve(&v, out).unwrap_err().kind, gantry_domain::ErrorKind::Denied, "{out}");
        }
        assert_eq!(resolve(&v, "nothing").unwrap_err().kind, gantry_domain::ErrorKind::NotFound);
        assert_eq!(volume_dir(&root, "up").unwrap_err().kind, gantry_domain::ErrorKind::Denied);
        assert_eq!(volume_dir(&root, "../x").unwrap_err().kind, gantry_domain::ErrorKind::Invalid);
        let (names, cut): (Vec<String>, bool) = {
            let (l, c) = list(&v, &v).unwrap();
            (l.into_iter().map(|e| e.name).collect(), c)
        };
        assert_eq!(names, ["sub", "inside"], "links out of the volume are not listed");
        assert!(!cut);
        let f = file(resolve(&v, "sub/a.dat").unwrap()).unwrap();
        assert_eq!(f.size, 1);
        assert!(file(v.clone()).is_err(), "a folder is not a file");
        assert_eq!(collection_path(&root, &v, true).unwrap(), "/e1/raw/");
        let a = resolve(&v, "sub/a.dat").unwrap();
        assert_eq!(collection_path(&root, &a, false).unwrap(), "/e1/raw/sub/a.dat");
        assert_eq!(collection_path(&root, d.path(), true).unwrap_err().kind, gantry_domain::ErrorKind::Denied);
        // Links are not followed: the file one leads to is not counted twice.
        assert_eq!(tally(&v), Some((1, 1)));
        assert_eq!(tally(&a), Some((1, 1)));
    }
}
