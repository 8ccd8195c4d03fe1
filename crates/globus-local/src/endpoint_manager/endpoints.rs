//! The endpoints a manager looks after: monitored endpoints, one endpoint, the guest
//! collections a mapped collection hosts, and an endpoint's access rules.

use super::MONITOR;
use crate::transfer::access::rule_doc;
use crate::transfer::caller::{Call, Caller, TResult, terr};
use crate::transfer::roles::{ANY_ROLE, RoleName};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::service::Service;

/// The endpoint, when the caller holds one of `roles` on it or on its host.
async fn looked_after(
    s: &Service,
    c: &Caller,
    id: &str,
    roles: &[RoleName],
    res: &str,
) -> TResult<crate::config::Endpoint> {
    let ep = s.endpoint(id, res)?;
    if !s.holds_on(c, id, roles).await {
        let msg = "You hold no role on this endpoint that allows this";
        return Err(terr(StatusCode::FORBIDDEN, "PermissionDenied", msg, res));
    }
    Ok(ep)
}

fn endpoint_list(page: Vec<Value>) -> Value {
    json!({"DATA_TYPE": "endpoint_list", "offset": 0, "limit": page.len(), "has_next_page": false, "DATA": page})
}

pub(super) async fn monitored_endpoints(Call { s, headers, res }: Call) -> TResult<Response> {
    let eps = s.endpoints();
    let c = s.transfer_caller(&headers, &res).await?;
    let mut page = vec![];
    for ep in eps.iter() {
        if s.holds_on(&c, &ep.id, MONITOR).await {
            page.push(s.endpoint_doc_for(&c, ep).await);
        }
    }
    Ok(axum::Json(endpoint_list(page)).into_response())
}

pub(super) async fn get_endpoint(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    let ep = looked_after(&s, &c, &id, ANY_ROLE, &res).await?;
    Ok(axum::Json(s.endpoint_doc_for(&c, &ep).await).into_response())
}

pub(super) async fn hosted_endpoint_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let eps = s.endpoints();
    let c = s.transfer_caller(&headers, &res).await?;
    looked_after(&s, &c, &id, &[RoleName::Administrator], &res).await?;
    let mut page = vec![];
    for guest in eps.iter().filter(|e| e.host_endpoint.as_deref() == Some(id.as_str())) {
        page.push(s.endpoint_doc_for(&c, guest).await);
    }
    Ok(axum::Json(endpoint_list(page)).into_response())
}

pub(super) async fn acl_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let c = s.transfer_caller(&headers, &res).await?;
    looked_after(&s, &c, &id, &[RoleName::Administrator, RoleName::AccessManager], &res).await?;
    let rules: Vec<Value> = s.rules(&id).await.iter().map(rule_doc).collect();
    Ok(axum::Json(json!({"DATA_TYPE": "access_list", "endpoint": id, "length": rules.len(), "DATA": rules}))
        .into_response())
}
