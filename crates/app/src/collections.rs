//! Collections: who may see and change them, their visibility and description, their
//! members (users and Globus groups with roles), and the rule that a collection always
//! keeps an owner. The REST API, the web UI and `gantry admin` all come through here.

use crate::config::Config;
use gantry_domain::{Access, CollectionName, Error, ErrorKind, Principal, Result, Role, TokenScope, Visibility};
use gantry_store::{Collection, GroupMember, Member, Repo, Store, User};
use std::sync::Arc;

#[derive(Clone)]
pub struct Collections {
    store: Store,
    config: Arc<Config>,
}

/// A collection with the caller's access to it and their own role (if any).
#[derive(Debug, Clone)]
pub struct Seen {
    pub collection: Collection,
    pub access: Access,
    pub role: Option<Role>,
}

/// A collection the caller may manage: only [`Collections::managed`] (and the
/// operator's [`Collections::operate`]) make one, so the operations that take it cannot
/// be reached without that check.
#[derive(Debug, Clone)]
pub struct Managed(Seen);

impl Managed {
    pub fn collection(&self) -> &Collection {
        &self.0.collection
    }
}

/// What a new collection is.
#[derive(Debug, Clone)]
pub struct NewCollection {
    pub name: CollectionName,
    /// The server's default when not given.
    pub visibility: Option<Visibility>,
    pub description: String,
    /// Who owns it; callers that are not admins can only name themselves.
    pub owner: Option<i64>,
}

/// A Globus group id (a UUID; other group ids of letters, digits and '-' are accepted).
pub fn group_id(g: &str) -> Result<String> {
    let g = g.trim();
    if g.is_empty() || g.len() > 64 || !g.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-') {
        return Err(Error::invalid(format!("{g:?} is not a group id: use the Globus group's id (a UUID)")));
    }
    Ok(g.to_ascii_lowercase())
}

pub fn check_description(d: &str) -> Result<()> {
    if d.len() > 4000 {
        return Err(Error::invalid("description is longer than 4000 characters"));
    }
    Ok(())
}

impl Collections {
    pub fn new(store: Store, config: Arc<Config>) -> Collections {
        Collections { store, config }
    }

    /// The caller's access to a collection, or the error that reveals nothing.
    pub async fn access(&self, caller: Option<&Principal>, name: &CollectionName, needed: Access) -> Result<Seen> {
        let found = self.store.collection_access(name.as_str(), caller.map(|p| p.user_id)).await?;
        let Some(ca) = found else {
            return Err(match caller {
                None => Error::unauthorized("authentication required"),
                Some(_) => Error::new(ErrorKind::NameUnknown, format!("collection {name} not found")),
            });
        };
        let access = Access::decide(caller, ca.collection.visibility, ca.role);
        access.require(needed, caller.is_none(), &format!("collection {name}"))?;
        Ok(Seen { collection: ca.collection, access, role: ca.role })
    }

    /// A collection the caller manages (an owner, or an admin).
    pub async fn managed(&self, caller: Option<&Principal>, name: &CollectionName) -> Result<Managed> {
        Ok(Managed(self.access(caller, name, Access::Manage).await?))
    }

    /// A collection as the server's operator (`gantry admin`) manages it.
    pub async fn operate(&self, name: &str) -> Result<Managed> {
        let name = CollectionName::parse(name)?;
        self.managed(Some(&Principal::operator()), &name).await
    }

    /// Every collection the caller can see, with their access.
    pub async fn visible(&self, caller: Option<&Principal>) -> Result<Vec<Seen>> {
        let all = self.store.visible_collections(caller.map(|p| p.user_id), caller.is_some_and(|p| p.is_admin)).await?;
        Ok(all
            .into_iter()
            .map(|ca| Seen {
                access: Access::decide(caller, ca.collection.visibility, ca.role),
                role: ca.role,
                collection: ca.collection,
            })
            .collect())
    }

    /// Whether `p` may create collections here at all.
    pub fn may_create(&self, p: &Principal) -> Result<()> {
        if p.scope != TokenScope::Write {
            return Err(Error::denied("a read-only token cannot create collections"));
        }
        if !self.config.allow_user_collections && !p.is_admin {
            return Err(Error::denied("only admins may create collections here"));
        }
        Ok(())
    }

    /// Creates a collection on behalf of `by`.
    pub async fn create(&self, by: &Principal, new: NewCollection) -> Result<Collection> {
        self.may_create(by)?;
        if new.owner.is_some_and(|o| o != by.user_id) && !by.is_admin {
            return Err(Error::denied("only admins may create collections for someone else"));
        }
        check_description(&new.description)?;
        let vis = new.visibility.unwrap_or(self.config.default_visibility);
        self.store.create_collection(new.name.as_str(), vis, new.description.trim(), new.owner).await
    }

    /// The collection a push creates, owned by the pusher, when the server allows it.
    pub(crate) async fn create_on_push(&self, p: &Principal, name: &CollectionName) -> Result<()> {
        if let Err(e) = self.may_create(p) {
            if p.scope == TokenScope::Write {
                return Err(Error::denied(format!(
                    "collection {name} does not exist and only admins may create collections here; ask an admin to create it"
                )));
            }
            return Err(e);
        }
        let new =
            NewCollection { name: name.clone(), visibility: None, description: String::new(), owner: Some(p.user_id) };
        match self.create(p, new).await {
            Ok(_) => Ok(()),
            // Someone else created it at the same moment: fine, access is checked next.
            Err(e) if e.kind == ErrorKind::Conflict => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Changes visibility and description; returns the collection as it is now.
    pub async fn update(&self, c: &Managed, visibility: Option<Visibility>, description: Option<&str>) -> Result<Seen> {
        if let Some(d) = description {
            check_description(d)?;
        }
        let id = c.collection().id;
        self.store.update_collection(id, visibility, description.map(str::trim)).await?;
        let name = &c.collection().name;
        let row = self.store.collection_access(name, None).await?;
        let collection =
            row.map(|r| r.collection).ok_or_else(|| Error::not_found(format!("collection {name} not found")))?;
        Ok(Seen { collection, ..c.0.clone() })
    }

    pub async fn delete(&self, c: Managed) -> Result<()> {
        self.store.delete_collection(c.collection().id).await
    }

    /// The repositories of a collection the caller could read.
    pub async fn repos(&self, seen: &Seen) -> Result<Vec<Repo>> {
        self.store.repos_in_collection(seen.collection.id).await
    }

    pub async fn members(&self, c: &Managed) -> Result<Vec<Member>> {
        self.store.list_members(c.collection().id).await
    }

    pub async fn groups(&self, c: &Managed) -> Result<Vec<GroupMember>> {
        self.store.list_group_members(c.collection().id).await
    }

    /// Gives a user a role on a collection; a collection keeps at least one owner.
    pub async fn set_user_role(&self, c: &Managed, username: &str, role: Role) -> Result<User> {
        let u = crate::users::user_named(&self.store, username.trim()).await?;
        if role != Role::Owner {
            self.ensure_other_owner(c, u.id).await?;
        }
        self.store.set_member(c.collection().id, u.id, role).await?;
        Ok(u)
    }

    /// Takes a user's role away (not the last owner's); 404 if they had none.
    pub async fn remove_user_role(&self, c: &Managed, username: &str) -> Result<()> {
        let u = crate::users::user_named(&self.store, username.trim()).await?;
        self.ensure_other_owner(c, u.id).await?;
        if !self.store.remove_member(c.collection().id, u.id).await? {
            return Err(Error::not_found(format!("{} is not a member of {}", u.username, c.collection().name)));
        }
        Ok(())
    }

    /// Gives the members of a Globus group a role; returns the normalised group id.
    pub async fn set_group_role(&self, c: &Managed, group: &str, role: Role) -> Result<String> {
        let group = group_id(group)?;
        self.store.set_group_member(c.collection().id, &group, role).await?;
        Ok(group)
    }

    /// Takes a group's role away; 404 if it had none.
    pub async fn remove_group_role(&self, c: &Managed, group: &str) -> Result<()> {
        let group = group_id(group)?;
        if !self.store.remove_group_member(c.collection().id, &group).await? {
            return Err(Error::not_found(format!("group {group} has no role on {}", c.collection().name)));
        }
        Ok(())
    }

    /// A collection keeps at least one owner.
    async fn ensure_other_owner(&self, c: &Managed, user_id: i64) -> Result<()> {
        let ms = self.store.list_members(c.collection().id).await?;
        let is_owner = ms.iter().any(|m| m.user_id == user_id && m.role == Role::Owner);
        let owners = ms.iter().filter(|m| m.role == Role::Owner).count();
        if is_owner && owners == 1 {
            return Err(Error::conflict("this is the collection's last owner; add another owner first"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn group_ids() {
        assert_eq!(super::group_id(" 1A2b-3c ").unwrap(), "1a2b-3c");
        for bad in ["", "a b", "a/b", "a;drop", &"x".repeat(65)] {
            assert!(super::group_id(bad).is_err(), "{bad}");
        }
    }
}
