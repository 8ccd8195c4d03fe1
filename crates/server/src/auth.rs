//! Credentials: API tokens (stored as hashes), passwords (argon2), and the short-lived
//! registry bearer tokens handed out by `/v2/token` (HMAC-signed, bound to the API
//! token they came from so revoking that token ends them too).

use crate::state::AppState;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use gantry_domain::{Error, Principal, Result, TokenScope, time::now_unix};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

pub const API_TOKEN_PREFIX: &str = "gnt_";
const REGISTRY_TOKEN_PREFIX: &str = "grt.";

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("operating system random source");
    hex::encode(b)
}

/// A random URL-safe string carrying `bytes` random bytes (session ids, states, nonces).
pub fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).expect("operating system random source");
    URL_SAFE_NO_PAD.encode(b)
}

/// A new API token: shown once, stored only as its hash.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_hex(24))
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub fn hash_password(password: &str) -> Result<String> {
    if password.len() < 8 {
        return Err(Error::invalid("passwords need at least 8 characters"));
    }
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| Error::internal(format!("random source: {e}")))?;
    let salt = SaltString::encode_b64(&raw).map_err(|e| Error::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(format!("hash password: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryClaims {
    /// User id; None for an anonymous token.
    pub u: Option<i64>,
    /// The API token the bearer logged in with.
    pub t: Option<i64>,
    pub s: TokenScope,
    pub exp: i64,
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

/// What the Authorization header carried.
#[derive(Debug)]
pub enum Credentials {
    None,
    Basic { username: String, secret: String },
    Bearer(String),
}

pub fn credentials(headers: &HeaderMap) -> Result<Credentials> {
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(Credentials::None);
    };
    let v = v.to_str().map_err(|_| Error::unauthorized("malformed Authorization header"))?;
    let (scheme, rest) = v.split_once(' ').unwrap_or((v, ""));
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => {
            let raw = STANDARD.decode(rest.trim()).map_err(|_| Error::unauthorized("malformed Basic credentials"))?;
            let s = String::from_utf8(raw).map_err(|_| Error::unauthorized("malformed Basic credentials"))?;
            let (u, p) = s.split_once(':').ok_or_else(|| Error::unauthorized("malformed Basic credentials"))?;
            Ok(Credentials::Basic { username: u.to_string(), secret: p.to_string() })
        }
        "bearer" => Ok(Credentials::Bearer(rest.trim().to_string())),
        _ => Err(Error::unauthorized("unsupported Authorization scheme: use Basic or Bearer")),
    }
}

impl AppState {
    /// Resolves the caller. No credentials → anonymous (`None`); wrong, expired or
    /// revoked credentials → 401, never a silent fall-back to anonymous.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Principal>> {
        match credentials(headers)? {
            Credentials::None => Ok(None),
            Credentials::Basic { username, secret } => {
                let p = self.principal_from_api_token(&secret).await?;
                if p.username != username {
                    return Err(Error::unauthorized("the token does not belong to this user"));
                }
                Ok(Some(p))
            }
            Credentials::Bearer(t) if t.starts_with(API_TOKEN_PREFIX) => {
                Ok(Some(self.principal_from_api_token(&t).await?))
            }
            Credentials::Bearer(t) if t.starts_with(REGISTRY_TOKEN_PREFIX) => {
                let claims = verify_registry_token(&self.registry_key, &t)
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
                    .ok_or_else(|| Error::unauthorized("user no longer exists"))?;
                let scope = if token.scope == TokenScope::Write && claims.s == TokenScope::Write {
                    TokenScope::Write
                } else {
                    TokenScope::Read
                };
                Ok(Some(Principal { user_id, username: user.username, is_admin: user.is_admin, scope }))
            }
            Credentials::Bearer(t) => match &self.rs {
                Some(rs) => Ok(Some(rs.principal(self, &t).await?)),
                None => Err(Error::unauthorized("unknown bearer token")),
            },
        }
    }

    async fn principal_from_api_token(&self, token: &str) -> Result<Principal> {
        let (t, u) = self
            .store
            .token_by_hash(&hash_token(token))
            .await?
            .ok_or_else(|| Error::unauthorized("invalid, expired or revoked token"))?;
        let store = self.store.clone();
        tokio::spawn(async move {
            let _ = store.touch_token(t.id).await;
        });
        Ok(Principal { user_id: u.id, username: u.username, is_admin: u.is_admin, scope: t.scope })
    }

    /// Checks Basic credentials for the token endpoint and returns the claims to sign.
    pub async fn registry_login(&self, headers: &HeaderMap) -> Result<RegistryClaims> {
        let exp = now_unix() + self.config.registry_token_secs as i64;
        match credentials(headers)? {
            Credentials::None => Ok(RegistryClaims { u: None, t: None, s: TokenScope::Read, exp }),
            Credentials::Basic { username, secret } => {
                let (t, u) = self
                    .store
                    .token_by_hash(&hash_token(&secret))
                    .await?
                    .filter(|(_, u)| u.username == username)
                    .ok_or_else(|| Error::unauthorized("invalid username or token"))?;
                Ok(RegistryClaims { u: Some(u.id), t: Some(t.id), s: t.scope, exp })
            }
            Credentials::Bearer(b) if b.starts_with(API_TOKEN_PREFIX) => {
                let (t, u) = self
                    .store
                    .token_by_hash(&hash_token(&b))
                    .await?
                    .ok_or_else(|| Error::unauthorized("invalid, expired or revoked token"))?;
                Ok(RegistryClaims { u: Some(u.id), t: Some(t.id), s: t.scope, exp })
            }
            Credentials::Bearer(_) => Err(Error::unauthorized("use Basic credentials (username and API token)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_tokens_are_signed_and_expire() {
        let key = b"k".repeat(32);
        let c = RegistryClaims { u: Some(3), t: Some(9), s: TokenScope::Write, exp: now_unix() + 60 };
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
    fn passwords_and_tokens() {
        let h = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(hash_password("short").is_err());
        let t = new_api_token();
        assert!(t.starts_with("gnt_") && t.len() == 52);
        assert_ne!(hash_token(&t), t);
        assert_eq!(hash_token(&t).len(), 64);
    }
}
