//! Finding a destination: endpoint search, one endpoint, listing and making folders,
//! each with the user's own Transfer token.

use super::{Transfers, from_globus};
use gantry_api_types::{DirEntry, EndpointInfo, Listing};
use gantry_domain::{Error, Result};
use serde_json::Value;

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

fn text(v: &Value, k: &str) -> Option<String> {
    v[k].as_str().map(str::to_string)
}

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
        let (_, token) = self.user_token(user_id).await?;
        let v = self.globus.endpoint_search(&token, q, Some(scope), limit.min(100)).await.map_err(from_globus)?;
        Ok(v["DATA"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| EndpointInfo {
                id: text(e, "id").unwrap_or_default(),
                display_name: text(e, "display_name"),
                owner: text(e, "owner_string"),
                description: text(e, "description"),
                entity_type: text(e, "entity_type"),
            })
            .collect())
    }

    /// One endpoint's document, as Globus gives it.
    pub async fn endpoint(&self, user_id: i64, id: &str) -> Result<Value> {
        let (_, token) = self.user_token(user_id).await?;
        self.globus.endpoint(&token, id).await.map_err(from_globus)
    }

    /// A directory listing at an endpoint.
    pub async fn ls(&self, user_id: i64, endpoint: &str, path: &str) -> Result<Listing> {
        let (_, token) = self.user_token(user_id).await?;
        let v = self.globus.ls(&token, endpoint, path).await.map_err(from_globus)?;
        let entries = v["DATA"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| DirEntry {
                name: text(e, "name").unwrap_or_default(),
                kind: text(e, "type").unwrap_or_default(),
                size: e["size"].as_i64(),
                last_modified: text(e, "last_modified"),
            })
            .collect();
        Ok(Listing { path: text(&v, "path"), entries })
    }

    pub async fn mkdir(&self, user_id: i64, endpoint: &str, path: &str) -> Result<()> {
        let (_, token) = self.user_token(user_id).await?;
        self.globus.mkdir(&token, endpoint, path).await.map_err(from_globus)?;
        Ok(())
    }
}
