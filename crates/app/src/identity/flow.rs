//! The one OpenID Connect authorization-code flow, used by browser sign-in and by
//! connecting a Globus account. A flow under way is a `login_flows` row keyed by the
//! sha256 of `state`, bound to the browser by the sha256 of its browser id, taken
//! (deleted) by the one callback that uses it, and refused when older than 10 minutes.

use super::oidc::{AuthRequest, Oidc};
use crate::secrets::{hash_token, pkce_pair, random_token, same_secret};
use gantry_domain::{Error, Result, time::now_unix};
use gantry_globus::TokenResponse;
use gantry_store::{LoginFlow, Store};
use serde_json::{Map, Value};

/// Flows under way expire after this long.
pub const FLOW_SECS: i64 = 600;

#[derive(Clone)]
pub struct Flows {
    store: Store,
}

/// Where a flow starts.
pub struct Begin<'a> {
    /// The name the flow is kept under (the provider's id, or the Globus connection's).
    pub key: &'a str,
    pub browser: &'a str,
    /// A local path to go back to afterwards.
    pub return_to: &'a str,
    pub redirect_uri: &'a str,
    /// Further authorization parameters (e.g. Globus's `session_required_policies`).
    pub extra: &'a [(&'a str, &'a str)],
    /// Scopes besides the provider's configured ones.
    pub more_scopes: &'a [String],
}

/// What the provider sent the browser back with.
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A flow that ended well: the provider's tokens and the verified ID token's claims.
#[derive(Debug, Clone)]
pub struct Finished {
    pub tokens: TokenResponse,
    pub claims: Map<String, Value>,
    pub return_to: String,
}

impl Flows {
    pub fn new(store: Store) -> Flows {
        Flows { store }
    }

    /// Records a new flow and returns the provider's authorization URL.
    pub async fn begin(&self, oidc: &Oidc, b: &Begin<'_>) -> Result<String> {
        let meta = oidc.metadata(false).await?;
        let state = random_token(32);
        let nonce = random_token(16);
        let (verifier, challenge) = pkce_pair();
        self.store.purge_login_flows(now_unix() - FLOW_SECS).await?;
        let flow = LoginFlow {
            browser_hash: hash_token(b.browser),
            provider: b.key.to_string(),
            nonce: nonce.clone(),
            verifier,
            return_to: b.return_to.to_string(),
            created_at: now_unix(),
        };
        self.store.put_login_flow(&hash_token(&state), &flow).await?;
        let req = AuthRequest { redirect_uri: b.redirect_uri, state: &state, nonce: &nonce, challenge: &challenge };
        oidc.authorize_url(&meta, &req, b.extra, b.more_scopes)
    }

    /// Ends the flow the callback names: one use only, same key, same browser, in time;
    /// then trades the code (with the PKCE verifier) and verifies the ID token.
    /// `restart` tells the user how to begin again.
    pub async fn finish(
        &self,
        oidc: &Oidc,
        key: &str,
        cb: &Callback,
        browser: &str,
        redirect_uri: &str,
        restart: &str,
    ) -> Result<Finished> {
        let state =
            cb.state.as_deref().ok_or_else(|| Error::invalid(format!("the provider sent no state; {restart}")))?;
        // A state is good once: taking it removes it.
        let flow = self.store.take_login_flow(&hash_token(state)).await?.ok_or_else(|| {
            Error::invalid(format!("this sign-in was already used, has expired or is unknown; {restart}"))
        })?;
        if let Some(e) = &cb.error {
            let why = cb.error_description.as_deref().unwrap_or(e);
            return Err(Error::unauthorized(format!("the provider did not sign you in: {why}")));
        }
        if flow.provider != key {
            return Err(Error::invalid(format!("this sign-in was started with another provider; {restart}")));
        }
        if !same_secret(&hash_token(browser), &flow.browser_hash) {
            return Err(Error::denied(format!("this sign-in was started in another browser; {restart}")));
        }
        if flow.created_at + FLOW_SECS < now_unix() {
            return Err(Error::invalid(format!("this sign-in took too long; {restart}")));
        }
        let code = cb.code.as_deref().ok_or_else(|| Error::invalid("the provider sent no code"))?;
        let meta = oidc.metadata(false).await?;
        let tokens = oidc.exchange(&meta, code, redirect_uri, &flow.verifier).await?;
        let id_token =
            tokens.id_token.as_deref().ok_or_else(|| Error::unauthorized("the provider sent no ID token"))?;
        let claims = oidc.verify_id_token(id_token, &flow.nonce).await?;
        Ok(Finished { tokens, claims, return_to: flow.return_to })
    }
}
