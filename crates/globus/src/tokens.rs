//! Reading Globus Auth token responses.

use serde_json::Value;

/// The token documents of an Auth token response: the top-level one, then `other_tokens`.
pub fn tokens_of(v: &Value) -> impl Iterator<Item = &Value> {
    std::iter::once(v).chain(v["other_tokens"].as_array().into_iter().flatten())
}

/// The token for resource server `rs` in a token response.
pub fn token_for<'a>(v: &'a Value, rs: &str) -> Option<&'a Value> {
    tokens_of(v).find(|t| t["resource_server"] == rs)
}

/// Every refresh and access token of a token response (to revoke them all).
pub fn secrets_of(v: &Value) -> Vec<&str> {
    tokens_of(v).flat_map(|t| ["refresh_token", "access_token"].map(|k| t[k].as_str())).flatten().collect()
}
