//! Issuing and reading tokens, clients and identities: what the endpoints share.

use super::records::*;
use crate::config::{Client, Identity};
use crate::error::{GResult, oauth_error};
use crate::scopes::{self, AUTH_RS};
use crate::service::Service;
use crate::store::{now, random_token};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

// ---------- helpers on the service ----------

/// What a token response is issued for.
pub(super) struct Grant<'a> {
    pub(super) identity: &'a str,
    pub(super) scope: &'a str,
    pub(super) session: Option<&'a str>,
    /// Issue refresh tokens too.
    pub(super) offline: bool,
    /// Add an id_token (with this nonce) when `openid` is among the scopes.
    pub(super) id_token: Option<Option<String>>,
    pub(super) state: Option<&'a str>,
}

impl Service {
    pub async fn client(&self, id: &str) -> Option<KnownClient> {
        if let Some(c) = self.config.clients.iter().find(|c| c.id == id) {
            return Some(known(c));
        }
        if id == crate::scopes::CLI_TEMPLATE_ID {
            // The globus CLI's own native client, whose instances it makes and whose
            // tokens it revokes at logout.
            return Some(KnownClient {
                id: id.into(),
                name: "Globus CLI".into(),
                secret_hash: None,
                redirect_uris: vec![],
                native: true,
                scopes: vec![],
                template_id: None,
            });
        }
        let inst: ClientInstance = self.db.get("client", id).await.ok()??;
        Some(KnownClient {
            id: inst.id,
            name: inst.name,
            secret_hash: Some(inst.secret_hash),
            redirect_uris: vec![],
            native: true,
            scopes: vec![],
            template_id: Some(inst.template_id),
        })
    }

    /// Whether `client` may revoke `token`: it concerns the client (see
    /// [`KnownClient::concerns`]), or was issued to an instance of it (the CLI revokes
    /// its instance's tokens with its native client).
    pub(super) async fn may_revoke(&self, client: &KnownClient, token: &Token) -> bool {
        if client.concerns(token) {
            return true;
        }
        let inst: Option<ClientInstance> = self.db.get("client", &token.client_id).await.ok().flatten();
        inst.is_some_and(|i| i.template_id == client.id)
    }

    /// The client a call comes from: its secret in HTTP Basic (`client_secret_basic`) or
    /// in the form beside `client_id` (`client_secret_post`), or a public client naming
    /// itself with `client_id`. Using both ways at once is refused (RFC 6749 2.3).
    pub async fn client_auth(
        &self,
        headers: &HeaderMap,
        client_id: Option<&str>,
        client_secret: Option<&str>,
    ) -> GResult<KnownClient> {
        let failed = || oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed");
        let credentials = match (basic(headers), client_secret) {
            (Some(_), Some(_)) => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "send the client secret either in HTTP Basic or in the form, not both",
                ));
            }
            (Some((id, secret)), None) => Some((id, secret)),
            (None, Some(secret)) => {
                let id = client_id.ok_or_else(|| {
                    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "client_secret needs client_id")
                })?;
                Some((id.to_string(), secret.to_string()))
            }
            (None, None) => None,
        };
        if let Some((id, secret)) = credentials {
            let c = self
                .client(&id)
                .await
                .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"))?;
            return match &c.secret_hash {
                Some(h) if constant_eq(h, &sha_hex(&secret)) => Ok(c),
                _ => Err(failed()),
            };
        }
        if let Some(id) = client_id {
            let c = self
                .client(id)
                .await
                .ok_or_else(|| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client"))?;
            if c.secret_hash.is_none() {
                return Ok(c);
            }
        }
        Err(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication required"))
    }

    pub(super) fn base(&self) -> &str {
        &self.base_url
    }

    /// Looks up an unexpired token by its value.
    pub async fn token_record(&self, value: &str) -> Option<Token> {
        let t: Token = self.db.get("token", &sha_hex(value)).await.ok()??;
        if t.expires_at.is_some_and(|e| e <= now()) {
            return None;
        }
        Some(t)
    }

    pub(super) async fn mint(&self, t: &Token) -> String {
        let value = format!("gl{}", random_token(24));
        let _ = self.db.put("token", &sha_hex(&value), t, t.expires_at.map(|e| e + 60)).await;
        value
    }

    pub(super) fn lifetime(&self) -> i64 {
        self.config.access_token_lifetime.unwrap_or(172_800)
    }

    /// Issues one token per resource server for the scopes; the first answer is the
    /// auth.globus.org one when present, the rest go in `other_tokens`.
    pub(super) async fn token_response(&self, client: &KnownClient, g: Grant<'_>) -> GResult<Value> {
        let parsed = scopes::parse(g.scope).map_err(|e| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &e))?;
        let mut by_rs: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in &parsed {
            let rs = scopes::resource_server(&self.config, &s.name).ok_or_else(|| {
                oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", &format!("unknown scope {}", s.name))
            })?;
            by_rs.entry(rs).or_default().push(s.render());
        }
        if by_rs.is_empty() {
            return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", "no scope requested"));
        }
        let mut order: Vec<String> = by_rs.keys().cloned().collect();
        if let Some(p) = order.iter().position(|r| r == AUTH_RS) {
            let a = order.remove(p);
            order.insert(0, a);
        }
        let mut docs = vec![];
        for rs in &order {
            let scope = by_rs[rs].join(" ");
            let t = Token {
                refresh: false,
                client_id: client.id.clone(),
                identity: g.identity.to_string(),
                resource_server: rs.clone(),
                scope: scope.clone(),
                session: g.session.map(str::to_string),
                expires_at: Some(now() + self.lifetime()),
                issued_at: now(),
            };
            let access = self.mint(&t).await;
            let mut d = json!({"access_token": access, "scope": scope, "resource_server": rs,
                "expires_in": self.lifetime(), "token_type": "Bearer"});
            if g.offline {
                let r = Token { refresh: true, expires_at: None, ..t };
                d["refresh_token"] = json!(self.mint(&r).await);
            } else {
                d["refresh_token"] = Value::Null;
            }
            if let Some(s) = g.state {
                d["state"] = json!(s);
            }
            docs.push((access, d));
        }
        let (first_access, mut first) = docs.remove(0);
        if let Some(nonce) = g.id_token
            && first["resource_server"] == AUTH_RS
            && first["scope"].as_str().is_some_and(|s| s.split(' ').any(|x| x == "openid"))
        {
            first["id_token"] = json!(self.id_token(client, g.identity, g.session, nonce, &first_access).await);
        }
        first["other_tokens"] = Value::Array(docs.into_iter().map(|(_, d)| d).collect());
        Ok(first)
    }

    pub(super) async fn id_token(
        &self,
        client: &KnownClient,
        identity: &str,
        session: Option<&str>,
        nonce: Option<String>,
        access: &str,
    ) -> String {
        let cfg = &self.config;
        let i = cfg.identity_by_id(identity).expect("token for a declared identity");
        let idp = cfg.idp_for(i);
        let sess: Option<Session> = match session {
            Some(s) => self.db.get("session", s).await.ok().flatten(),
            None => None,
        };
        let last = sess.as_ref().and_then(|s| s.authentications.get(identity)).map(|a| a.auth_time).unwrap_or(now());
        let h = Sha256::digest(access.as_bytes());
        let at_hash = URL_SAFE_NO_PAD.encode(&h[..16]);
        let mut claims = json!({
            "iss": self.base(), "sub": i.id, "aud": client.id, "iat": now(), "exp": now() + self.lifetime(), "nbf": now(),
            "at_hash": at_hash, "preferred_username": i.username, "name": i.name, "email": i.email,
            "organization": i.organization, "identity_provider": idp.id, "identity_provider_display_name": idp.display_name,
            "last_authentication": last,
            "identity_set": cfg.identity_set(i).iter().map(|x| self.identity_claims(x, sess.as_ref())).collect::<Vec<_>>(),
        });
        if let Some(n) = nonce {
            claims["nonce"] = json!(n);
        }
        for (k, v) in &i.claims {
            if claims.get(k).is_none() {
                claims[k] = json!(v);
            }
        }
        self.keys.sign(&claims)
    }

    pub(super) fn identity_claims(&self, i: &Identity, sess: Option<&Session>) -> Value {
        let idp = self.config.idp_for(i);
        json!({"sub": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
            "identity_provider": idp.id, "identity_provider_display_name": idp.display_name,
            "last_authentication": sess.and_then(|s| s.authentications.get(&i.id)).map(|a| a.auth_time)})
    }

    /// Identity record as `/v2/api/identities` shows it.
    pub fn identity_doc(&self, i: &Identity) -> Value {
        let idp = self.config.idp_for(i);
        json!({"id": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
            "identity_provider": idp.id, "identity_type": "login", "status": "used"})
    }

    /// The identity a bearer token acts for, if the token is valid for `rs`.
    pub async fn bearer(&self, headers: &HeaderMap, rs: &str) -> Option<Token> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let t = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))?.trim();
        let rec = self.token_record(t).await?;
        (!rec.refresh && rec.resource_server == rs).then_some(rec)
    }
}

pub(super) fn known(c: &Client) -> KnownClient {
    KnownClient {
        id: c.id.clone(),
        name: c.name.clone(),
        secret_hash: c.secret.as_deref().map(sha_hex),
        redirect_uris: c.redirect_uris.clone(),
        native: c.secret.is_none(),
        scopes: c.scopes.clone(),
        template_id: None,
    }
}

pub(crate) fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let raw = STANDARD.decode(v.strip_prefix("Basic ")?.trim()).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((percent_decode(u), percent_decode(p)))
}

use gantry_globus::urldecode as percent_decode;

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

pub(crate) fn set_cookie(r: &mut Response, name: &str, value: &str, secure: bool) {
    let c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax{}", if secure { "; Secure" } else { "" });
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}
