//! Signing in a browser: local passwords, OpenID Connect providers (Globus and generic)
//! and a facility's user office; and signing out, which revokes the provider tokens the
//! session held.

use super::flow::{Begin, Callback, Flows};
use super::limiter::{self, LoginLimiter};
use super::oidc::Oidc;
use super::passwords;
use super::provision::Provisioner;
use super::sessions::{Sessions, WebSession};
use crate::config::{Config, ProviderKind};
use crate::facility::{Facility, LinkedBy};
use gantry_domain::{Error, ErrorKind, Result};
use gantry_globus::{Globus, TokenResponse};
use gantry_store::{NewIdentity, Store, User};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

const GROUPS_RS: &str = "groups.api.globus.org";

/// Signing in and out; the composition root fills in what it uses.
#[derive(Clone)]
pub struct SignIn {
    pub(crate) store: Store,
    pub(crate) config: Arc<Config>,
    pub(crate) http: reqwest::Client,
    pub(crate) sessions: Sessions,
    pub(crate) flows: Flows,
    pub(crate) provisioner: Provisioner,
    pub(crate) limiter: Arc<LoginLimiter>,
    pub(crate) oidc: Arc<BTreeMap<String, Arc<Oidc>>>,
    pub(crate) public_url: Arc<str>,
    /// The facility, whose user office and Umbrella sign-ins name facility users.
    pub(crate) facility: Option<Facility>,
}

/// A sign-in provider as the sign-in page offers it.
#[derive(Debug, Clone)]
pub struct ProviderChoice {
    pub id: String,
    pub title: String,
    pub kind: ProviderKind,
}

/// A browser that has just signed in.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The new session's id (the cookie's value).
    pub session: String,
    pub user: User,
    /// Where to go now (a local path).
    pub return_to: String,
}

fn locked(wait_secs: u64) -> Error {
    Error::new(
        ErrorKind::TooManyRequests,
        match wait_secs {
            s if s < 90 => format!("Too many failed sign-ins for this account; try again in {s} seconds."),
            s => format!("Too many failed sign-ins for this account; try again in {} minutes.", s.div_ceil(60)),
        },
    )
}

impl SignIn {
    /// The providers the sign-in page offers, and whether local passwords are accepted.
    /// Where to end the Globus session too, for each Globus provider: Globus Auth's
    /// logout page, coming back to `back`.
    pub fn globus_logouts(&self, back: &str) -> Vec<(String, String)> {
        let enc = gantry_domain::url::escape;
        self.config
            .providers
            .iter()
            .filter(|p| p.kind == ProviderKind::Globus)
            .map(|p| {
                let client = p.client_id.clone().unwrap_or_default();
                let url = format!(
                    "{}/v2/web/logout?client_id={}&redirect_uri={}&redirect_name=Gantry",
                    p.issuer(),
                    enc(&client),
                    enc(back)
                );
                (p.title().to_string(), url)
            })
            .collect()
    }

    pub fn providers(&self) -> (Vec<ProviderChoice>, bool) {
        let list = self
            .config
            .providers
            .iter()
            .map(|p| ProviderChoice { id: p.id.clone(), title: p.title().to_string(), kind: p.kind })
            .collect();
        (list, self.config.password_login)
    }

    /// A local account's password. Unknown users cost the same as known ones.
    pub async fn password(&self, username: &str, password: &str, from: Option<IpAddr>) -> Result<SignedIn> {
        if !self.config.password_login {
            return Err(Error::denied("password sign-in is turned off on this server"));
        }
        let username = username.trim();
        let account = limiter::account("password", username);
        if let Some(wait) = self.limiter.locked(&account, from) {
            return Err(locked(wait));
        }
        let found = self.store.password_hash(username).await?;
        let hash = found.as_ref().and_then(|(_, h)| h.clone());
        let ok = passwords::verify_blocking(password.to_string(), hash).await;
        let Some((user, _)) = found.filter(|_| ok) else {
            self.limiter.failed(&account, from);
            return Err(Error::unauthorized("Wrong username or password."));
        };
        self.limiter.succeeded(&account, from);
        self.session_for(user, "password", None, "/").await
    }

    /// A facility's user office: the password goes to the office, and the identity is
    /// the one the office confirms, never the one typed in.
    pub async fn user_office(
        &self,
        provider: &str,
        username: &str,
        password: &str,
        from: Option<IpAddr>,
    ) -> Result<SignedIn> {
        let cfg = self
            .config
            .provider(provider)
            .filter(|p| p.kind == ProviderKind::UserOffice)
            .ok_or_else(|| Error::not_found(format!("no sign-in provider {provider:?}")))?;
        let url = cfg.url.clone().unwrap_or_default();
        let office = cfg.title().to_string();
        let username = username.trim();
        let account = limiter::account(provider, username);
        if let Some(wait) = self.limiter.locked(&account, from) {
            return Err(locked(wait));
        }
        let unavailable = |m: String| Error::new(ErrorKind::Unavailable, m);
        let r = self
            .http
            .post(&url)
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .map_err(|e| unavailable(format!("cannot reach {office}: {e}")))?;
        match r.status().as_u16() {
            200 => {}
            401 | 403 => {
                self.limiter.failed(&account, from);
                return Err(Error::unauthorized(format!("{office} did not accept that username and password.")));
            }
            s => return Err(unavailable(format!("{office} answered {s}; try again later"))),
        }
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let s = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().trim().to_string();
        let confirmed = s("username");
        if confirmed.is_empty() {
            return Err(unavailable(format!("{office} accepted the password but named no user")));
        }
        let id = NewIdentity {
            provider: provider.to_string(),
            subject: [s("id"), confirmed.clone()].into_iter().find(|x| !x.is_empty()).unwrap_or_default(),
            username: confirmed,
            name: s("name"),
            email: s("email"),
        };
        self.limiter.succeeded(&account, from);
        let facility_user = id.username.clone();
        let user = self.provisioner.provision(&[id], None).await?;
        if let Some(f) = self.facility.as_ref().filter(|f| f.cfg.office_provider.as_deref() == Some(provider)) {
            f.link(user.id, &facility_user, LinkedBy::Office).await?;
        }
        self.session_for(user, provider, None, "/").await
    }

    fn provider(&self, id: &str) -> Result<&Arc<Oidc>> {
        self.oidc.get(id).ok_or_else(|| Error::not_found(format!("no sign-in provider {id:?}")))
    }

    fn redirect_uri(&self, provider: &str) -> String {
        format!("{}/auth/callback/{provider}", self.public_url)
    }

    /// Where to send the browser to sign in at an OpenID Connect provider.
    /// `fresh`: the browser signed out of Gantry, so the provider is asked for a new
    /// sign-in (`prompt=login`) rather than reusing whoever is still signed in there.
    pub async fn begin(&self, provider: &str, browser: &str, return_to: &str, fresh: bool) -> Result<String> {
        let oidc = self.provider(provider)?;
        let redirect_uri = self.redirect_uri(provider);
        let extra: &[(&str, &str)] = if fresh { &[("prompt", "login")] } else { &[] };
        let b = Begin { key: provider, browser, return_to, redirect_uri: &redirect_uri, extra, more_scopes: &[] };
        self.flows.begin(oidc, &b).await
    }

    /// The provider sent the browser back: finish the flow, provision the user (with
    /// Globus's linked identities and groups) and start a session.
    pub async fn finish(&self, provider: &str, cb: &Callback, browser: &str) -> Result<SignedIn> {
        let oidc = self.provider(provider)?;
        let restart = "start again from the sign-in page";
        let done = self.flows.finish(oidc, provider, cb, browser, &self.redirect_uri(provider), restart).await?;
        let claims = Value::Object(done.claims);
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let sub = s(&claims, "sub");
        if sub.is_empty() {
            return Err(Error::unauthorized("the ID token names no subject"));
        }
        let username = [s(&claims, "preferred_username"), s(&claims, "email"), sub.clone()]
            .into_iter()
            .find(|x| !x.is_empty())
            .unwrap_or_default();
        let id_of = |v: &Value, sub: String, username: String| NewIdentity {
            provider: provider.to_string(),
            subject: sub,
            username,
            name: s(v, "name"),
            email: s(v, "email"),
        };
        let mut ids = vec![id_of(&claims, sub.clone(), username)];
        let mut groups = None;
        let mut kept = None;
        if oidc.cfg.kind == ProviderKind::Globus {
            // Globus names the linked identities of the same person.
            for i in claims["identity_set"].as_array().into_iter().flatten() {
                if s(i, "sub") != sub && !s(i, "sub").is_empty() {
                    ids.push(id_of(i, s(i, "sub"), s(i, "username")));
                }
            }
            groups = self.my_groups(&oidc.cfg.groups_url(), &done.tokens).await;
            kept = Some(done.tokens.clone());
        }
        // Umbrella: the user office names the facility user behind the EAA hash; a
        // Gantry user already linked to that facility user is the same person.
        let umbrella = self.umbrella_login(provider, &claims).await?;
        if let Some((f, login)) = &umbrella
            && let Some(uid) = f.user_of_account(login).await?
        {
            self.store.link_identity(uid, &ids[0]).await?;
        }
        let user = self.provisioner.provision(&ids, groups.as_deref()).await?;
        if let Some((f, login)) = &umbrella {
            f.link(user.id, login, LinkedBy::Umbrella).await?;
        }
        tracing::info!(user = user.username, provider, "signed in");
        self.session_for(user, provider, kept.as_ref(), &done.return_to).await
    }

    /// For the Umbrella provider: the facility user the office names for the EAA hash
    /// of the ID token (never anything the browser sent).
    async fn umbrella_login(&self, provider: &str, claims: &Value) -> Result<Option<(Facility, String)>> {
        let Some(f) = self.facility.as_ref().filter(|f| f.cfg.umbrella_provider.as_deref() == Some(provider)) else {
            return Ok(None);
        };
        let claim = &f.cfg.eaa_hash_claim;
        let hash = claims.get(claim).and_then(Value::as_str).map(str::trim).unwrap_or_default();
        if hash.is_empty() || hash.len() > 512 {
            return Err(Error::denied(format!("Umbrella sent no EAA hash (the {claim:?} claim) for this identity")));
        }
        match f.office().login_of_hash(hash).await? {
            Some(login) => Ok(Some((f.clone(), login))),
            None => Err(Error::denied(format!(
                "{} does not know this Umbrella identity: link it to your account at the user office, then sign in again",
                f.cfg.name
            ))),
        }
    }

    async fn session_for(
        &self,
        user: User,
        provider: &str,
        tokens: Option<&TokenResponse>,
        return_to: &str,
    ) -> Result<SignedIn> {
        let session = self.sessions.start(&user, provider, tokens).await?;
        Ok(SignedIn { session, user, return_to: return_to.to_string() })
    }

    /// The ids of the user's Globus groups, through the groups token of the sign-in;
    /// None (groups left as they were) if Groups cannot be asked.
    async fn my_groups(&self, groups_url: &str, tokens: &TokenResponse) -> Option<Vec<String>> {
        let token = tokens.for_server(GROUPS_RS)?.access_token.as_str();
        let globus = Globus::for_groups(self.http.clone(), groups_url);
        match globus.my_groups(token).await {
            Ok(v) => {
                let named: Vec<(String, String)> =
                    v.iter().filter_map(|g| Some((g.id.clone(), g.name.clone().filter(|n| !n.is_empty())?))).collect();
                if let Err(e) = self.store.set_group_names(&named).await {
                    tracing::warn!("the names of Globus groups were not kept: {e}");
                }
                Some(v.into_iter().map(|g| g.id).collect())
            }
            Err(e) => {
                tracing::warn!("Globus Groups did not list the groups: {e}");
                None
            }
        }
    }

    /// Ends the session and revokes the provider tokens it held.
    pub async fn sign_out(&self, s: &WebSession) -> Result<()> {
        let tokens = self.sessions.end(s).await?;
        if let (Some(tokens), Some(oidc)) = (tokens, self.oidc.get(&s.row.provider)) {
            for v in tokens.secrets() {
                oidc.revoke(v).await;
            }
        }
        Ok(())
    }
}
