//! Names and references, validated against the OCI distribution grammar.
//!
//! Every string that reaches a path or a query goes through one of these types,
//! so nothing like `..` or an empty component can get further.

use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// Longest repository name accepted (the common registry limit).
pub const MAX_NAME_LEN: usize = 255;

fn name_err(m: impl Into<String>) -> Error {
    Error::new(ErrorKind::NameInvalid, m)
}

/// One path component of the OCI grammar: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or "-+", followed by an alphanumeric.
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

/// A collection: the first component of every repository name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CollectionName(String);

impl CollectionName {
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() > 64 {
            return Err(name_err(format!("collection name {s:?} is longer than 64 characters")));
        }
        if !valid_component(s) {
            return Err(name_err(format!(
                "invalid collection name {s:?}: use lowercase letters and digits, separated by '.', '_', '__' or '-'"
            )));
        }
        Ok(CollectionName(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A repository: `collection/name[/more]`, at least two components.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName(String);

impl RepoName {
    pub fn parse(s: &str) -> Result<Self> {
        if s.len() > MAX_NAME_LEN {
            return Err(name_err(format!("repository name is longer than {MAX_NAME_LEN} characters")));
        }
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 {
            return Err(name_err(format!("invalid repository name {s:?}: it must be COLLECTION/NAME")));
        }
        for p in &parts {
            if !valid_component(p) {
                return Err(name_err(format!(
                    "invalid repository name {s:?}: component {p:?} must be lowercase letters and digits, separated by '.', '_', '__' or '-'"
                )));
            }
        }
        Ok(RepoName(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn collection(&self) -> CollectionName {
        CollectionName(self.0.split('/').next().unwrap_or_default().to_string())
    }
    /// The name inside the collection (everything after the first `/`).
    pub fn image(&self) -> &str {
        self.0.split_once('/').map(|(_, n)| n).unwrap_or("")
    }
    /// The last component, used for file names.
    pub fn basename(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or("")
    }
}

/// A tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> Result<Self> {
        let b = s.as_bytes();
        let ok = !b.is_empty()
            && b.len() <= 128
            && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
            && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
        if ok {
            Ok(Tag(s.to_string()))
        } else {
            Err(Error::new(
                ErrorKind::ManifestInvalid,
                format!("invalid tag {s:?}: up to 128 letters, digits, '_', '.', '-', not starting with '.' or '-'"),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A content digest. Only sha256 is accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Self> {
        let Some((alg, hex)) = s.split_once(':') else {
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("invalid digest {s:?}: expected sha256:<64 hex>"),
            ));
        };
        if alg != "sha256" {
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("unsupported digest algorithm {alg:?}: only sha256 is accepted"),
            ));
        }
        if hex.len() != 64 || !hex.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)) {
            return Err(Error::new(
                ErrorKind::DigestInvalid,
                format!("invalid digest {s:?}: expected sha256:<64 lowercase hex>"),
            ));
        }
        Ok(Digest(s.to_string()))
    }
    pub fn from_sha256(bytes: &[u8]) -> Self {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }
    pub fn of(data: &[u8]) -> Self {
        Self::from_sha256(&Sha256::digest(data))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_newtype {
    ($($t:ident),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0) }
        }
        impl FromStr for $t {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> { Self::parse(s) }
        }
        impl TryFrom<String> for $t {
            type Error = Error;
            fn try_from(s: String) -> Result<Self> { Self::parse(&s) }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String { v.0 }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str { &self.0 }
        }
    )*};
}
string_newtype!(CollectionName, RepoName, Tag, Digest);

/// What a reference points at inside a repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RefTarget {
    Tag(Tag),
    Digest(Digest),
}

impl RefTarget {
    /// Parses the `<reference>` of `/v2/<name>/manifests/<reference>`.
    pub fn parse(s: &str) -> Result<Self> {
        if s.contains(':') { Digest::parse(s).map(RefTarget::Digest) } else { Tag::parse(s).map(RefTarget::Tag) }
    }
}

impl fmt::Display for RefTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefTarget::Tag(t) => f.write_str(t.as_str()),
            RefTarget::Digest(d) => f.write_str(d.as_str()),
        }
    }
}

/// `collection/name:tag` or `collection/name@sha256:…` (tag defaults to `latest`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    pub repo: RepoName,
    pub target: RefTarget,
}

impl ImageRef {
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.strip_prefix("oras://").unwrap_or(s);
        if let Some((repo, digest)) = s.split_once('@') {
            return Ok(ImageRef { repo: RepoName::parse(repo)?, target: RefTarget::Digest(Digest::parse(digest)?) });
        }
        // A ':' after the last '/' separates the tag.
        let (repo, tag) = match s.rfind(':') {
            Some(i) if !s[i..].contains('/') => (&s[..i], &s[i + 1..]),
            _ => (s, "latest"),
        };
        Ok(ImageRef { repo: RepoName::parse(repo)?, target: RefTarget::Tag(Tag::parse(tag)?) })
    }
    pub fn tag(&self) -> Option<&Tag> {
        match &self.target {
            RefTarget::Tag(t) => Some(t),
            RefTarget::Digest(_) => None,
        }
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.target {
            RefTarget::Tag(t) => write!(f, "{}:{}", self.repo, t),
            RefTarget::Digest(d) => write!(f, "{}@{}", self.repo, d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_the_oci_grammar() {
        for ok in ["a", "abc", "a.b", "a_b", "a__b", "a-b", "a---b", "a1.b2_c3__d4-e5", "0"] {
            assert!(valid_component(ok), "{ok} should be valid");
        }
        for bad in ["", ".", "..", "a.", ".a", "a..b", "a___b", "A", "a/b", "a_-b", "-a", "a-", "a b", "ä"] {
            assert!(!valid_component(bad), "{bad} should be invalid");
        }
    }

    #[test]
    fn repository_names_need_a_collection() {
        assert!(RepoName::parse("lab/tools").is_ok());
        assert!(RepoName::parse("lab/tools/gcc").is_ok());
        assert_eq!(RepoName::parse("lab/tools/gcc").unwrap().collection().as_str(), "lab");
        assert_eq!(RepoName::parse("lab/tools/gcc").unwrap().image(), "tools/gcc");
        for bad in ["tools", "lab/", "/tools", "lab//tools", "lab/../etc", "lab/..", "Lab/tools", "lab/tools/"] {
            let e = RepoName::parse(bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::NameInvalid, "{bad}");
        }
        assert!(RepoName::parse(&format!("a/{}", "b".repeat(300))).is_err());
    }

    #[test]
    fn tags_and_digests() {
        assert!(Tag::parse("v1.0-rc_1").is_ok());
        assert!(Tag::parse("_x").is_ok());
        for bad in ["", ".x", "-x", "a/b", "a:b", &"x".repeat(129)] {
            assert!(Tag::parse(bad).is_err(), "{bad}");
        }
        let d = Digest::of(b"hello");
        assert_eq!(d.as_str(), "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert!(Digest::parse(d.as_str()).is_ok());
        for bad in [
            "sha256:abc",
            "md5:00",
            "sha256",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "sha256:../../../../etc/passwd00000000000000000000000000000000000000",
        ] {
            assert_eq!(Digest::parse(bad).unwrap_err().kind, ErrorKind::DigestInvalid, "{bad}");
        }
    }

    #[test]
    fn image_references() {
        let r = ImageRef::parse("lab/tools:1.0").unwrap();
        assert_eq!(r.repo.as_str(), "lab/tools");
        assert_eq!(r.tag().unwrap().as_str(), "1.0");
        let r = ImageRef::parse("lab/tools").unwrap();
        assert_eq!(r.tag().unwrap().as_str(), "latest");
        let d = Digest::of(b"x");
        let r = ImageRef::parse(&format!("lab/a/b@{d}")).unwrap();
        assert_eq!(r.target, RefTarget::Digest(d.clone()));
        assert_eq!(r.to_string(), format!("lab/a/b@{d}"));
        assert!(ImageRef::parse("lab/tools:").is_err());
        assert!(ImageRef::parse("lab/tools@sha256:zz").is_err());
    }
}
