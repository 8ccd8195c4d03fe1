//! The token endpoint (authorization code with PKCE or client secret, refresh token,
//! client credentials, dependent tokens), validate, introspect and revoke.

use super::grants::*;
use super::records::*;
use crate::config::Identity;
use crate::error::{GResult, auth_error, oauth_error};
use crate::scopes::{self};
use crate::service::Service;
use crate::store::now;
use crate::wire::OAuthForm;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

// ---------- token endpoint ----------

/// The fields the OAuth endpoints (token, validate, introspect, revoke) read from their
/// forms; which of them a call needs depends on the grant.
#[derive(Debug, Default, Deserialize)]
pub(super) struct OAuthFields {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    token: Option<String>,
    access_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    include: Option<String>,
    authentication_policies: Option<String>,
}

impl OAuthFields {
    /// The client that sent this form (see [`Service::client_auth`]).
    async fn caller(&self, s: &Service, headers: &HeaderMap) -> GResult<KnownClient> {
        s.client_auth(headers, self.client_id.as_deref(), self.client_secret.as_deref()).await
    }
}

fn required<'a>(v: &'a Option<String>, name: &str) -> GResult<&'a str> {
    v.as_deref().ok_or_else(|| oauth_error(StatusCode::BAD_REQUEST, "invalid_request", &format!("{name} is required")))
}

pub(super) async fn token(
    State(s): State<Service>,
    headers: HeaderMap,
    OAuthForm(f): OAuthForm<OAuthFields>,
) -> GResult<Response> {
    let client = f.caller(&s, &headers).await?;
    let grant = required(&f.grant_type, "grant_type")?;
    match grant {
        "authorization_code" => {
            let code = required(&f.code, "code")?;
            let Some(c) = s.db.take::<Code>("code", code).await.ok().flatten() else {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown, expired or already used code",
                ));
            };
            if c.client_id != client.id || f.redirect_uri.as_ref() != Some(&c.redirect_uri) {
                let msg = "code was issued to another client or redirect_uri";
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", msg));
            }
            if let Some(ch) = &c.code_challenge {
                let v = f.code_verifier.as_deref().unwrap_or_default();
                let got = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                if v.len() < 43 || !constant_eq(&got, ch) {
                    return Err(oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "PKCE code_verifier does not match",
                    ));
                }
            } else if client.secret_hash.is_none() {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "public clients must use PKCE"));
            }
            let offline = c.access_type == "offline";
            let g = Grant {
                identity: &c.identity,
                scope: &c.scope,
                session: Some(&c.session),
                offline,
                id_token: Some(c.nonce.clone()),
                state: c.state.as_deref().or(Some("_default")),
            };
            Ok(axum::Json(s.token_response(&client, g).await?).into_response())
        }
        "refresh_token" => {
            let rt = required(&f.refresh_token, "refresh_token")?;
            let Some(t) = s.token_record(rt).await.filter(|t| t.refresh && t.client_id == client.id) else {
                return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or revoked refresh token"));
            };
            let access =
                Token { refresh: false, expires_at: Some(now() + s.lifetime()), issued_at: now(), ..t.clone() };
            let a = s.mint(&access).await;
            Ok(axum::Json(json!({"access_token": a, "scope": t.scope, "resource_server": t.resource_server,
                "expires_in": s.lifetime(), "token_type": "Bearer", "refresh_token": rt, "other_tokens": []}))
            .into_response())
        }
        "client_credentials" => {
            if client.secret_hash.is_none() {
                let msg = "only confidential clients may use client credentials";
                return Err(oauth_error(StatusCode::UNAUTHORIZED, "unauthorized_client", msg));
            }
            let scope = f.scope.clone().unwrap_or_default();
            let g = Grant {
                identity: &client.id,
                scope: &scope,
                session: None,
                offline: false,
                id_token: None,
                state: None,
            };
            Ok(axum::Json(s.token_response(&client, g).await?).into_response())
        }
        "urn:globus:auth:grant_type:dependent_token" => dependent(&s, &client, &f).await,
        _ => {
            let msg = format!("grant_type {grant:?} is not supported");
            Err(oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", &msg))
        }
    }
}

/// Exchanges a token issued to this client as resource server for tokens of the
/// scopes its own scope depends on (the dependent-token grant).
pub(super) async fn dependent(s: &Service, client: &KnownClient, f: &OAuthFields) -> GResult<Response> {
    let tok = required(&f.token, "token")?;
    let Some(t) = s.token_record(tok).await.filter(|t| !t.refresh && t.resource_server == client.id) else {
        let msg = "the token was not issued for this client as resource server";
        return Err(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", msg));
    };
    // Dependencies granted: those named inside the token's scope, or declared by the client.
    let mut allowed: Vec<String> = vec![];
    if let Ok(parsed) = scopes::parse(&t.scope) {
        for sc in parsed {
            allowed.extend(sc.deps.iter().map(|d| d.render()));
            if let Some(suffix) = sc.name.rsplit('/').next()
                && let Some(cs) = client.scopes.iter().find(|c| c.suffix == suffix)
            {
                allowed.extend(cs.dependent_scopes.iter().cloned());
            }
        }
    }
    let wanted: Vec<String> = match &f.scope {
        Some(sc) => sc.split_whitespace().map(str::to_string).collect(),
        None => allowed.clone(),
    };
    for w in &wanted {
        if !allowed.iter().any(|a| a == w || a.starts_with(&format!("{w}["))) {
            let msg = format!("{w} is not a dependent scope of this token");
            return Err(oauth_error(StatusCode::FORBIDDEN, "invalid_scope", &msg));
        }
    }
    let offline = f.access_type.as_deref() == Some("offline");
    let scope = wanted.join(" ");
    let g = Grant {
        identity: &t.identity,
        scope: &scope,
        session: t.session.as_deref(),
        offline,
        id_token: None,
        state: None,
    };
    let mut v = s.token_response(client, g).await?;
    // The dependent-token grant answers a plain list of token documents.
    let others = v.as_object_mut().and_then(|o| o.remove("other_tokens")).unwrap_or(json!([]));
    let mut list = vec![v];
    list.extend(others.as_array().cloned().unwrap_or_default());
    Ok(axum::Json(Value::Array(list)).into_response())
}

pub(super) async fn validate(
    State(s): State<Service>,
    headers: HeaderMap,
    OAuthForm(f): OAuthForm<OAuthFields>,
) -> GResult<Response> {
    f.caller(&s, &headers).await?;
    let active = match &f.token {
        Some(t) => s.token_record(t).await.is_some(),
        None => false,
    };
    Ok(axum::Json(json!({ "active": active })).into_response())
}

/// `include` and `authentication_policies` of an introspection may come in the query.
#[derive(Debug, Default, Deserialize)]
pub(super) struct IntrospectQuery {
    include: Option<String>,
    authentication_policies: Option<String>,
}

pub(super) async fn introspect(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<IntrospectQuery>,
    OAuthForm(mut f): OAuthForm<OAuthFields>,
) -> GResult<Response> {
    f.include = f.include.or(q.include);
    f.authentication_policies = f.authentication_policies.or(q.authentication_policies);
    let client = f.caller(&s, &headers).await?;
    if client.secret_hash.is_none() {
        return Err(auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "introspection needs a confidential client"));
    }
    // A token another client has nothing to do with is reported inactive to it.
    let t = match &f.token {
        Some(tok) => s.token_record(tok).await.filter(|t| !t.refresh && client.concerns(t)),
        None => None,
    };
    let Some(t) = t else {
        return Ok(axum::Json(json!({"active": false})).into_response());
    };
    let cfg = &s.config;
    // The audience is the token's resource server (for a client's own scopes, its
    // client id), whoever asks: a token for another service names that service.
    let aud = [t.resource_server.clone()];
    let mut doc = json!({"active": true, "token_type": "Bearer", "scope": t.scope, "client_id": t.client_id,
        "sub": t.identity, "aud": aud, "iss": s.base(),
        "exp": t.expires_at, "iat": t.issued_at, "nbf": t.issued_at});
    let ident = cfg.identity_by_id(&t.identity);
    if let Some(i) = ident {
        doc["username"] = json!(i.username);
        doc["name"] = json!(i.name);
        doc["email"] = json!(i.email);
    } else if let Some(c) = cfg.clients.iter().find(|c| c.id == t.identity) {
        doc["username"] = json!(c.username());
        doc["name"] = json!(c.name);
        doc["email"] = Value::Null;
    }
    let include: Vec<&str> = f.include.as_ref().map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
    let sess: Option<Session> = match &t.session {
        Some(id) => s.db.get("session", id).await.ok().flatten(),
        None => None,
    };
    let set: Vec<&Identity> = ident.map(|i| cfg.identity_set(i)).unwrap_or_default();
    if include.contains(&"identity_set") {
        doc["identity_set"] =
            json!(if set.is_empty() { vec![t.identity.clone()] } else { set.iter().map(|i| i.id.clone()).collect() });
    }
    if include.contains(&"identity_set_detail") {
        doc["identity_set_detail"] = Value::Array(
            set.iter()
                .map(|i| {
                    let idp = cfg.idp_for(i);
                    json!({"sub": i.id, "username": i.username, "name": i.name, "email": i.email, "organization": i.organization,
                        "identity_provider": idp.id, "identity_provider_display_name": idp.display_name, "status": "used"})
                })
                .collect(),
        );
    }
    if include.contains(&"session_info") {
        doc["session_info"] = match &sess {
            Some(ss) => {
                json!({"session_id": ss.id, "authentications": ss.authentications.iter().map(|(k, a)| (k.clone(),
                json!({"idp": a.idp, "auth_time": a.auth_time, "acr": null, "amr": if a.mfa { json!(["mfa"]) } else { Value::Null }, "custom_claims": {}}))).collect::<serde_json::Map<_, _>>()})
            }
            None => json!({"session_id": null, "authentications": {}}),
        };
    }
    if let Some(ids) = &f.authentication_policies {
        let mut ev = serde_json::Map::new();
        for pid in ids.split(',').map(str::trim).filter(|x| !x.is_empty()) {
            let ok = match (cfg.policies.iter().find(|p| p.id == pid), &sess) {
                (Some(p), Some(ss)) => crate::policy::satisfied(cfg, p, ss),
                _ => false,
            };
            ev.insert(pid.to_string(), json!({"evaluation": ok}));
        }
        doc["policy_evaluations"] = Value::Object(ev);
    }
    Ok(axum::Json(doc).into_response())
}

/// Revokes a token the calling client was issued (RFC 7009); others are left alone and
/// the answer is the same, so nothing is learnt about them.
pub(super) async fn revoke(
    State(s): State<Service>,
    headers: HeaderMap,
    OAuthForm(f): OAuthForm<OAuthFields>,
) -> GResult<Response> {
    let client = f.caller(&s, &headers).await?;
    if let Some(t) = &f.token
        && let Some(rec) = s.token_record(t).await
        && s.may_revoke(&client, &rec).await
    {
        let _ = s.db.delete("token", &sha_hex(t)).await;
    }
    Ok(axum::Json(json!({"active": false})).into_response())
}
