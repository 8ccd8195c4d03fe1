//! `/v2` paths parsed into an [`Endpoint`] first (repository names may contain slashes).

use gantry_domain::{Error, RepoName, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Base,
    Token,
    Catalog,
    Tags(RepoName),
    Manifest(RepoName, String),
    Blob(RepoName, String),
    UploadStart(RepoName),
    Upload(RepoName, String),
    Referrers(RepoName, String),
}

pub use gantry_domain::url::unescape as percent_decode;

/// Parses the part of the path after `/v2/`.
pub fn parse_endpoint(rest: &str) -> Result<Endpoint> {
    let rest = percent_decode(rest);
    match rest.as_str() {
        "" => return Ok(Endpoint::Base),
        "token" => return Ok(Endpoint::Token),
        "_catalog" => return Ok(Endpoint::Catalog),
        _ => {}
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name = |upto: usize| -> Result<RepoName> { RepoName::parse(&segs[..upto].join("/")) };
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        return Ok(if segs[n - 1].is_empty() {
            Endpoint::UploadStart(name(n - 3)?)
        } else {
            Endpoint::Upload(name(n - 3)?, segs[n - 1].to_string())
        });
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Ok(Endpoint::UploadStart(name(n - 2)?));
    }
    if n >= 4 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Ok(Endpoint::Tags(name(n - 2)?));
    }
    if n >= 3 {
        let last = segs[n - 1].to_string();
        match segs[n - 2] {
            "manifests" => return Ok(Endpoint::Manifest(name(n - 2)?, last)),
            "blobs" => return Ok(Endpoint::Blob(name(n - 2)?, last)),
            "referrers" => return Ok(Endpoint::Referrers(name(n - 2)?, last)),
            _ => {}
        }
    }
    Err(Error::not_found("no such endpoint in the distribution API"))
}

impl Endpoint {
    /// The token scope a client should ask for, used in the login challenge.
    pub fn scope(&self, read_only: bool) -> Option<String> {
        let name = match self {
            Endpoint::Tags(n) | Endpoint::Manifest(n, _) | Endpoint::Blob(n, _) | Endpoint::Referrers(n, _) => n,
            Endpoint::UploadStart(n) | Endpoint::Upload(n, _) => n,
            Endpoint::Catalog => return Some("registry:catalog:*".into()),
            _ => return None,
        };
        let actions = if read_only { "pull" } else { "pull,push" };
        Some(format!("repository:{name}:{actions}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_domain::ErrorKind;

    fn rn(s: &str) -> RepoName {
        RepoName::parse(s).unwrap()
    }

    #[test]
    fn endpoints_with_slashes_in_names() {
        assert_eq!(parse_endpoint("").unwrap(), Endpoint::Base);
        assert_eq!(parse_endpoint("_catalog").unwrap(), Endpoint::Catalog);
        assert_eq!(parse_endpoint("a/b/c/tags/list").unwrap(), Endpoint::Tags(rn("a/b/c")));
        assert_eq!(parse_endpoint("a/blobs/manifests/v1").unwrap(), Endpoint::Manifest(rn("a/blobs"), "v1".into()));
        assert_eq!(parse_endpoint("a/b/blobs/uploads/").unwrap(), Endpoint::UploadStart(rn("a/b")));
        assert_eq!(parse_endpoint("a/b/blobs/uploads").unwrap(), Endpoint::UploadStart(rn("a/b")));
        assert_eq!(parse_endpoint("a/b/blobs/uploads/xyz").unwrap(), Endpoint::Upload(rn("a/b"), "xyz".into()));
        assert_eq!(parse_endpoint("a/b/blobs/sha256%3Aab").unwrap(), Endpoint::Blob(rn("a/b"), "sha256:ab".into()));
        assert_eq!(
            parse_endpoint("a/b/referrers/sha256:ab").unwrap(),
            Endpoint::Referrers(rn("a/b"), "sha256:ab".into())
        );
        assert_eq!(parse_endpoint("a/../b/manifests/x").unwrap_err().kind, ErrorKind::NameInvalid);
        assert_eq!(parse_endpoint("single/manifests/x").unwrap_err().kind, ErrorKind::NameInvalid);
        assert_eq!(parse_endpoint("nothing/here").unwrap_err().kind, ErrorKind::NotFound);
    }
}
