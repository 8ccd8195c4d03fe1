//! Local accounts: made by an operator (`gantry admin user create`), listed on the
//! admin page. Users signing in through a provider are provisioned by `identity`.

use crate::identity::passwords;
use gantry_domain::{Error, Principal, Result};
use gantry_store::{IdentityRow, Store, User};

/// What the settings page shows of a user besides their name.
#[derive(Debug, Clone)]
pub struct Profile {
    pub identities: Vec<IdentityRow>,
    /// The Globus groups last seen at sign-in.
    pub groups: Vec<NamedGroup>,
}

/// A Globus group with the name Globus Groups last gave it, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedGroup {
    pub id: String,
    pub name: Option<String>,
}

impl NamedGroup {
    /// Its name, or its id when no name is known.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
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
        let groups = self.store.user_groups(id).await?;
        Ok(Profile { identities: self.store.identities_of(id).await?, groups: self.named_groups(&groups).await? })
    }

    /// Globus groups with their names, when Globus Groups told them at a sign-in.
    pub async fn named_groups(&self, groups: &[String]) -> Result<Vec<NamedGroup>> {
        let mut names = self.store.group_names(groups).await?;
        Ok(groups.iter().map(|id| NamedGroup { id: id.clone(), name: names.remove(id) }).collect())
    }

    pub async fn named(&self, name: &str) -> Result<User> {
        user_named(&self.store, name).await
    }

    /// Disables or enables an account (administrators). Disabling ends its sessions; its
    /// API tokens and Globus tokens are refused while it stays disabled. Nobody disables
    /// their own account, nor the last enabled administrator.
    pub async fn set_disabled(&self, by: &Principal, name: &str, disabled: bool) -> Result<User> {
        let u = self.changeable(by, name).await?;
        if disabled && u.is_admin && !u.disabled {
            self.keep_an_admin(&u).await?;
        }
        self.store.set_user_disabled(u.id, disabled).await?;
        tracing::info!(user = u.username, by = by.username, disabled, "account changed");
        Ok(User { disabled, ..u })
    }

    /// Makes an account an administrator or takes that away (administrators); the same
    /// rules as [`Users::set_disabled`].
    pub async fn set_admin(&self, by: &Principal, name: &str, is_admin: bool) -> Result<User> {
        let u = self.changeable(by, name).await?;
        if !is_admin && u.is_admin && !u.disabled {
            self.keep_an_admin(&u).await?;
        }
        self.store.set_admin(u.id, is_admin).await?;
        tracing::info!(user = u.username, by = by.username, is_admin, "account changed");
        Ok(User { is_admin, ..u })
    }

    async fn changeable(&self, by: &Principal, name: &str) -> Result<User> {
        if !by.is_admin {
            return Err(Error::denied("only administrators change accounts"));
        }
        let u = self.named(name).await?;
        if u.id == by.user_id {
            return Err(Error::conflict("you cannot change your own account here; ask another administrator"));
        }
        Ok(u)
    }

    async fn keep_an_admin(&self, u: &User) -> Result<()> {
        if self.store.active_admins().await? <= 1 {
            return Err(Error::conflict(format!("{} is the last administrator; make another one first", u.username)));
        }
        Ok(())
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
