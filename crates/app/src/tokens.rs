//! API tokens: made for a user (shown once; only their hash is kept), listed, revoked.
//! Used by the REST API, the web settings page, device sign-in and `gantry admin`.

use crate::identity::credentials::API_TOKEN_PREFIX;
use crate::secrets::{hash_token, random_hex};
use gantry_domain::{Error, Result, TokenScope, time};
use gantry_store::{Store, TokenRow};

/// A token just made: the secret (shown once) and what is stored of it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub secret: String,
    pub row: TokenRow,
}

/// The longest lifetime a token may be given, in days.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

#[derive(Clone)]
pub struct Tokens {
    store: Store,
}

/// A new API token: `gnt_` and 48 hex digits.
pub fn new_api_token() -> String {
    format!("{API_TOKEN_PREFIX}{}", random_hex(24))
}

impl Tokens {
    pub fn new(store: Store) -> Tokens {
        Tokens { store }
    }

    /// A new API token for `user_id`.
    pub async fn issue(
        &self,
        user_id: i64,
        name: &str,
        scope: TokenScope,
        expires_days: Option<u32>,
    ) -> Result<IssuedToken> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(Error::invalid("token name must be 1 to 100 characters"));
        }
        if expires_days.is_some_and(|d| !(1..=MAX_EXPIRY_DAYS).contains(&d)) {
            return Err(Error::invalid(format!("expiry is 1 to {MAX_EXPIRY_DAYS} days")));
        }
        let secret = new_api_token();
        let expires = expires_days.map(|d| time::now_unix() + d as i64 * 86_400);
        let row = self.store.create_token(user_id, name, scope, &hash_token(&secret), expires).await?;
        Ok(IssuedToken { secret, row })
    }

    /// A new API token for the user named `username` (the admin command line).
    pub async fn issue_for(
        &self,
        username: &str,
        name: &str,
        scope: TokenScope,
        expires_days: Option<u32>,
    ) -> Result<IssuedToken> {
        let u = crate::users::user_named(&self.store, username).await?;
        self.issue(u.id, name, scope, expires_days).await
    }

    pub async fn list(&self, user_id: i64) -> Result<Vec<TokenRow>> {
        self.store.list_tokens(user_id).await
    }

    /// Revokes one of `user_id`'s tokens; 404 if there is no such token of theirs.
    pub async fn revoke(&self, user_id: i64, token_id: i64) -> Result<()> {
        if !self.store.revoke_token(user_id, token_id).await? {
            return Err(Error::not_found(format!("token {token_id} not found")));
        }
        Ok(())
    }
}
