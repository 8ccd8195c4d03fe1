//! Gantry as a Globus resource server: a Globus access token issued for Gantry's scope
//! is introspected (with session info and the configured authentication policies),
//! checked, mapped to a Gantry user and cached.
//!
//! The checks, in order: the token is active and unexpired; its audience is Gantry;
//! service identities (client credentials) must be listed; the session includes an
//! identity from an allowed domain; every policy evaluates true; the user belongs to
//! every required group (asked of Globus Groups through a dependent token).

use super::provision::Provisioner;
use crate::config::ResourceServerConfig;
use gantry_domain::{Error, ErrorKind, Principal, Result, TokenScope, time::now_unix};
use gantry_globus::{Globus, Introspection, Retry};
use gantry_store::NewIdentity;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many token outcomes are cached.
const CACHE_MAX: usize = 10_000;
const GROUPS_RS: &str = "groups.api.globus.org";

type Outcome = std::result::Result<Principal, Error>;

pub struct ResourceServer {
    pub cfg: ResourceServerConfig,
    globus: Globus,
    provisioner: Provisioner,
    cache: Mutex<HashMap<[u8; 32], (Instant, Outcome)>>,
}

fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unavailable, format!("Globus: {what}"))
}

fn domain_of(username: &str) -> Option<String> {
    username.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

fn identity(provider: &str, sub: &str, username: &str, name: &str, email: &str) -> NewIdentity {
    NewIdentity {
        provider: provider.to_string(),
        subject: sub.to_string(),
        username: username.to_string(),
        name: name.to_string(),
        email: email.to_string(),
    }
}

impl ResourceServer {
    pub fn new(cfg: ResourceServerConfig, http: reqwest::Client, provisioner: Provisioner) -> ResourceServer {
        let mut globus = Globus::new(http, cfg.auth_url(), cfg.auth_url()).with_groups_url(cfg.groups_url());
        // These calls are made while a request waits: retry briefly.
        globus.retry = Retry { attempts: 3, first: Duration::from_millis(100), max: Duration::from_secs(1) };
        ResourceServer { cfg, globus, provisioner, cache: Mutex::new(HashMap::new()) }
    }

    fn secret(&self) -> &str {
        self.cfg.client_secret.as_deref().unwrap_or_default()
    }

    /// Refuses a configuration that contradicts what Globus Auth says of its policies.
    pub async fn check_policies(&self) -> anyhow::Result<()> {
        let allowed: BTreeSet<String> = self.cfg.allowed_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        for id in &self.cfg.policies {
            let p = self.globus.policy(&self.cfg.client_id, self.secret(), id).await.map_err(|e| match e.status() {
                Some(s) => anyhow::anyhow!(
                    "resource_server: Globus Auth answered {s} for policy {id}: check the id in `policies`"
                ),
                None => anyhow::anyhow!("resource_server: cannot check policy {id} at {}: {e}", self.cfg.auth_url()),
            })?;
            let name = if p.display_name.is_empty() { id.as_str() } else { p.display_name.as_str() };
            if !p.high_assurance {
                anyhow::bail!(
                    "resource_server: policy {id} ({name}) is not high-assurance at Globus: make it high-assurance \
                     there, or remove it from `policies`"
                );
            }
            let domains: BTreeSet<String> =
                p.domain_constraints_include.iter().flatten().map(|d| d.to_ascii_lowercase()).collect();
            if domains != allowed {
                anyhow::bail!(
                    "resource_server: policy {id} ({name}) allows the domains {domains:?} but `allowed_domains` is \
                     {allowed:?}: make them the same"
                );
            }
        }
        Ok(())
    }

    /// Drops every cached outcome (when access rules changed).
    pub fn forget(&self) {
        self.cache.lock().unwrap().clear();
    }

    /// The Gantry user a Globus token stands for (cached by the token's hash).
    pub async fn principal(&self, token: &str) -> Result<Principal> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((until, outcome)) = self.cache.lock().unwrap().get(&key)
            && *until > Instant::now()
        {
            return outcome.clone();
        }
        let (outcome, ttl) = match self.evaluate(token).await {
            Ok((p, exp)) => {
                let left = (exp - now_unix()).max(0) as u64;
                (Ok(p), self.cfg.cache_secs.min(left))
            }
            // Outages are not remembered; refusals are, briefly.
            Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Internal) => return Err(e),
            Err(e) => (Err(e), self.cfg.failure_cache_secs),
        };
        if ttl > 0 {
            let mut cache = self.cache.lock().unwrap();
            if cache.len() >= CACHE_MAX {
                let now = Instant::now();
                cache.retain(|_, (until, _)| *until > now);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (Instant::now() + Duration::from_secs(ttl), outcome.clone()));
        }
        outcome
    }

    async fn evaluate(&self, token: &str) -> Result<(Principal, i64)> {
        let cfg = &self.cfg;
        let t: Introspection = self
            .globus
            .introspect(&cfg.client_id, self.secret(), token, "session_info,identity_set_detail", &cfg.policies)
            .await
            .map_err(|e| match e.status() {
                Some(s) => unavailable(format!("token introspection answered {s}")),
                None => unavailable(format!("cannot reach Globus Auth: {e}")),
            })?;
        if !t.active || t.exp <= now_unix() {
            return Err(Error::unauthorized("the Globus token is not active: it expired or was revoked"));
        }
        if !t.aud.contains(&cfg.client_id) {
            return Err(Error::unauthorized(format!(
                "the Globus token was not issued for Gantry: request the scope {}",
                cfg.scope()
            )));
        }
        let (sub, username) = (&t.identity.sub, &t.identity.username);
        let is_service = username.ends_with("@clients.auth.globus.org") || t.client_id == *sub;
        if is_service {
            if !cfg.allowed_clients.iter().any(|c| c == sub || *c == t.client_id) {
                return Err(Error::denied(format!(
                    "service identity {username} may not use Gantry: add its client id to allowed_clients"
                )));
            }
            let user = self
                .provisioner
                .provision(&[identity(&cfg.provider, sub, username, &t.identity.name, "")], None)
                .await?;
            return Ok((user.principal(TokenScope::Write), t.exp));
        }
        self.check_session(&t)?;
        let groups = self.groups(token).await;
        if !cfg.required_groups.is_empty() {
            let groups = groups.as_ref().map_err(|e| e.clone())?;
            let missing: Vec<&String> = cfg.required_groups.iter().filter(|g| !groups.contains(g)).collect();
            if !missing.is_empty() {
                return Err(Error::denied(format!(
                    "membership in the Globus group(s) {} is required",
                    missing.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let mut ids = vec![identity(&cfg.provider, sub, username, &t.identity.name, &t.identity.email)];
        for d in t.identity_set_detail.iter().filter(|d| d.sub != *sub && !d.sub.is_empty()) {
            ids.push(identity(&cfg.provider, &d.sub, &d.username, &d.name, &d.email));
        }
        let user = self.provisioner.provision(&ids, groups.ok().as_deref()).await?;
        Ok((user.principal(TokenScope::Write), t.exp))
    }

    /// The session must include an identity from an allowed domain and meet every
    /// policy; otherwise a Globus Auth requirements error says how to sign in again.
    fn check_session(&self, t: &Introspection) -> Result<()> {
        let cfg = &self.cfg;
        let username_of = |id: &str| t.identity_set_detail.iter().find(|d| d.sub == id).map(|d| d.username.clone());
        let mut params = serde_json::Map::new();
        if let Some(m) = &cfg.session_message {
            params.insert("session_message".into(), json!(m));
        }
        if !cfg.allowed_domains.is_empty() {
            let allowed: Vec<String> = cfg.allowed_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
            let ok = t
                .session_info
                .authentications
                .keys()
                .filter_map(|id| {
                    username_of(id).or_else(|| (*id == t.identity.sub).then(|| t.identity.username.clone()))
                })
                .filter_map(|u| domain_of(&u))
                .any(|d| allowed.contains(&d));
            if !ok {
                params.insert("session_required_single_domain".into(), json!(allowed));
                return Err(Error::reauthenticate(
                    format!("sign in again with an identity from {}", allowed.join(" or ")),
                    Value::Object(params),
                ));
            }
        }
        let failing: Vec<&String> =
            cfg.policies.iter().filter(|p| !t.policy_evaluations.get(*p).is_some_and(|e| e.evaluation)).collect();
        if !failing.is_empty() {
            params.insert("session_required_policies".into(), json!(failing));
            if !cfg.allowed_domains.is_empty() {
                params.insert("session_required_single_domain".into(), json!(cfg.allowed_domains));
            }
            return Err(Error::reauthenticate(
                "this server requires a recent sign-in that meets its authentication policy",
                Value::Object(params),
            ));
        }
        Ok(())
    }

    /// The user's Globus groups, through a dependent token for Groups.
    async fn groups(&self, token: &str) -> Result<Vec<String>> {
        let no_dependency = "no dependent token for Groups: give Gantry's scope a dependency on Groups";
        let tokens =
            self.globus.dependent_tokens(&self.cfg.client_id, self.secret(), token).await.map_err(|e| {
                match e.status() {
                    Some(s) => unavailable(format!(
                        "no dependent token for Groups ({s}): give Gantry's scope a dependency on Groups"
                    )),
                    None => unavailable(format!("cannot reach Globus Auth: {e}")),
                }
            })?;
        let groups_token = tokens
            .iter()
            .find(|t| t.resource_server.as_deref() == Some(GROUPS_RS))
            .map(|t| t.access_token.as_str())
            .ok_or_else(|| unavailable(no_dependency))?;
        let groups = self.globus.my_groups(groups_token).await.map_err(|e| match e.status() {
            Some(s) => unavailable(format!("Globus Groups answered {s}")),
            None => unavailable(format!("cannot reach Globus Groups: {e}")),
        })?;
        Ok(groups.into_iter().map(|g| g.id).collect())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn domains() {
        assert_eq!(super::domain_of("alice@Uni.EDU").as_deref(), Some("uni.edu"));
        assert_eq!(super::domain_of("alice"), None);
    }
}
