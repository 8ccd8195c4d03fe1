//! Globus Groups: the groups a user belongs to.

use crate::{Cred, Error, Globus, Result};
use reqwest::Method;
use serde::Deserialize;

/// A group the token's user is a member of.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Group {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl Globus {
    /// `GET /v2/groups/my_groups` with a Groups token.
    pub async fn my_groups(&self, groups_token: &str) -> Result<Vec<Group>> {
        let url = format!("{}/v2/groups/my_groups", self.groups_url);
        let v = self.send(|| self.req(Method::GET, &url, Cred::Bearer(groups_token))).await?;
        serde_json::from_value(v).map_err(|e| Error::Unreachable(format!("unexpected groups from Globus Groups: {e}")))
    }
}
