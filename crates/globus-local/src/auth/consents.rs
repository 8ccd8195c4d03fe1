//! Consents: what a person allowed a client, scope by scope with the dependencies each
//! scope was allowed for, recorded when they click "Allow", and listed by
//! `GET /v2/api/identities/{id}/consents` (with the `view_consents` scope).

use crate::error::auth_error;
use crate::scopes::{self, AUTH_RS, Scope};
use crate::service::Service;
use crate::store::now;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use gantry_domain::time::rfc3339_utc_offset;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const VIEW_CONSENTS: &str = "urn:globus:auth:scope:auth.globus.org:view_consents";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consent {
    pub id: u64,
    pub client: String,
    pub scope_name: String,
    pub effective_identity: String,
    pub dependency_path: Vec<u64>,
    pub allows_refresh: bool,
    pub created: i64,
    pub updated: i64,
}

/// A stable number for one consent: who, which client, and the chain of scopes to it.
fn consent_id(identity: &str, client: &str, chain: &[String]) -> u64 {
    let h = Sha256::digest(format!("{identity}|{client}|{}", chain.join(" ")).as_bytes());
    u64::from_be_bytes(h[..8].try_into().expect("8 bytes")) >> 12
}

fn walk(
    s: &Scope,
    chain: &mut Vec<String>,
    path: &mut Vec<u64>,
    out: &mut Vec<(Vec<String>, Vec<u64>)>,
    key: (&str, &str),
) {
    chain.push(s.name.clone());
    path.push(consent_id(key.0, key.1, chain));
    out.push((chain.clone(), path.clone()));
    for d in &s.deps {
        walk(d, chain, path, out, key);
    }
    chain.pop();
    path.pop();
}

/// Records (or renews) the consents of an approved request.
pub async fn record(s: &Service, identity: &str, client: &str, scope: &str, offline: bool) -> anyhow::Result<()> {
    let parsed = scopes::parse(scope).map_err(anyhow::Error::msg)?;
    let mut found = vec![];
    for top in &parsed {
        walk(top, &mut vec![], &mut vec![], &mut found, (identity, client));
    }
    for (chain, path) in found {
        let id = *path.last().expect("a path has its own id");
        let kind = format!("consent:{identity}");
        let created = s.db.get::<Consent>(&kind, &id.to_string()).await?.map_or(now(), |c| c.created);
        let c = Consent {
            id,
            client: client.to_string(),
            scope_name: chain.last().cloned().unwrap_or_default(),
            effective_identity: identity.to_string(),
            dependency_path: path,
            allows_refresh: offline,
            created,
            updated: now(),
        };
        s.db.put(&kind, &id.to_string(), &c, None).await?;
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(super) struct ConsentQuery {
    #[serde(default)]
    all: Option<String>,
}

pub(super) async fn list(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<ConsentQuery>,
) -> Response {
    let Some(t) = s.bearer(&headers, AUTH_RS).await else {
        return auth_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "Call must be authenticated").into_response();
    };
    if !t.scope.split_whitespace().any(|x| x == VIEW_CONSENTS) {
        let msg = format!("listing consents needs the {VIEW_CONSENTS} scope");
        return auth_error(StatusCode::FORBIDDEN, "FORBIDDEN", &msg).into_response();
    }
    if !crate::groups::person(&s, &t.identity).contains(&id) {
        return auth_error(StatusCode::FORBIDDEN, "FORBIDDEN", "one lists one's own consents").into_response();
    }
    let people: Vec<String> = match q.all.as_deref() {
        Some("true" | "1") => crate::groups::person(&s, &id),
        _ => vec![id.clone()],
    };
    let mut docs: Vec<Value> = vec![];
    let mut by_name: HashMap<String, String> = HashMap::new();
    for p in people {
        for (_, c) in s.db.list::<Consent>(&format!("consent:{p}")).await.unwrap_or_default() {
            let scope_id =
                by_name.entry(c.scope_name.clone()).or_insert_with(|| crate::config::uuid_for("scope", &c.scope_name));
            docs.push(json!({"id": c.id, "client": c.client, "scope": scope_id, "scope_name": c.scope_name,
                "effective_identity": c.effective_identity, "dependency_path": c.dependency_path,
                "status": "approved", "allows_refresh": c.allows_refresh, "atomically_revocable": c.dependency_path.len() > 1,
                "auto_approved": false, "created": rfc3339_utc_offset(c.created), "updated": rfc3339_utc_offset(c.updated),
                "last_used": rfc3339_utc_offset(c.updated)}));
        }
    }
    docs.sort_by_key(|d| d["dependency_path"].as_array().map(|p| p.len()).unwrap_or(0));
    axum::Json(json!({"consents": docs, "identity_id": id})).into_response()
}
