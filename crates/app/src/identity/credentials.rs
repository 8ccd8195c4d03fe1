//! Who a request is: API tokens (stored as hashes), the short-lived registry bearer
//! tokens handed out by `/v2/token` (HMAC-signed, bound to the API token they came from
//! so revoking that token ends them too), and Globus tokens when Gantry is a Globus
//! resource server.

use crate::identity::resource_server::ResourceServer;
use crate::secrets::hash_token;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_domain::{Error, Grants, Principal, Result, TokenScope, time::now_unix};
use gantry_store::Store;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::sync::Arc;

pub const API_TOKEN_PREFIX: &str = "gnt_";
pub const REGISTRY_TOKEN_PREFIX: &str = "grt.";

/// What a request presented (the `Authorization` header, parsed by the front door).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    None,
    Basic { username: String, secret: String },
    Bearer(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// The claims of a registry bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryClaims {
    /// User id; None for an anonymous token.
    pub u: Option<i64>,
    /// The API token the bearer logged in with.
    pub t: Option<i64>,
    pub s: TokenScope,
    pub exp: i64,
    /// The repositories and actions the token was issued for.
    #[serde(default)]
    pub g: Grants,
}

/// A registry token as `/v2/token` hands it out.
#[derive(Debug, Clone)]
pub struct RegistryToken {
    pub token: String,
    pub expires_in: u64,
    pub issued_at: i64,
}

type HmacSha256 = Hmac<Sha256>;

pub fn issue_registry_token(key: &[u8], claims: &RegistryClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let mut mac = HmacSha256::new_from_slice(key).expect("hmac key");
    mac.update(payload.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{REGISTRY_TOKEN_PREFIX}{payload}.{sig}")
}

pub fn verify_registry_token(key: &[u8], token: &str) -> Option<RegistryClaims> {
    let rest = token.strip_prefix(REGISTRY_TOKEN_PREFIX)?;
    let (payload, sig) = rest.split_once('.')?;
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let mut mac = HmacSha256::new_from_slice(key).ok()?;
    mac.update(payload.as_bytes());
    mac.verify_slice(&sig).ok()?;
    let claims: RegistryClaims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.exp > now_unix()).then_some(claims)
}

/// Turns credentials into a caller.
#[derive(Clone)]
pub struct Authenticator {
    store: Store,
    registry_key: Arc<Vec<u8>>,
    registry_token_secs: u64,
    rs: Option<Arc<ResourceServer>>,
}

impl Authenticator {
    pub fn new(
        store: Store,
        registry_key: Vec<u8>,
        registry_token_secs: u64,
        rs: Option<Arc<ResourceServer>>,
    ) -> Authenticator {
        Authenticator { store, registry_key: Arc::new(registry_key), registry_token_secs, rs }
    }

    /// The resource server, when Gantry accepts Globus bearer tokens.
    pub fn resource_server(&self) -> Option<&Arc<ResourceServer>> {
        self.rs.as_ref()
    }

    /// Resolves the caller. No credentials → anonymous (`None`); wrong, expired or
    /// revoked credentials → 401, never a silent fall-back to anonymous.
    pub async fn authenticate(&self, creds: &Credentials) -> Result<Option<Principal>> {
        match creds {
            Credentials::None => Ok(None),
            Credentials::Basic { username, secret } => {
                let p = self.principal_from_api_token(secret).await?;
                if p.username != *username {
                    return Err(Error::unauthorized("the token does not belong to this user"));
                }
                Ok(Some(p))
            }
            Credentials::Bearer(t) if t.starts_with(API_TOKEN_PREFIX) => {
                Ok(Some(self.principal_from_api_token(t).await?))
            }
            Credentials::Bearer(t) if t.starts_with(REGISTRY_TOKEN_PREFIX) => {
                self.principal_from_registry_token(t).await
            }
            Credentials::Bearer(t) => match &self.rs {
                Some(rs) => Ok(Some(rs.principal(t).await?)),
                None => Err(Error::unauthorized("unknown bearer token")),
            },
        }
    }

    async fn principal_from_registry_token(&self, t: &str) -> Result<Option<Principal>> {
        let claims = verify_registry_token(&self.registry_key, t)
            .ok_or_else(|| Error::unauthorized("registry token is invalid or expired; log in again"))?;
        let Some(user_id) = claims.u else {
            return Ok(None);
        };
        let token_id = claims.t.ok_or_else(|| Error::unauthorized("registry token is invalid"))?;
        let token = self
            .store
            .token_by_id(token_id)
            .await?
            .filter(|t| t.user_id == user_id && t.expires_at.is_none_or(|e| e > now_unix()))
            .ok_or_else(|| Error::unauthorized("the API token behind this login was revoked; log in again"))?;
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| Error::unauthorized("user no longer exists"))?
            .active()?;
        let scope = if token.scope == TokenScope::Write && claims.s == TokenScope::Write {
            TokenScope::Write
        } else {
            TokenScope::Read
        };
        Ok(Some(Principal { grants: Some(claims.g), ..user.principal(scope) }))
    }

    async fn principal_from_api_token(&self, token: &str) -> Result<Principal> {
        let (t, u) = self
            .store
            .token_by_hash(&hash_token(token))
            .await?
            .ok_or_else(|| Error::unauthorized("invalid, expired or revoked token"))?;
        let u = u.active()?;
        let store = self.store.clone();
        tokio::spawn(async move {
            let _ = store.touch_token(t.id).await;
        });
        Ok(u.principal(t.scope))
    }

    /// `/v2/token`: checks the credentials (Basic username and API token, or a bare API
    /// token; none gives an anonymous token) and signs a registry token.
    pub async fn registry_token(&self, creds: &Credentials, grants: &Grants) -> Result<RegistryToken> {
        let now = now_unix();
        let exp = now + self.registry_token_secs as i64;
        let g = grants.clone();
        let claims = match creds {
            Credentials::None => RegistryClaims { u: None, t: None, s: TokenScope::Read, exp, g },
            Credentials::Basic { username, secret } => {
                let (t, u) = self
                    .store
                    .token_by_hash(&hash_token(secret))
                    .await?
                    .filter(|(_, u)| u.username == *username)
                    .ok_or_else(|| Error::unauthorized("invalid username or token"))?;
                let u = u.active()?;
                RegistryClaims { u: Some(u.id), t: Some(t.id), s: t.scope, exp, g }
            }
            Credentials::Bearer(b) if b.starts_with(API_TOKEN_PREFIX) => {
                let (t, u) = self
                    .store
                    .token_by_hash(&hash_token(b))
                    .await?
                    .ok_or_else(|| Error::unauthorized("invalid, expired or revoked token"))?;
                let u = u.active()?;
                RegistryClaims { u: Some(u.id), t: Some(t.id), s: t.scope, exp, g }
            }
            Credentials::Bearer(_) => {
                return Err(Error::unauthorized("use Basic credentials (username and API token)"));
            }
        };
        Ok(RegistryToken {
            token: issue_registry_token(&self.registry_key, &claims),
            expires_in: self.registry_token_secs,
            issued_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_tokens_are_signed_and_expire() {
        let key = b"k".repeat(32);
        let c =
            RegistryClaims { u: Some(3), t: Some(9), s: TokenScope::Write, exp: now_unix() + 60, g: Grants::default() };
        let t = issue_registry_token(&key, &c);
        assert_eq!(verify_registry_token(&key, &t), Some(c.clone()));
        assert_eq!(verify_registry_token(b"other key", &t), None);
        // Tampering with the payload breaks the signature.
        let forged = RegistryClaims { u: Some(1), ..c.clone() };
        let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        let sig = t.rsplit('.').next().unwrap();
        assert_eq!(verify_registry_token(&key, &format!("grt.{forged_payload}.{sig}")), None);
        let old = RegistryClaims { exp: now_unix() - 1, ..c };
        assert_eq!(verify_registry_token(&key, &issue_registry_token(&key, &old)), None);
    }

    #[test]
    fn credentials_never_show_secrets() {
        let c = Credentials::Basic { username: "alice".into(), secret: "gnt_secret".into() };
        assert!(!format!("{c:?}").contains("gnt_secret"));
        assert!(!format!("{:?}", Credentials::Bearer("xyz".into())).contains("xyz"));
    }
}
