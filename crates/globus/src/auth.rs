//! Globus Auth: token grants, revocation, introspection, dependent tokens, policies.

use crate::{Cred, Error, Globus, Result, TokenResponse};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

impl Globus {
    /// A token grant at `/v2/oauth2/token` (refresh, client credentials, …).
    pub async fn token(&self, cred: Cred<'_>, form: &[(&str, &str)]) -> Result<TokenResponse> {
        decode(self.grant(cred, form).await?, "token response")
    }

    async fn grant(&self, cred: Cred<'_>, form: &[(&str, &str)]) -> Result<Value> {
        let url = format!("{}/v2/oauth2/token", self.auth_url);
        self.send(|| self.req(Method::POST, &url, cred).form(form)).await
    }

    /// Trades a refresh token for fresh tokens.
    pub async fn refresh(&self, client_id: &str, secret: Option<&str>, refresh_token: &str) -> Result<TokenResponse> {
        match secret {
            Some(s) => {
                self.token(
                    Cred::Basic(client_id, s),
                    &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)],
                )
                .await
            }
            None => {
                self.token(
                    Cred::None,
                    &[("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", client_id)],
                )
                .await
            }
        }
    }

    /// Revokes a token (access or refresh).
    pub async fn revoke(&self, client_id: &str, secret: Option<&str>, token: &str) -> Result<()> {
        let url = format!("{}/v2/oauth2/token/revoke", self.auth_url);
        let cred = secret.map(|s| Cred::Basic(client_id, s)).unwrap_or(Cred::None);
        self.send(|| self.req(Method::POST, &url, cred).form(&[("token", token), ("client_id", client_id)])).await?;
        Ok(())
    }

    /// Tokens of a confidential client itself.
    pub async fn client_credentials(&self, client_id: &str, secret: &str, scope: &str) -> Result<TokenResponse> {
        self.token(Cred::Basic(client_id, secret), &[("grant_type", "client_credentials"), ("scope", scope)]).await
    }
}

/// What Globus Auth says of a token presented to a resource server.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Introspection {
    #[serde(default)]
    pub active: bool,
    #[serde(default)]
    pub exp: i64,
    /// The resource servers the token is for (Globus sends a list, others a string).
    #[serde(default, deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
    /// The token's identity.
    #[serde(flatten)]
    pub identity: IdentityDetail,
    #[serde(default, deserialize_with = "text")]
    pub client_id: String,
    #[serde(default)]
    pub identity_set_detail: Vec<IdentityDetail>,
    #[serde(default)]
    pub session_info: SessionInfo,
    #[serde(default)]
    pub policy_evaluations: BTreeMap<String, PolicyEvaluation>,
}

/// An identity: its id (`sub`), username, name and email.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IdentityDetail {
    #[serde(default, deserialize_with = "text")]
    pub sub: String,
    #[serde(default, deserialize_with = "text")]
    pub username: String,
    #[serde(default, deserialize_with = "text")]
    pub name: String,
    #[serde(default, deserialize_with = "text")]
    pub email: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SessionInfo {
    /// The identities the session authenticated, by id.
    #[serde(default)]
    pub authentications: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PolicyEvaluation {
    #[serde(default)]
    pub evaluation: bool,
}

/// A Globus Auth authentication policy.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Policy {
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "text")]
    pub display_name: String,
    #[serde(default)]
    pub high_assurance: bool,
    #[serde(default)]
    pub domain_constraints_include: Option<Vec<String>>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => vec![s],
        Value::Array(a) => a.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => vec![],
    })
}

/// A string, with null read as empty.
fn text<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

fn decode<T: serde::de::DeserializeOwned>(v: Value, what: &str) -> Result<T> {
    serde_json::from_value(v).map_err(|e| Error::Unreachable(format!("unexpected {what} from Globus Auth: {e}")))
}

impl Globus {
    /// Introspects `token` as the resource server `client_id`; `include` and
    /// `policies` are Globus's `include` and `authentication_policies`.
    pub async fn introspect(
        &self,
        client_id: &str,
        secret: &str,
        token: &str,
        include: &str,
        policies: &[String],
    ) -> Result<Introspection> {
        let url = format!("{}/v2/oauth2/token/introspect", self.auth_url);
        let mut form = vec![("token", token.to_string()), ("include", include.to_string())];
        if !policies.is_empty() {
            form.push(("authentication_policies", policies.join(",")));
        }
        let v = self.send(|| self.req(Method::POST, &url, Cred::Basic(client_id, secret)).form(&form)).await?;
        decode(v, "introspection")
    }

    /// Tokens for the services a resource server's scope depends on, on behalf of the
    /// user whose `token` it was given (a list of token documents).
    pub async fn dependent_tokens(&self, client_id: &str, secret: &str, token: &str) -> Result<Vec<TokenResponse>> {
        let form = [("grant_type", "urn:globus:auth:grant_type:dependent_token"), ("token", token)];
        let v = self.grant(Cred::Basic(client_id, secret), &form).await?;
        decode(v, "dependent tokens")
    }

    /// An authentication policy, as its project's client sees it.
    pub async fn policy(&self, client_id: &str, secret: &str, id: &str) -> Result<Policy> {
        let url = format!("{}/v2/api/policies/{}", self.auth_url, crate::urlencode(id));
        let v = self.send(|| self.req(Method::GET, &url, Cred::Basic(client_id, secret))).await?;
        decode(v["policy"].clone(), "policy")
    }
}
