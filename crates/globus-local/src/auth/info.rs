//! Discovery, keys, clients made from templates, userinfo, identities and policies.

use super::records::*;
use crate::error::auth_error;
use crate::scopes::{AUTH_RS, CLI_TEMPLATE_ID};
use crate::service::Service;
use crate::store::{now, random_token, random_uuid};
use crate::wire::AuthJson;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

// ---------- discovery ----------

pub(super) async fn discovery(State(s): State<Service>) -> Response {
    let b = s.base();
    axum::Json(json!({
        "issuer": b, "authorization_endpoint": format!("{b}/v2/oauth2/authorize"),
        "token_endpoint": format!("{b}/v2/oauth2/token"), "userinfo_endpoint": format!("{b}/v2/oauth2/userinfo"),
        "revocation_endpoint": format!("{b}/v2/oauth2/token/revoke"),
        "introspection_endpoint": format!("{b}/v2/oauth2/token/introspect"),
        "jwks_uri": format!("{b}/jwk.json"), "id_token_signing_alg_values_supported": ["RS512"],
        "response_types_supported": ["code"], "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"], "subject_types_supported": ["public"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials",
            "urn:globus:auth:grant_type:dependent_token"],
        "code_challenge_methods_supported": ["S256"], "claims_supported": ["sub", "iss", "aud", "exp", "iat", "name",
            "email", "preferred_username", "organization", "identity_provider", "identity_set"],
    }))
    .into_response()
}

pub(super) async fn jwks(State(s): State<Service>) -> Response {
    axum::Json(s.keys.jwks()).into_response()
}

// ---------- clients ----------

/// `{"client": {"template_id", "name"}}`: a client instance made from a template, as
/// `globus-sdk`'s client-credentials login flow registers one.
#[derive(Debug, Deserialize)]
pub(super) struct NewClient {
    client: NewClientFields,
}

#[derive(Debug, Deserialize)]
pub(super) struct NewClientFields {
    template_id: Option<String>,
    name: Option<String>,
}

pub(super) async fn create_client(State(s): State<Service>, AuthJson(body): AuthJson<NewClient>) -> Response {
    let template = body.client.template_id.as_deref().unwrap_or_default();
    if template != CLI_TEMPLATE_ID && !s.config.clients.iter().any(|x| x.id == template && x.secret.is_none()) {
        return auth_error(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Call must be authenticated (or name a known template_id)",
        )
        .into_response();
    }
    let name = body.client.name.as_deref().unwrap_or("Client instance").chars().take(100).collect::<String>();
    let id = random_uuid();
    let secret = random_token(24);
    let inst = ClientInstance {
        id: id.clone(),
        name: name.clone(),
        secret_hash: sha_hex(&secret),
        template_id: template.into(),
    };
    if let Err(e) = s.db.put("client", &id, &inst, None).await {
        return auth_error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()).into_response();
    }
    let client = json!({"id": id, "name": name, "public_client": false, "project": null, "parent_client": template,
        "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "redirect_uris": [],
        "scopes": [], "fqdns": [], "visibility": "private", "required_idp": null, "preselect_idp": null,
        "client_type": "confidential_client", "links": {"privacy_policy": null, "terms_and_conditions": null},
        "prompt_for_named_grant": false, "userinfo_from_effective_identity": true});
    (
        StatusCode::CREATED,
        axum::Json(json!({"client": client, "included": {"client_credential": {
        "id": random_uuid(), "name": "auto-created", "client": id, "secret": secret, "created": now()}}})),
    )
        .into_response()
}

pub(super) async fn delete_client(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match s.client_auth(&headers, None, None).await {
        Ok(c) if c.id == id => {
            let _ = s.db.delete("client", &id).await;
            axum::Json(json!({"client": {"id": id}})).into_response()
        }
        _ => auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "a client may only delete itself").into_response(),
    }
}

pub(super) async fn userinfo(State(s): State<Service>, headers: HeaderMap) -> Response {
    let Some(t) = s.bearer(&headers, AUTH_RS).await else {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Call must be authenticated").into_response();
    };
    let Some(i) = s.config.identity_by_id(&t.identity) else {
        return auth_error(StatusCode::FORBIDDEN, "FORBIDDEN", "client identities have no user info").into_response();
    };
    let idp = s.config.idp_for(i);
    let mut v = json!({"sub": i.id, "preferred_username": i.username, "name": i.name, "email": i.email,
        "organization": i.organization, "identity_provider": idp.id, "identity_provider_display_name": idp.display_name});
    if t.scope.split_whitespace().any(|x| x == "urn:globus:auth:scope:auth.globus.org:view_identity_set") {
        let sess: Option<Session> = match &t.session {
            Some(id) => s.db.get("session", id).await.ok().flatten(),
            None => None,
        };
        v["identity_set"] = Value::Array(
            s.config
                .identity_set(i)
                .iter()
                .map(|x| {
                    let mut c = s.identity_claims(x, sess.as_ref());
                    c["status"] = json!("used");
                    c
                })
                .collect(),
        );
    }
    axum::Json(v).into_response()
}

/// Lookups need an Auth token or an authenticated client.
async fn authenticated(s: &Service, headers: &HeaderMap) -> crate::error::GResult<()> {
    if s.bearer(headers, AUTH_RS).await.is_some() || s.client_auth(headers, None, None).await.is_ok() {
        return Ok(());
    }
    Err(auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Call must be authenticated"))
}

pub(super) async fn identities(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = authenticated(&s, &headers).await {
        return e.into_response();
    }
    let cfg = &s.config;
    let mut out = vec![];
    if let Some(ids) = q.get("ids") {
        for id in ids.split(',').map(str::trim) {
            if let Some(i) = cfg.identity_by_id(id) {
                out.push(s.identity_doc(i));
            }
        }
    }
    if let Some(us) = q.get("usernames") {
        for u in us.split(',').map(str::trim) {
            if let Some(i) = cfg.identity_by_username(u) {
                out.push(s.identity_doc(i));
            }
        }
    }
    axum::Json(json!({ "identities": out })).into_response()
}

/// `GET /v2/api/identity_providers?domains=…` or `?ids=…` (one of them, as Auth wants).
pub(super) async fn identity_providers(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(e) = authenticated(&s, &headers).await {
        return e.into_response();
    }
    let list = |key: &str| q.get(key).map(|v| v.split(',').map(|x| x.trim().to_string()).collect::<Vec<_>>());
    let found: Vec<&crate::config::IdentityProvider> = match (list("domains"), list("ids")) {
        (Some(_), Some(_)) | (None, None) => {
            let msg = "give either domains or ids";
            return auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", msg).into_response();
        }
        (Some(d), None) => s.config.identity_providers.iter().filter(|p| d.contains(&p.domain)).collect(),
        (None, Some(ids)) => s.config.identity_providers.iter().filter(|p| ids.contains(&p.id)).collect(),
    };
    let docs: Vec<Value> = found
        .iter()
        .map(|p| {
            json!({"id": p.id, "name": p.display_name, "short_name": p.domain, "domains": [p.domain],
                "alternative_names": []})
        })
        .collect();
    axum::Json(json!({"identity_providers": docs})).into_response()
}

pub(super) fn policy_doc(p: &crate::config::Policy) -> Value {
    json!({"id": p.id, "project_id": crate::config::uuid_for("project", "local"), "display_name": p.display_name,
        "description": p.description, "high_assurance": p.high_assurance,
        "authentication_assurance_timeout": p.authentication_assurance_timeout, "required_mfa": p.required_mfa,
        "domain_constraints_include": p.domain_constraints_include, "domain_constraints_exclude": p.domain_constraints_exclude})
}

pub(super) async fn list_policies(State(s): State<Service>) -> Response {
    axum::Json(json!({"policies": s.config.policies.iter().map(policy_doc).collect::<Vec<_>>()})).into_response()
}

pub(super) async fn get_policy(State(s): State<Service>, Path(id): Path<String>) -> Response {
    match s.config.policies.iter().find(|p| p.id == id) {
        Some(p) => axum::Json(json!({ "policy": policy_doc(p) })).into_response(),
        None => auth_error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no policy {id}")).into_response(),
    }
}
