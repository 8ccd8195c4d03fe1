//! Finding a destination: endpoint search, one endpoint, bookmarks, listing and making folders,
//! each with the user's own Transfer token.

use super::{Transfers, from_globus};
use gantry_api_types::{DirEntry, EndpointInfo, Listing};
use gantry_domain::{Error, Result};
use gantry_globus::{Bookmark, Endpoint};

/// The scopes of Globus's endpoint search.
pub const SEARCH_SCOPES: &[&str] = &[
    "all",
    "my-endpoints",
    "my-gcp-endpoints",
    "recently-used",
    "in-use",
    "shared-by-me",
    "shared-with-me",
    "administered-by-me",
];

impl Transfers {
    pub async fn endpoint_search(
        &self,
        user_id: i64,
        q: Option<&str>,
        scope: &str,
        limit: u32,
    ) -> Result<Vec<EndpointInfo>> {
        if !SEARCH_SCOPES.contains(&scope) {
            return Err(Error::invalid(format!("unknown scope {scope:?}: use one of {}", SEARCH_SCOPES.join(", "))));
        }
        if scope == "all" && q.is_none_or(|q| q.trim().is_empty()) {
            // Globus refuses to list every endpoint there is; say what to do instead.
            return Err(Error::invalid("type part of an endpoint's name to search all endpoints"));
        }
        let (_, token) = self.user_token(user_id).await?;
        let v = self.globus.endpoint_search(&token, q, Some(scope), limit.min(100)).await.map_err(from_globus)?;
        // Gantry's own storage collection is where images come from, never a destination.
        let storage = self.cfg.storage_collection.as_str();
        Ok(v.into_iter()
            .filter(|e| e.id != storage)
            .map(|e| EndpointInfo {
                id: e.id,
                display_name: e.display_name,
                owner: e.owner_string,
                description: e.description,
                entity_type: e.entity_type,
            })
            .collect())
    }

    /// One endpoint's document, as Globus gives it.
    pub async fn endpoint(&self, user_id: i64, id: &str) -> Result<Endpoint> {
        let (_, token) = self.user_token(user_id).await?;
        self.globus.endpoint(&token, id).await.map_err(from_globus)
    }

    /// A directory listing at an endpoint.
    pub async fn ls(&self, user_id: i64, endpoint: &str, path: &str) -> Result<Listing> {
        let (_, token) = self.user_token(user_id).await?;
        let v = self.globus.ls(&token, endpoint, path).await.map_err(from_globus)?;
        let entries = v
            .entries
            .into_iter()
            .map(|e| DirEntry { name: e.name, kind: e.kind, size: e.size, last_modified: e.last_modified })
            .collect();
        Ok(Listing { path: v.path, entries })
    }

    /// The user's Globus bookmarks.
    pub async fn bookmarks(&self, user_id: i64) -> Result<Vec<Bookmark>> {
        let (_, token) = self.user_token(user_id).await?;
        self.globus.bookmarks(&token).await.map_err(from_globus)
    }

    /// Bookmarks a folder at Globus, under a name of up to 128 characters.
    pub async fn bookmark(&self, user_id: i64, name: &str, endpoint: &str, path: &str) -> Result<Bookmark> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(Error::invalid("a bookmark's name is 1 to 128 characters, on one line"));
        }
        if !path.starts_with('/') {
            return Err(Error::invalid("a bookmark's path is absolute at the endpoint"));
        }
        let (_, token) = self.user_token(user_id).await?;
        self.globus.create_bookmark(&token, name, endpoint, path).await.map_err(from_globus)
    }

    pub async fn mkdir(&self, user_id: i64, endpoint: &str, path: &str) -> Result<()> {
        let (_, token) = self.user_token(user_id).await?;
        self.globus.mkdir(&token, endpoint, path).await.map_err(from_globus)?;
        Ok(())
    }
}
