//! Endpoint documents and endpoint search.

use crate::config::Endpoint;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::caller::*;

// ---------- endpoints ----------

pub(super) async fn endpoint_get(Call { s, headers, res }: Call, Path(id): Path<String>) -> Response {
    match s.caller_at(&headers, &id, &res).await {
        Ok((c, ep)) => axum::Json(s.endpoint_doc_for(&c, &ep).await).into_response(),
        Err(r) => r.into_response(),
    }
}

pub(super) async fn endpoint_search(
    Call { s, headers, res }: Call,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let eps = s.endpoints();
    let res = res.as_str();
    let c = match s.transfer_caller(&headers, res).await {
        Ok(c) => c,
        Err(r) => return r.into_response(),
    };
    let scope = q.get("filter_scope").map(String::as_str).unwrap_or("all");
    let text = q.get("filter_fulltext").map(|t| t.to_lowercase());
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100).min(1000);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    if scope == "all" && text.as_deref().is_none_or(str::is_empty) {
        return terr(StatusCode::BAD_REQUEST, "BadRequest", "filter_fulltext is required with filter_scope=all", res)
            .into_response();
    }
    let mut used: Vec<String> = vec![];
    let mut active: Vec<String> = vec![];
    for (_, t) in s.db.list::<crate::tasks::model::Task>("task").await.unwrap_or_default() {
        if c.ids.contains(&t.owner) {
            used.extend([t.source_endpoint.clone(), t.destination_endpoint.clone()]);
            if t.status == crate::tasks::model::TaskStatus::Active {
                active.extend([t.source_endpoint.clone(), t.destination_endpoint.clone()]);
            }
        }
    }
    let mut shared = vec![];
    for ep in eps.iter() {
        if !c.usernames.contains(&ep.owner) && s.permission(&c, ep, &[]).await.is_some() {
            shared.push(ep.id.clone());
        } else if !c.usernames.contains(&ep.owner) {
            for (_, r) in s.db.list::<Rule>(&format!("acl:{}", ep.id)).await.unwrap_or_default() {
                let applies = match r.principal_type.as_str() {
                    "identity" => c.ids.contains(&r.principal),
                    "group" => c.groups.contains(&r.principal),
                    _ => true,
                };
                if applies {
                    shared.push(ep.id.clone());
                    break;
                }
            }
        }
    }
    let owner_filter = q.get("filter_owner_id");
    let mut hits: Vec<&Endpoint> = s
        .config
        .endpoints
        .iter()
        .filter(|ep| match scope {
            "my-endpoints" | "administered-by-me" | "my-gcp-endpoints" => {
                c.usernames.contains(&ep.owner) && ep.host_endpoint.is_none()
            }
            "shared-with-me" => shared.contains(&ep.id),
            "recently-used" => used.contains(&ep.id),
            "in-use" => active.contains(&ep.id),
            "shared-by-me" => ep.host_endpoint.is_some() && c.usernames.contains(&ep.owner),
            _ => true,
        })
        .filter(|ep| match &text {
            Some(t) if !t.is_empty() => {
                let hay = format!("{} {} {} {}", ep.display_name, ep.description, ep.keywords.join(" "), ep.owner)
                    .to_lowercase();
                t.split_whitespace().all(|w| hay.contains(w))
            }
            _ => true,
        })
        .filter(|ep| owner_filter.is_none_or(|o| s.config.identity_by_username(&ep.owner).is_some_and(|i| &i.id == o)))
        .collect();
    hits.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    let total = hits.len();
    let mut page: Vec<Value> = vec![];
    for ep in hits.into_iter().skip(offset).take(limit) {
        page.push(s.endpoint_doc_for(&c, ep).await);
    }
    axum::Json(json!({"DATA_TYPE": "endpoint_list", "offset": offset, "limit": limit,
        "has_next_page": offset + page.len() < total, "DATA": page}))
    .into_response()
}

pub(super) async fn server_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    s.caller_at(&headers, &id, &res).await?;
    Ok(axum::Json(json!({"DATA_TYPE": "endpoint_server_list", "endpoint": id, "DATA": [server_doc()]})).into_response())
}

pub(super) async fn server_get(
    Call { s, headers, res }: Call,
    Path((id, server)): Path<(String, String)>,
) -> TResult<Response> {
    s.caller_at(&headers, &id, &res).await?;
    if server != "1" {
        return Err(terr(StatusCode::NOT_FOUND, "ServerNotFound", &format!("No server '{server}' on {id}"), &res));
    }
    Ok(axum::Json(server_doc()).into_response())
}

/// The pause rules that affect the caller's use of the endpoint, in their limited form.
pub(super) async fn my_effective_pause_rules(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
) -> TResult<Response> {
    let (c, ep) = s.caller_at(&headers, &id, &res).await?;
    let eps: Vec<&str> = std::iter::once(ep.id.as_str()).chain(ep.host_endpoint.as_deref()).collect();
    let now = crate::store::now();
    let rules = s.pauses.read().unwrap().clone();
    let docs: Vec<Value> = rules
        .iter()
        .filter(|r| {
            eps.contains(&r.endpoint_id.as_str())
                && r.identity_id.as_ref().is_none_or(|i| c.ids.contains(i))
                && r.start_time.is_none_or(|t| t <= now)
        })
        .map(|r| r.doc(Some(&ep.display_name), true))
        .collect();
    Ok(axum::Json(json!({"DATA_TYPE": "pause_rule_list", "DATA": docs})).into_response())
}
