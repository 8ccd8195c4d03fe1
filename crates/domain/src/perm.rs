//! Who may do what on a collection. One function decides; every route asks it.

use crate::error::{Error, ErrorKind, Result};
use serde::{Deserialize, Serialize};

/// A role held on a collection. Ordered: a higher role includes the lower ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May pull from a private collection.
    Viewer,
    /// May push and tag.
    Contributor,
    /// May manage members and visibility, and delete.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Contributor => "contributor",
            Role::Owner => "owner",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "contributor" => Ok(Role::Contributor),
            "owner" => Ok(Role::Owner),
            _ => Err(Error::invalid(format!("unknown role {s:?}: use viewer, contributor or owner"))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Public,
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            _ => Err(Error::invalid(format!("unknown visibility {s:?}: use public or private"))),
        }
    }
}

/// What an API token lets its bearer do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    Read,
    Write,
}

impl TokenScope {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::Read => "read",
            TokenScope::Write => "write",
        }
    }
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "read" => Ok(TokenScope::Read),
            "write" => Ok(TokenScope::Write),
            _ => Err(Error::invalid(format!("unknown token scope {s:?}: use read or write"))),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    /// What the credential used allows; a session or password login is `Write`.
    pub scope: TokenScope,
    /// For a registry token: the repositories it was issued for. None: the credential
    /// carries the user's rights everywhere.
    pub grants: Option<Grants>,
}

impl Principal {
    /// The server's operator, acting through `gantry admin` on the server itself: an
    /// administrator that is no user (id 0 is never a user's).
    pub fn operator() -> Principal {
        Principal { user_id: 0, username: "(operator)".into(), is_admin: true, scope: TokenScope::Write, grants: None }
    }

    /// The most this credential may do in repository `repo`, whatever the user's role.
    pub fn granted(&self, repo: &str) -> Access {
        match &self.grants {
            None => Access::Manage,
            Some(g) => g.limit(repo),
        }
    }
}

/// What a registry token grants: per repository, the most it may do (`pull`: read,
/// `push` or `delete`: write; never manage), as asked for in the Docker token scopes
/// `repository:NAME:ACTIONS`. What the user may really do there still applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants(pub Vec<(String, Access)>);

impl Grants {
    /// The grants asked for by `scopes` (each may hold several, space-separated);
    /// scopes of other kinds (e.g. `registry:catalog:*`) grant nothing here.
    pub fn from_scopes<'a>(scopes: impl IntoIterator<Item = &'a str>) -> Grants {
        let mut out: Vec<(String, Access)> = vec![];
        for s in scopes.into_iter().flat_map(str::split_whitespace) {
            let Some(rest) = s.strip_prefix("repository:") else { continue };
            let Some((name, actions)) = rest.rsplit_once(':') else { continue };
            let access = actions
                .split(',')
                .map(|a| match a {
                    "pull" => Access::Read,
                    "push" | "delete" | "*" => Access::Write,
                    _ => Access::None,
                })
                .max()
                .unwrap_or(Access::None);
            if let Some((_, a)) = out.iter_mut().find(|(n, _)| n == name) {
                *a = (*a).max(access);
            } else if access > Access::None && out.len() < 64 {
                out.push((name.to_string(), access));
            }
        }
        Grants(out)
    }

    pub fn limit(&self, repo: &str) -> Access {
        self.0.iter().filter(|(n, _)| n == repo).map(|(_, a)| *a).max().unwrap_or(Access::None)
    }
}

/// Effective access to one collection. Ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Access {
    None,
    Read,
    Write,
    Manage,
}

impl Access {
    /// Decides the caller's access to a collection with the given visibility, where
    /// `role` is the caller's role on it (if any).
    pub fn decide(caller: Option<&Principal>, visibility: Visibility, role: Option<Role>) -> Access {
        let base = match caller {
            Some(p) if p.is_admin => Access::Manage,
            _ => match role {
                Some(Role::Owner) if caller.is_some() => Access::Manage,
                Some(Role::Contributor) if caller.is_some() => Access::Write,
                Some(Role::Viewer) if caller.is_some() => Access::Read,
                _ if visibility == Visibility::Public => Access::Read,
                _ => Access::None,
            },
        };
        let base = if visibility == Visibility::Public { base.max(Access::Read) } else { base };
        match caller {
            Some(p) if p.scope == TokenScope::Read => base.min(Access::Read),
            _ => base,
        }
    }

    /// Turns missing access into the error that reveals nothing: a caller who may not
    /// read gets "unknown" (or a login challenge when anonymous), never "forbidden".
    pub fn require(self, needed: Access, anonymous: bool, what: &str) -> Result<()> {
        if self >= needed {
            return Ok(());
        }
        if anonymous {
            return Err(Error::unauthorized("authentication required"));
        }
        if self == Access::None {
            return Err(Error::new(ErrorKind::NameUnknown, format!("{what} not found")));
        }
        let verb = match needed {
            Access::Write => "push to",
            Access::Manage => "manage",
            _ => "read",
        };
        Err(Error::denied(format!("you may not {verb} {what}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(admin: bool, scope: TokenScope) -> Principal {
        Principal { user_id: 1, username: "u".into(), is_admin: admin, scope, grants: None }
    }

    #[test]
    fn decide() {
        use Visibility::*;
        let w = user(false, TokenScope::Write);
        let r = user(false, TokenScope::Read);
        let admin = user(true, TokenScope::Write);
        assert_eq!(Access::decide(None, Private, None), Access::None);
        assert_eq!(Access::decide(None, Public, None), Access::Read);
        // A role is meaningless without a caller.
        assert_eq!(Access::decide(None, Private, Some(Role::Owner)), Access::None);
        assert_eq!(Access::decide(Some(&w), Private, None), Access::None);
        assert_eq!(Access::decide(Some(&w), Public, None), Access::Read);
        assert_eq!(Access::decide(Some(&w), Private, Some(Role::Viewer)), Access::Read);
        assert_eq!(Access::decide(Some(&w), Private, Some(Role::Contributor)), Access::Write);
        assert_eq!(Access::decide(Some(&w), Private, Some(Role::Owner)), Access::Manage);
        assert_eq!(Access::decide(Some(&r), Private, Some(Role::Owner)), Access::Read);
        assert_eq!(Access::decide(Some(&admin), Private, None), Access::Manage);
        assert_eq!(Access::decide(Some(&user(true, TokenScope::Read)), Private, None), Access::Read);
    }

    #[test]
    fn require_hides_private_things() {
        assert_eq!(Access::None.require(Access::Read, true, "x").unwrap_err().kind, ErrorKind::Unauthorized);
        assert_eq!(Access::None.require(Access::Read, false, "x").unwrap_err().kind, ErrorKind::NameUnknown);
        assert_eq!(Access::None.require(Access::Write, false, "x").unwrap_err().kind, ErrorKind::NameUnknown);
        assert_eq!(Access::Read.require(Access::Write, false, "x").unwrap_err().kind, ErrorKind::Denied);
        assert_eq!(Access::Read.require(Access::Write, true, "x").unwrap_err().kind, ErrorKind::Unauthorized);
        assert!(Access::Write.require(Access::Write, false, "x").is_ok());
    }
}

text_enum!(Role, Visibility, TokenScope);
