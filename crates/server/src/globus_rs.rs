//! Gantry as a Globus resource server: a Globus access token issued for Gantry's scope
//! is introspected (with session info and the configured authentication policies),
//! checked, mapped to a Gantry user and cached.
//!
//! The checks, in order: the token is active and unexpired; its audience is Gantry;
//! service identities (client credentials) must be listed; the session includes an
//! identity from an allowed domain; every policy evaluates true; the user belongs to
//! every required group (asked of Globus Groups through a dependent token).

use crate::config::ResourceServerConfig;
use crate::state::AppState;
use gantry_domain::{Error, ErrorKind, Principal, Result, TokenScope, time::now_unix};
use gantry_store::NewIdentity;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most this many token outcomes are cached.
const CACHE_MAX: usize = 10_000;

type Outcome = std::result::Result<Principal, Error>;

pub struct ResourceServer {
    pub cfg: ResourceServerConfig,
    http: reqwest::Client,
    cache: Mutex<HashMap<[u8; 32], (Instant, Outcome)>>,
}

fn unavailable(what: impl std::fmt::Display) -> Error {
    Error::new(ErrorKind::Unavailable, format!("Globus: {what}"))
}

fn domain_of(username: &str) -> Option<String> {
    username.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase())
}

impl ResourceServer {
    pub fn new(cfg: ResourceServerConfig, http: reqwest::Client) -> ResourceServer {
        ResourceServer { cfg, http, cache: Mutex::new(HashMap::new()) }
    }

    fn secret(&self) -> &str {
        self.cfg.client_secret.as_deref().unwrap_or_default()
    }

    /// Refuses a configuration that contradicts what Globus Auth says of its policies.
    pub async fn check_policies(&self) -> anyhow::Result<()> {
        let allowed: std::collections::BTreeSet<String> =
            self.cfg.allowed_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
        for id in &self.cfg.policies {
            let url = format!("{}/v2/api/policies/{id}", self.cfg.auth_url());
            let r = self
                .http
                .get(&url)
                .basic_auth(&self.cfg.client_id, Some(self.secret()))
                .send()
                .await
                .map_err(|e| anyhow::anyhow!("resource_server: cannot check policy {id} at {url}: {e}"))?;
            if !r.status().is_success() {
                anyhow::bail!(
                    "resource_server: Globus Auth answered {} for policy {id}: check the id in `policies`",
                    r.status()
                );
            }
            let doc: Value = r.json().await?;
            let p = &doc["policy"];
            let name = p["display_name"].as_str().unwrap_or(id);
            if p["high_assurance"] != true {
                anyhow::bail!(
                    "resource_server: policy {id} ({name}) is not high-assurance at Globus: make it high-assurance \
                     there, or remove it from `policies`"
                );
            }
            let domains: std::collections::BTreeSet<String> = p["domain_constraints_include"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d.as_str().map(str::to_ascii_lowercase))
                .collect();
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
    pub async fn principal(&self, st: &AppState, token: &str) -> Result<Principal> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((until, outcome)) = self.cache.lock().unwrap().get(&key)
            && *until > Instant::now()
        {
            return outcome.clone();
        }
        let (outcome, ttl) = match self.evaluate(st, token).await {
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

    async fn evaluate(&self, st: &AppState, token: &str) -> Result<(Principal, i64)> {
        let cfg = &self.cfg;
        let mut form = vec![("token", token.to_string()), ("include", "session_info,identity_set_detail".into())];
        if !cfg.policies.is_empty() {
            form.push(("authentication_policies", cfg.policies.join(",")));
        }
        let url = format!("{}/v2/oauth2/token/introspect", cfg.auth_url());
        let r = self
            .http
            .post(&url)
            .basic_auth(&cfg.client_id, Some(self.secret()))
            .form(&form)
            .send()
            .await
            .map_err(|e| unavailable(format!("cannot reach Globus Auth: {e}")))?;
        if !r.status().is_success() {
            return Err(unavailable(format!("token introspection answered {}", r.status())));
        }
        let t: Value = r.json().await.map_err(|e| unavailable(format!("introspection: {e}")))?;
        let exp = t["exp"].as_i64().unwrap_or(0);
        if t["active"] != true || exp <= now_unix() {
            return Err(Error::unauthorized("the Globus token is not active: it expired or was revoked"));
        }
        let aud_ok = t["aud"].as_array().is_some_and(|a| a.iter().any(|x| x.as_str() == Some(&cfg.client_id)))
            || t["aud"].as_str() == Some(&cfg.client_id);
        if !aud_ok {
            return Err(Error::unauthorized(format!(
                "the Globus token was not issued for Gantry: request the scope {}",
                cfg.scope()
            )));
        }
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let sub = s(&t, "sub");
        let username = s(&t, "username");
        let is_service = username.ends_with("@clients.auth.globus.org") || s(&t, "client_id") == sub;
        if is_service {
            if !cfg.allowed_clients.iter().any(|c| *c == sub || *c == s(&t, "client_id")) {
                return Err(Error::denied(format!(
                    "service identity {username} may not use Gantry: add its client id to allowed_clients"
                )));
            }
            let id = NewIdentity {
                provider: cfg.provider.clone(),
                subject: sub,
                username,
                name: s(&t, "name"),
                email: "".into(),
            };
            let user = st.provision(&[id], None).await?;
            return Ok((principal(&user), exp));
        }
        // Which identities the session authenticated, and their domains.
        let details: Vec<&Value> = t["identity_set_detail"].as_array().into_iter().flatten().collect();
        let username_of = |id: &str| details.iter().find(|d| d["sub"] == id).map(|d| s(d, "username"));
        let authenticated: Vec<String> =
            t["session_info"]["authentications"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let mut params = serde_json::Map::new();
        if let Some(m) = &cfg.session_message {
            params.insert("session_message".into(), json!(m));
        }
        if !cfg.allowed_domains.is_empty() {
            let allowed: Vec<String> = cfg.allowed_domains.iter().map(|d| d.to_ascii_lowercase()).collect();
            let ok = authenticated
                .iter()
                .filter_map(|id| username_of(id).or_else(|| (*id == sub).then(|| username.clone())))
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
            cfg.policies.iter().filter(|p| t["policy_evaluations"][p.as_str()]["evaluation"] != true).collect();
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
        let mut ids = vec![NewIdentity {
            provider: cfg.provider.clone(),
            subject: sub.clone(),
            username: username.clone(),
            name: s(&t, "name"),
            email: s(&t, "email"),
        }];
        for d in &details {
            if s(d, "sub") != sub && !s(d, "sub").is_empty() {
                ids.push(NewIdentity {
                    provider: cfg.provider.clone(),
                    subject: s(d, "sub"),
                    username: s(d, "username"),
                    name: s(d, "name"),
                    email: s(d, "email"),
                });
            }
        }
        let user = st.provision(&ids, groups.ok().as_deref()).await?;
        Ok((principal(&user), exp))
    }

    /// The user's Globus groups, through a dependent token for Groups.
    async fn groups(&self, token: &str) -> Result<Vec<String>> {
        let cfg = &self.cfg;
        let r = self
            .http
            .post(format!("{}/v2/oauth2/token", cfg.auth_url()))
            .basic_auth(&cfg.client_id, Some(self.secret()))
            .form(&[("grant_type", "urn:globus:auth:grant_type:dependent_token"), ("token", token)])
            .send()
            .await
            .map_err(|e| unavailable(format!("cannot reach Globus Auth: {e}")))?;
        if !r.status().is_success() {
            return Err(unavailable(format!(
                "no dependent token for Groups ({}): give Gantry's scope a dependency on Groups",
                r.status()
            )));
        }
        let tokens: Value = r.json().await.map_err(|e| unavailable(e.to_string()))?;
        let groups_token = tokens
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["resource_server"] == "groups.api.globus.org")
            .and_then(|t| t["access_token"].as_str())
            .ok_or_else(|| unavailable("no dependent token for Groups: give Gantry's scope a dependency on Groups"))?;
        let r = self
            .http
            .get(format!("{}/v2/groups/my_groups", cfg.groups_url()))
            .bearer_auth(groups_token)
            .send()
            .await
            .map_err(|e| unavailable(format!("cannot reach Globus Groups: {e}")))?;
        if !r.status().is_success() {
            return Err(unavailable(format!("Globus Groups answered {}", r.status())));
        }
        let v: Vec<Value> = r.json().await.map_err(|e| unavailable(e.to_string()))?;
        Ok(v.iter().filter_map(|g| g["id"].as_str().map(str::to_string)).collect())
    }
}

fn principal(u: &gantry_store::User) -> Principal {
    Principal { user_id: u.id, username: u.username.clone(), is_admin: u.is_admin, scope: TokenScope::Write }
}

#[cfg(test)]
mod tests {
    #[test]
    fn domains() {
        assert_eq!(super::domain_of("alice@Uni.EDU").as_deref(), Some("uni.edu"));
        assert_eq!(super::domain_of("alice"), None);
    }
}
