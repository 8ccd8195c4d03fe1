//! What Auth keeps: clients made from templates, sessions and their sign-ins, pending
//! authorize requests, codes and tokens.

use crate::config::ClientScope;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};

// ---------- records ----------

/// A client made at run time from a template (what `globus login` does).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientInstance {
    pub id: String,
    pub name: String,
    pub secret_hash: String,
    pub template_id: String,
}

/// What the service knows of a client, static or templated.
#[derive(Debug, Clone)]
pub struct KnownClient {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub redirect_uris: Vec<String>,
    pub native: bool,
    pub scopes: Vec<ClientScope>,
    /// For an instance made from a template (as the CLI makes its own): the template.
    pub template_id: Option<String>,
}

impl KnownClient {
    /// Whether this client may learn about `token` (introspect or revoke it): the token
    /// was issued for it as a resource server, or to it (or to the template it is an
    /// instance of), as Globus Auth allows.
    pub fn concerns(&self, token: &Token) -> bool {
        token.resource_server == self.id
            || token.client_id == self.id
            || self.template_id.as_deref() == Some(token.client_id.as_str())
    }
}

/// One sign-in of an identity within a browser session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Authn {
    pub auth_time: i64,
    pub idp: String,
    pub mfa: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// Identity id → its latest sign-in.
    pub authentications: BTreeMap<String, Authn>,
    pub primary: String,
}

/// An authorize request waiting for sign-in and consent, bound to one browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) params: HashMap<String, String>,
    pub(crate) browser: String,
    pub(crate) csrf: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Code {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) scope: String,
    pub(crate) identity: String,
    pub(crate) session: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) access_type: String,
    pub(crate) nonce: Option<String>,
    #[serde(default)]
    pub(crate) state: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub refresh: bool,
    pub client_id: String,
    /// The identity the token acts for (a client's own identity for client credentials).
    pub identity: String,
    pub resource_server: String,
    pub scope: String,
    pub session: Option<String>,
    pub expires_at: Option<i64>,
    pub issued_at: i64,
}

pub(crate) fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}
