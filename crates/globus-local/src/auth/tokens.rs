//! The token endpoint (authorization code with PKCE or client secret, refresh token,
//! client credentials, dependent tokens), validate, introspect and revoke.

use super::grants::*;
use super::records::*;
use crate::config::Identity;
use crate::error::{auth_error, oauth_error};
use crate::scopes::{self};
use crate::service::Service;
use crate::store::now;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

// ---------- token endpoint ----------

pub(super) async fn token(
    State(s): State<Service>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let client = match s.client_auth(&headers, &f).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let grant = f.get("grant_type").map(String::as_str).unwrap_or("");
    match grant {
        "authorization_code" => {
            let code = f.get("code").cloned().unwrap_or_default();
            let Some(c) = s.db.take::<Code>("code", &code).await.ok().flatten() else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown, expired or already used code")
                    .into_response();
            };
            if c.client_id != client.id || f.get("redirect_uri") != Some(&c.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code was issued to another client or redirect_uri",
                )
                .into_response();
            }
            if let Some(ch) = &c.code_challenge {
                let v = f.get("code_verifier").cloned().unwrap_or_default();
                let got = URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()));
                if v.len() < 43 || !constant_eq(&got, ch) {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE code_verifier does not match")
                        .into_response();
                }
            } else if client.secret_hash.is_none() {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "public clients must use PKCE")
                    .into_response();
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
            match s.token_response(&client, g).await {
                Ok(v) => axum::Json(v).into_response(),
                Err(r) => r.into_response(),
            }
        }
        "refresh_token" => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let Some(t) = s.token_record(&rt).await.filter(|t| t.refresh && t.client_id == client.id) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown or revoked refresh token")
                    .into_response();
            };
            let access =
                Token { refresh: false, expires_at: Some(now() + s.lifetime()), issued_at: now(), ..t.clone() };
            let a = s.mint(&access).await;
            axum::Json(json!({"access_token": a, "scope": t.scope, "resource_server": t.resource_server,
                "expires_in": s.lifetime(), "token_type": "Bearer", "refresh_token": rt, "other_tokens": []}))
            .into_response()
        }
        "client_credentials" => {
            if client.secret_hash.is_none() {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "only confidential clients may use client credentials",
                )
                .into_response();
            }
            let scope = f.get("scope").cloned().unwrap_or_default();
            let g = Grant {
                identity: &client.id,
                scope: &scope,
                session: None,
                offline: false,
                id_token: None,
                state: None,
            };
            match s.token_response(&client, g).await {
                Ok(v) => axum::Json(v).into_response(),
                Err(r) => r.into_response(),
            }
        }
        "urn:globus:auth:grant_type:dependent_token" => dependent(&s, &client, &f).await,
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant_type {grant:?} is not supported"),
        )
        .into_response(),
    }
}

/// Exchanges a token issued to this client as resource server for tokens of the
/// scopes its own scope depends on (the dependent-token grant).
pub(super) async fn dependent(s: &Service, client: &KnownClient, f: &HashMap<String, String>) -> Response {
    let tok = f.get("token").cloned().unwrap_or_default();
    let Some(t) = s.token_record(&tok).await.filter(|t| !t.refresh && t.resource_server == client.id) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the token was not issued for this client as resource server",
        )
        .into_response();
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
    let wanted: Vec<String> = match f.get("scope") {
        Some(sc) => sc.split_whitespace().map(str::to_string).collect(),
        None => allowed.clone(),
    };
    for w in &wanted {
        if !allowed.iter().any(|a| a == w || a.starts_with(&format!("{w}["))) {
            return oauth_error(
                StatusCode::FORBIDDEN,
                "invalid_scope",
                &format!("{w} is not a dependent scope of this token"),
            )
            .into_response();
        }
    }
    let offline = f.get("access_type").map(String::as_str) == Some("offline");
    let scope = wanted.join(" ");
    let g = Grant {
        identity: &t.identity,
        scope: &scope,
        session: t.session.as_deref(),
        offline,
        id_token: None,
        state: None,
    };
    match s.token_response(client, g).await {
        Ok(mut v) => {
            // The dependent-token grant answers a plain list of token documents.
            let others = v.as_object_mut().and_then(|o| o.remove("other_tokens")).unwrap_or(json!([]));
            let mut list = vec![v];
            list.extend(others.as_array().cloned().unwrap_or_default());
            axum::Json(Value::Array(list)).into_response()
        }
        Err(r) => r.into_response(),
    }
}

pub(super) async fn validate(
    State(s): State<Service>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = s.client_auth(&headers, &f).await {
        return r.into_response();
    }
    let active = match f.get("token") {
        Some(t) => s.token_record(t).await.is_some(),
        None => false,
    };
    axum::Json(json!({ "active": active })).into_response()
}

pub(super) async fn introspect(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    Form(mut f): Form<HashMap<String, String>>,
) -> Response {
    // `include` and `authentication_policies` may come in the query string too.
    for (k, v) in q {
        f.entry(k).or_insert(v);
    }
    let _client = match s.client_auth(&headers, &f).await {
        Ok(c) if c.secret_hash.is_some() => c,
        Ok(_) => {
            return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "introspection needs a confidential client")
                .into_response();
        }
        Err(r) => return r.into_response(),
    };
    let Some(t) = s.token_record(f.get("token").map(String::as_str).unwrap_or("")).await.filter(|t| !t.refresh) else {
        return axum::Json(json!({"active": false})).into_response();
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
    let include: Vec<&str> = f.get("include").map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default();
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
    if let Some(ids) = f.get("authentication_policies") {
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
    axum::Json(doc).into_response()
}

pub(super) async fn revoke(State(s): State<Service>, Form(f): Form<HashMap<String, String>>) -> Response {
    if let Some(t) = f.get("token") {
        let _ = s.db.delete("token", &sha_hex(t)).await;
    }
    axum::Json(json!({"active": false})).into_response()
}
