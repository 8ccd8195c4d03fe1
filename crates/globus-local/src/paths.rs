//! Globus paths inside an endpoint's root directory. `/~/` is the root; nothing —
//! neither `..` nor a symbolic link — may lead outside it.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The path names something outside the root.
    Outside,
    /// A component does not exist where it must.
    Missing,
}

/// Normalises a Globus path to root-relative components (`/~/a/../b` → `["b"]`).
pub fn components(p: &str) -> Result<Vec<String>, PathError> {
    let p = p.strip_prefix("/~").or_else(|| p.strip_prefix("~")).unwrap_or(p);
    let mut out: Vec<String> = vec![];
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(PathError::Outside);
                }
            }
            c if c.contains('\0') => return Err(PathError::Outside),
            c => out.push(c.to_string()),
        }
    }
    Ok(out)
}

/// The display form of a root-relative path: `/~/a/b` (with a trailing slash for dirs).
pub fn display(parts: &[String], dir: bool) -> String {
    let mut s = String::from("/~/");
    s.push_str(&parts.join("/"));
    if dir && !parts.is_empty() {
        s.push('/');
    }
    s
}

/// Resolves a Globus path to a real path under `root`. The deepest existing ancestor
/// is canonicalised (following symlinks) and must stay under the canonical root; the
/// rest must not exist yet (only the last component, when `may_be_new`).
pub fn resolve(root: &Path, p: &str, may_be_new: bool) -> Result<PathBuf, PathError> {
    let parts = components(p)?;
    let root = root.canonicalize().map_err(|_| PathError::Missing)?;
    let mut existing = root.clone();
    let mut rest: Vec<&String> = vec![];
    for (i, c) in parts.iter().enumerate() {
        let next = existing.join(c);
        if std::fs::symlink_metadata(&next).is_ok() {
            let canon = next.canonicalize().map_err(|_| PathError::Missing)?;
            if !canon.starts_with(&root) {
                return Err(PathError::Outside);
            }
            existing = canon;
        } else {
            rest = parts[i..].iter().collect();
            break;
        }
    }
    match rest.len() {
        0 => Ok(existing),
        1 if may_be_new => Ok(existing.join(rest[0])),
        _ => Err(PathError::Missing),
    }
}

/// The components of `real` (a path `resolve` gave) below the canonical `root`: the path
/// that access rules must be checked on, since links may lead anywhere under the root.
pub fn canonical_parts(root: &Path, real: &Path) -> Result<Vec<String>, PathError> {
    let root = root.canonicalize().map_err(|_| PathError::Missing)?;
    let rel = real.strip_prefix(&root).map_err(|_| PathError::Outside)?;
    Ok(rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect())
}

/// `p` with every component but the last resolved (links followed, staying under the
/// root) and the last one as it is: what a delete removes (a link, never its target).
/// Also gives the entry's canonical components, which access rules are checked on.
pub fn resolve_entry(root: &Path, p: &str) -> Result<(PathBuf, Vec<String>), PathError> {
    let mut parts = components(p)?;
    let last = parts.pop().ok_or(PathError::Outside)?;
    let parent = resolve(root, &format!("/{}", parts.join("/")), false)?;
    let mut canonical = canonical_parts(root, &parent)?;
    let entry = parent.join(&last);
    std::fs::symlink_metadata(&entry).map_err(|_| PathError::Missing)?;
    canonical.push(last);
    Ok((entry, canonical))
}

/// The directory `parts` under `root`, made (like `mkdir -p`) where it is missing, as
/// Globus does for a transfer's destination. Links are followed only inside the root.
pub fn ensure_dir(root: &Path, parts: &[String]) -> Result<PathBuf, PathError> {
    let root = root.canonicalize().map_err(|_| PathError::Missing)?;
    let mut cur = root.clone();
    for c in parts {
        let next = cur.join(c);
        match std::fs::symlink_metadata(&next) {
            Ok(_) => {
                let canon = next.canonicalize().map_err(|_| PathError::Missing)?;
                if !canon.starts_with(&root) {
                    return Err(PathError::Outside);
                }
                if !canon.is_dir() {
                    return Err(PathError::Missing);
                }
                cur = canon;
            }
            Err(_) => {
                match std::fs::create_dir(&next) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(_) => return Err(PathError::Missing),
                }
                cur = next;
            }
        }
    }
    Ok(cur)
}

/// True when `p` lies inside (or is) `prefix`, comparing components.
pub fn within(p: &[String], prefix: &[String]) -> bool {
    p.len() >= prefix.len() && p.iter().zip(prefix).all(|(a, b)| a == b)
}

pub fn is_inside(real: &Path, root: &Path) -> bool {
    match (real.canonicalize(), root.canonicalize()) {
        (Ok(a), Ok(b)) => a.starts_with(b),
        _ => real.components().all(|c| !matches!(c, Component::ParentDir)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ensure_dir_makes_what_is_missing_and_stays_inside() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let parts: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let made = super::ensure_dir(&root, &parts).unwrap();
        assert!(made.is_dir() && made.ends_with("a/b/c"));
        let outside = d.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("esc")).unwrap();
        let bad: Vec<String> = ["esc", "x"].iter().map(|s| s.to_string()).collect();
        assert!(super::ensure_dir(&root, &bad).is_err());
        assert!(!outside.join("x").exists(), "nothing is made outside the root");
        std::fs::write(root.join("file"), b"").unwrap();
        assert!(super::ensure_dir(&root, &["file".to_string(), "y".to_string()]).is_err());
    }

    use super::*;

    #[test]
    fn confinement() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/f.txt"), "x").unwrap();
        let outside = dir.path().join("secret");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("inner")).unwrap();
        let croot = root.canonicalize().unwrap();
        assert_eq!(resolve(&root, "/~/", false).unwrap(), croot);
        assert_eq!(resolve(&root, "/~/a/b/../f.txt", false).unwrap(), croot.join("a/f.txt"));
        assert_eq!(resolve(&root, "/a/new", true).unwrap(), croot.join("a/new"));
        assert_eq!(resolve(&root, "/~/../etc/passwd", false), Err(PathError::Outside));
        assert_eq!(resolve(&root, "/~/a/../../x", true), Err(PathError::Outside));
        assert_eq!(resolve(&root, "/~/escape", false), Err(PathError::Outside));
        assert_eq!(resolve(&root, "/~/escape/new", true), Err(PathError::Outside));
        assert_eq!(resolve(&root, "/~/inner/f.txt", false).unwrap(), croot.join("a/f.txt"));
        assert_eq!(resolve(&root, "/~/a/x/y", true), Err(PathError::Missing));
        assert_eq!(resolve(&root, "/~/a/x", false), Err(PathError::Missing));
        assert_eq!(components("/~/a//./b/").unwrap(), ["a", "b"]);
        assert_eq!(display(&["a".into()], true), "/~/a/");
        assert!(within(&["a".into(), "b".into()], &["a".into()]));
        assert!(!within(&["ab".into()], &["a".into()]));
    }
}
