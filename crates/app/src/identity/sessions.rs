//! Browser sessions and the CSRF tokens that go with them.
//!
//! A session id carries 32 random bytes; the database keeps only their sha256. A
//! session ends after `session_idle_secs` without requests and `session_max_secs` after
//! sign-in. Every state-changing form carries the session's CSRF token; before sign-in,
//! forms carry an HMAC of the browser id instead.

use super::sealer::Sealer;
use crate::secrets::{hash_token, random_token, same_secret};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_domain::{Error, Principal, Result, TokenScope, time::now_unix};
use gantry_globus::TokenResponse;
use gantry_store::{SessionRow, Store, User};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

const EXPIRED_FORM: &str = "the form has expired or did not come from this site; reload it and try again";

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub id_hash: String,
    pub row: SessionRow,
}

impl WebSession {
    pub fn principal(&self) -> Principal {
        self.row.user.principal(TokenScope::Write)
    }

    pub fn user(&self) -> &User {
        &self.row.user
    }

    pub fn csrf(&self) -> &str {
        &self.row.csrf
    }

    /// A form or request that changes something must carry the session's CSRF token.
    pub fn check_csrf(&self, sent: &str) -> Result<()> {
        if !same_secret(sent, &self.row.csrf) {
            return Err(Error::denied(EXPIRED_FORM));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Sessions {
    store: Store,
    sealer: Sealer,
    form_key: Arc<Vec<u8>>,
    idle_secs: u64,
    /// How long a session lasts at most.
    pub max_secs: u64,
}

impl Sessions {
    pub fn new(store: Store, sealer: Sealer, form_key: Vec<u8>, idle_secs: u64, max_secs: u64) -> Sessions {
        Sessions { store, sealer, form_key: Arc::new(form_key), idle_secs, max_secs }
    }

    /// The live session with this id, if any. Expired sessions are removed.
    pub async fn lookup(&self, id: &str) -> Result<Option<WebSession>> {
        let id_hash = hash_token(id);
        let Some(row) = self.store.session(&id_hash).await? else { return Ok(None) };
        let now = now_unix();
        if row.user.disabled || row.expires_at <= now || row.last_seen_at + self.idle_secs as i64 <= now {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        if now - row.last_seen_at >= 60 {
            self.store.touch_session(&id_hash).await?;
        }
        Ok(Some(WebSession { id_hash, row }))
    }

    /// Starts a session for `user`, keeping the sign-in's provider tokens sealed; returns
    /// the new session id (the cookie's value).
    pub async fn start(&self, user: &User, provider: &str, tokens: Option<&TokenResponse>) -> Result<String> {
        let user = user.clone().active()?;
        self.store.purge_sessions(self.idle_secs as i64).await?;
        let id = random_token(32);
        let sealed = tokens.map(|t| self.sealer.seal(user.id, t)).transpose()?;
        let expires = now_unix() + self.max_secs as i64;
        self.store
            .create_session(&hash_token(&id), user.id, provider, &random_token(24), expires, sealed.as_deref())
            .await?;
        Ok(id)
    }

    /// Ends a session; returns the provider tokens it held, to be revoked.
    pub async fn end(&self, s: &WebSession) -> Result<Option<TokenResponse>> {
        match self.store.delete_session(&s.id_hash).await? {
            Some(Some(sealed)) => Ok(Some(self.sealer.open(s.row.user.id, &sealed)?)),
            _ => Ok(None),
        }
    }

    /// The provider tokens a session holds (e.g. the Globus tokens of the sign-in).
    pub fn tokens(&self, s: &WebSession) -> Result<Option<TokenResponse>> {
        s.row.tokens.as_ref().map(|t| self.sealer.open(s.row.user.id, t)).transpose()
    }

    /// The CSRF token of forms shown before sign-in: an HMAC of the browser id.
    pub fn form_token(&self, browser: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.form_key).expect("hmac key");
        mac.update(b"login-csrf\0");
        mac.update(browser.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    pub fn check_form_token(&self, browser: &str, token: &str) -> Result<()> {
        if browser.is_empty() || !same_secret(&self.form_token(browser), token) {
            return Err(Error::denied(EXPIRED_FORM));
        }
        Ok(())
    }
}
