//! A user's Globus connection: connecting (the one authorization-code flow, asking for
//! Transfer and any `data_access` consents or sign-in a collection's policy wants), the
//! sealed tokens refreshed with a minute to spare, status, and disconnecting.

use super::{CONNECT, TRANSFER_RS, TRANSFER_SCOPE, Transfers, from_globus};
use crate::identity::flow::{Begin, Callback};
use crate::identity::sessions::WebSession;
use gantry_api_types::GlobusStatus;
use gantry_domain::{Error, LinkStatus, Result, time};
use gantry_globus::TokenResponse;
use gantry_store::GlobusLink;
use serde_json::Value;

/// What a connection should ask Globus for, besides Transfer.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    /// A local path to go back to.
    pub return_to: String,
    /// Transfer scopes with `data_access` dependencies Globus asked consent for.
    pub scopes: Vec<String>,
    /// What a collection's policy asks of the sign-in (from its GARE).
    pub policies: Vec<String>,
    pub domains: Vec<String>,
    pub message: Option<String>,
}

/// `/globus/connect?…` asking Globus for the sign-in that `params` (a GARE's
/// authorization parameters) require.
pub fn reauth_link(params: &Value) -> String {
    let list = |k: &str| -> Vec<String> {
        match &params[k] {
            Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect(),
            Value::String(s) => s.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect(),
            _ => vec![],
        }
    };
    let mut q: Vec<String> = vec![];
    for p in list("session_required_policies") {
        q.push(format!("policy={}", gantry_globus::urlencode(&p)));
    }
    for d in list("session_required_single_domain") {
        q.push(format!("domain={}", gantry_globus::urlencode(&d)));
    }
    if let Some(m) = params["session_message"].as_str() {
        q.push(format!("message={}", gantry_globus::urlencode(m)));
    }
    format!("/globus/connect?{}", q.join("&"))
}

/// A Transfer scope whose only dependencies are collections' `data_access` scopes.
pub fn consent_scope_ok(s: &str) -> bool {
    let Some(deps) = s.strip_prefix(&format!("{TRANSFER_SCOPE}[")).and_then(|r| r.strip_suffix(']')) else {
        return false;
    };
    deps.split_whitespace().all(|d| {
        let d = d.strip_prefix('*').unwrap_or(d);
        d.strip_prefix("https://auth.globus.org/scopes/")
            .and_then(|r| r.strip_suffix("/data_access"))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    })
}

/// The `data_access` consents a connection holds already (kept when reconnecting).
fn held_consents(tokens: &TokenResponse) -> Vec<String> {
    let scope = tokens.for_server(TRANSFER_RS).map(|t| t.scope.as_str()).unwrap_or_default();
    let mut out = vec![];
    for part in scope.split(['[', ']', ' ']) {
        let id = part.strip_prefix('*').unwrap_or(part);
        if id.starts_with("https://auth.globus.org/scopes/") && id.ends_with("/data_access") {
            let s = format!("{TRANSFER_SCOPE}[*{id}]");
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    out
}

impl Transfers {
    fn callback_uri(&self) -> String {
        format!("{}/globus/callback", self.public_url)
    }

    /// Where to send the signed-in user to connect Globus.
    pub async fn connect(&self, s: &WebSession, browser: &str, req: &ConnectRequest) -> Result<String> {
        if let Some(bad) = req.scopes.iter().find(|s| !consent_scope_ok(s)) {
            return Err(Error::invalid(format!("{bad:?} is not a Transfer scope with data_access consents")));
        }
        let user_id = s.user().id;
        let mut more = req.scopes.clone();
        if let Some(link) = self.store.globus_link(user_id).await?
            && let Ok(tokens) = self.sealer.open::<TokenResponse>(user_id, &link.tokens)
        {
            for s in held_consents(&tokens) {
                if !more.contains(&s) {
                    more.push(s);
                }
            }
        }
        // A policy's demands go to Globus, which asks the user to sign in accordingly.
        let (policies, domains) = (req.policies.join(","), req.domains.join(","));
        let mut extra: Vec<(&str, &str)> = vec![];
        if !policies.is_empty() {
            extra.push(("session_required_policies", &policies));
        }
        if !domains.is_empty() {
            extra.push(("session_required_single_domain", &domains));
        }
        if let Some(m) = &req.message {
            extra.push(("session_message", m));
        }
        if !extra.is_empty() {
            extra.push(("prompt", "login"));
        }
        let redirect_uri = self.callback_uri();
        let b = Begin {
            key: CONNECT,
            browser,
            return_to: &req.return_to,
            redirect_uri: &redirect_uri,
            extra: &extra,
            more_scopes: &more,
        };
        self.flows.begin(&self.oidc, &b).await
    }

    /// Globus sent the browser back: keep the tokens; returns where to go now.
    pub async fn connected(&self, s: &WebSession, cb: &Callback, browser: &str) -> Result<String> {
        let restart = "start again with Connect Globus";
        let done = self.flows.finish(&self.oidc, CONNECT, cb, browser, &self.callback_uri(), restart).await?;
        let transfer =
            done.tokens.for_server(TRANSFER_RS).ok_or_else(|| Error::denied("Globus granted no Transfer access"))?;
        let now = time::now_unix();
        let user_id = s.user().id;
        let claim = |k: &str| done.claims.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        self.store
            .put_globus_link(&GlobusLink {
                user_id,
                identity_id: claim("sub"),
                username: claim("preferred_username"),
                tokens: self.sealer.seal(user_id, &done.tokens)?,
                expires_at: now + transfer.expires_in.unwrap_or(0),
                status: LinkStatus::Ok,
                last_error: None,
                connected_at: now,
                refreshed_at: now,
            })
            .await?;
        Ok(done.return_to)
    }

    /// The user's Globus identity and a live Transfer token, refreshed if needed.
    pub(crate) async fn user_token(&self, user_id: i64) -> Result<(String, String)> {
        let link = self.store.globus_link(user_id).await?.ok_or_else(|| {
            Error::denied("connect your Globus account first (gantry globus connect, or /globus/connect)")
        })?;
        let tokens: TokenResponse = self.sealer.open(user_id, &link.tokens)?;
        let now = time::now_unix();
        let current = tokens.for_server(TRANSFER_RS).cloned().unwrap_or_default();
        if link.expires_at > now + 60 && !current.access_token.is_empty() {
            return Ok((link.identity_id, current.access_token));
        }
        let reconnect = LinkStatus::Reconnect;
        let Some(refresh) = current.refresh_token.as_deref() else {
            self.store.set_globus_status(user_id, reconnect, Some("the Globus token expired")).await?;
            return Err(Error::denied("your Globus connection expired: reconnect Globus"));
        };
        let fresh = match self.globus.refresh(&self.cfg.client_id, Some(self.secret()), refresh).await {
            Ok(v) => v,
            Err(e) if e.needs_reconnect() || e.status() == Some(400) => {
                self.store.set_globus_status(user_id, reconnect, Some(&e.to_string())).await?;
                return Err(Error::denied("Globus no longer accepts your connection: reconnect Globus"));
            }
            Err(e) => return Err(from_globus(e)),
        };
        let new = fresh.for_server(TRANSFER_RS).unwrap_or(&fresh);
        if new.access_token.is_empty() {
            return Err(Error::internal("refresh gave no token"));
        }
        let access = new.access_token.clone();
        // Keep the scope and the refresh token if Globus did not send them again.
        let tokens = TokenResponse {
            resource_server: Some(TRANSFER_RS.to_string()),
            access_token: access.clone(),
            refresh_token: new.refresh_token.clone().or_else(|| Some(refresh.to_string())),
            scope: if new.scope.is_empty() { current.scope.clone() } else { new.scope.clone() },
            expires_in: new.expires_in,
            id_token: None,
            other_tokens: vec![],
        };
        let link = GlobusLink {
            tokens: self.sealer.seal(user_id, &tokens)?,
            expires_at: now + new.expires_in.unwrap_or(0),
            status: LinkStatus::Ok,
            last_error: None,
            refreshed_at: now,
            ..link
        };
        self.store.put_globus_link(&link).await?;
        Ok((link.identity_id, access))
    }

    /// Whether the user is connected, and whether the connection works now.
    pub async fn status(&self, user_id: i64) -> Result<GlobusStatus> {
        let connect_url = format!("{}/globus/connect", self.public_url);
        let Some(_) = self.store.globus_link(user_id).await? else {
            return Ok(GlobusStatus {
                connected: false,
                healthy: None,
                status: None,
                identity_id: None,
                username: None,
                connected_at: None,
                expires_at: None,
                last_error: None,
                connect_url,
            });
        };
        // A connection is healthy if a Transfer token can be had now.
        let healthy = self.user_token(user_id).await.is_ok();
        let l = self.store.globus_link(user_id).await?.ok_or_else(|| Error::not_found("Globus was disconnected"))?;
        Ok(GlobusStatus {
            connected: true,
            healthy: Some(healthy),
            status: Some(l.status),
            identity_id: Some(l.identity_id),
            username: Some(l.username),
            connected_at: Some(time::rfc3339(l.connected_at)),
            expires_at: Some(time::rfc3339(l.expires_at)),
            last_error: l.last_error,
            connect_url,
        })
    }

    /// Whether the user has connected Globus (working or not).
    pub async fn is_connected(&self, user_id: i64) -> Result<bool> {
        Ok(self.store.globus_link(user_id).await?.is_some())
    }

    /// Forgets a user's Globus connection after revoking its tokens at Globus.
    pub async fn disconnect(&self, user_id: i64) -> Result<()> {
        let Some(l) = self.store.delete_globus_link(user_id).await? else {
            return Err(Error::not_found("no Globus account is connected"));
        };
        if let Ok(tokens) = self.sealer.open::<TokenResponse>(user_id, &l.tokens) {
            for v in tokens.secrets() {
                if let Err(e) = self.globus.revoke(&self.cfg.client_id, Some(self.secret()), v).await {
                    tracing::warn!("revoking a Globus token failed: {e}");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn consent_scopes() {
        let ok = "urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/abc-1/data_access]";
        assert!(super::consent_scope_ok(ok));
        assert!(!super::consent_scope_ok("urn:globus:auth:scope:transfer.api.globus.org:all"));
        assert!(!super::consent_scope_ok(
            "urn:globus:auth:scope:transfer.api.globus.org:all[https://auth.globus.org/scopes/x/all]"
        ));
        assert!(!super::consent_scope_ok("openid[https://auth.globus.org/scopes/x/data_access]"));
        let tokens = gantry_globus::TokenResponse {
            resource_server: Some("transfer.api.globus.org".into()),
            scope: "urn:globus:auth:scope:transfer.api.globus.org:all urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/e1/data_access]".into(),
            ..Default::default()
        };
        assert_eq!(
            super::held_consents(&tokens),
            ["urn:globus:auth:scope:transfer.api.globus.org:all[*https://auth.globus.org/scopes/e1/data_access]"]
        );
    }
}
