//! Token responses: what an OAuth 2.0 token endpoint answers, with Globus's additions
//! (`resource_server`, `other_tokens`). The same type holds a generic OpenID Connect
//! provider's answer; the fields it leaves out are empty.

use serde::{Deserialize, Serialize};

#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(default, deserialize_with = "null_is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_server: Option<String>,
    /// Seconds the access token lives, from when it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_tokens: Vec<TokenResponse>,
}

fn null_is_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Option::<String>::deserialize(d).map(Option::unwrap_or_default)
}

/// Token values never reach a log: Debug shows which tokens there are, not what they are.
impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("resource_server", &self.resource_server)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| "…"))
            .field("id_token", &self.id_token.as_ref().map(|_| "…"))
            .field("other_tokens", &self.other_tokens)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// This token and then those of `other_tokens`.
    pub fn all(&self) -> impl Iterator<Item = &TokenResponse> {
        std::iter::once(self).chain(self.other_tokens.iter())
    }

    /// The token for resource server `rs`.
    pub fn for_server(&self, rs: &str) -> Option<&TokenResponse> {
        self.all().find(|t| t.resource_server.as_deref() == Some(rs))
    }

    /// Every refresh and access token (to revoke them all), refresh tokens first.
    pub fn secrets(&self) -> Vec<&str> {
        self.all()
            .flat_map(|t| [t.refresh_token.as_deref(), Some(t.access_token.as_str())])
            .flatten()
            .filter(|s| !s.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenResponse;

    fn globus_answer() -> TokenResponse {
        serde_json::from_value(serde_json::json!({
            "access_token": "A1", "refresh_token": "R1", "id_token": "I", "scope": "openid",
            "resource_server": "auth.globus.org", "expires_in": 172800, "token_type": "Bearer", "state": "x",
            "other_tokens": [{"access_token": "A2", "refresh_token": null, "scope": "urn:…:transfer",
                "resource_server": "transfer.api.globus.org", "expires_in": 172800, "token_type": "Bearer"}]}))
        .unwrap()
    }

    #[test]
    fn reads_globus_and_plain_oidc_answers() {
        let t = globus_answer();
        assert_eq!(t.for_server("transfer.api.globus.org").map(|t| t.access_token.as_str()), Some("A2"));
        assert!(t.for_server("groups.api.globus.org").is_none());
        assert_eq!(t.secrets(), ["R1", "A1", "A2"]);
        let plain: TokenResponse =
            serde_json::from_str(r#"{"access_token":"x","token_type":"Bearer","scope":null}"#).unwrap();
        assert_eq!((plain.scope.as_str(), plain.expires_in, plain.other_tokens.len()), ("", None, 0));
        assert!(serde_json::from_str::<TokenResponse>(r#"{"error":"invalid_grant"}"#).is_err());
    }

    #[test]
    fn keeps_what_it_reads_and_hides_it_from_debug() {
        let t = globus_answer();
        let again: TokenResponse = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(again, t);
        let shown = format!("{t:?}");
        assert!(!shown.contains("A1") && !shown.contains("R1") && !shown.contains("A2"), "{shown}");
        assert!(shown.contains("transfer.api.globus.org"));
    }
}
