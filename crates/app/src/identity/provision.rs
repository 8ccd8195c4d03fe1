//! The Gantry user behind identities a provider has just confirmed.

use crate::config::Config;
use crate::secrets::random_token;
use gantry_domain::{ErrorKind, Result};
use gantry_store::{NewIdentity, Store, User};
use std::sync::Arc;

#[derive(Clone)]
pub struct Provisioner {
    store: Store,
    config: Arc<Config>,
}

impl Provisioner {
    pub fn new(store: Store, config: Arc<Config>) -> Provisioner {
        Provisioner { store, config }
    }

    /// The first identity is the one that signed in; the others are linked to it, as
    /// Globus's identity sets are. Unknown identities provision a new user; an identity
    /// never attaches itself to an existing local account by a matching name. `groups`
    /// (Globus group ids), when known, replace the user's recorded groups.
    pub async fn provision(&self, ids: &[NewIdentity], groups: Option<&[String]>) -> Result<User> {
        let first = ids.first().ok_or_else(|| gantry_domain::Error::invalid("no identity"))?;
        let mut user = None;
        for id in ids {
            if let Some(u) = self.store.identity_user(&id.provider, &id.subject).await? {
                user = Some(u);
                break;
            }
        }
        let mut user = match user {
            Some(u) => u,
            None => self.create_unique_user(&first.username).await?,
        };
        for id in ids {
            self.store.link_identity(user.id, id).await?;
        }
        if let Some(groups) = groups {
            self.store.set_user_groups(user.id, groups).await?;
        }
        let named =
            ids.iter().any(|i| self.config.admin_identities.contains(&format!("{}:{}", i.provider, i.username)));
        let in_group = groups.is_some_and(|g| g.iter().any(|g| self.config.admin_groups.contains(g)));
        if (named || in_group) && !user.is_admin {
            self.store.set_admin(user.id, true).await?;
            user.is_admin = true;
        }
        // A disabled account stays out, whichever identity of it signs in.
        user.active()
    }

    async fn create_unique_user(&self, wanted: &str) -> Result<User> {
        let mut base: String = wanted
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-@".contains(c) { c } else { '-' })
            .take(56)
            .collect();
        if !base.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            base.insert(0, 'u');
        }
        for n in 1..=20 {
            let name = if n == 1 { base.clone() } else { format!("{base}-{n}") };
            match self.store.create_user(&name, None, false).await {
                Ok(u) => return Ok(u),
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        self.store.create_user(&format!("{base}-{}", &random_token(6)), None, false).await
    }
}
