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
    }
}
