//! Local accounts: made by an operator (`gantry admin user create`), listed on the
//! admin page. Users signing in through a provider are provisioned by `identity`.

use crate::identity::passwords;
use gantry_domain::{Error, Result};
use gantry_store::{IdentityRow, Store, User};

/// What the settings page shows of a user besides their name.
#[derive(Debug, Clone)]
pub struct Profile {
    pub identities: Vec<IdentityRow>,
    /// The Globus groups last seen at sign-in.
    pub groups: Vec<String>,
}

#[derive(Clone)]
pub struct Users {
    store: Store,
}

/// Up to 64 letters, digits, `.`, `_`, `-`, `@`, starting with a letter or digit.
pub fn validate_username(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-@".contains(&c))
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if !ok {
        return Err(Error::invalid(format!(
            "invalid user name {name:?}: use up to 64 letters, digits, '.', '_', '-', '@', starting with a letter or digit"
        )));
    }
    Ok(())
}

impl Users {
    pub fn new(store: Store) -> Users {
        Users { store }
    }

    /// A local account, with a password if one is given.
    pub async fn create(&self, name: &str, is_admin: bool, password: Option<&str>) -> Result<User> {
        validate_username(name)?;
        let hash = match password {
            Some(p) => Some(passwords::hash_blocking(p.to_string()).await?),
            None => None,
        };
        self.store.create_user(name, hash.as_deref(), is_admin).await
    }

    pub async fn list(&self) -> Result<Vec<User>> {
        self.store.list_users().await
    }

    pub async fn by_id(&self, id: i64) -> Result<Option<User>> {
        self.store.user_by_id(id).await
    }

    pub async fn profile(&self, id: i64) -> Result<Profile> {
        Ok(Profile { identities: self.store.identities_of(id).await?, groups: self.store.user_groups(id).await? })
    }

    pub async fn named(&self, name: &str) -> Result<User> {
        user_named(&self.store, name).await
    }
}

/// The user called `name`, or 404.
pub(crate) async fn user_named(store: &Store, name: &str) -> Result<User> {
    store.user_by_name(name).await?.ok_or_else(|| Error::not_found(format!("no user named {name:?}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn usernames() {
        for ok in ["alice", "a.b-c_d@uni.edu", "9lives"] {
            assert!(super::validate_username(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", &"x".repeat(65)] {
            assert!(super::validate_username(bad).is_err(), "{bad}");
        }
    }
}
