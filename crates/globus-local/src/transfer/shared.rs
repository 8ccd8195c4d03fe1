//! Guest collections made through the API (`create_shared_endpoint`): a user shares a
//! folder of a mapped collection that they may write, and owns the new collection; they
//! update and delete it. Its documents live in the database (`guest_collection`) and in
//! the service's live list of endpoints. A guest collection only ever gives what its
//! owner may still do on the host folder (see [`Service::guest_owner_may`]).

use crate::config::Endpoint;
use crate::service::Service;
use crate::store::random_uuid;
use crate::wire::{TransferJson, list_doc, request_id, result};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::caller::*;
use super::roles::RoleName;

#[derive(Debug, Deserialize)]
pub(super) struct NewShared {
    host_endpoint: String,
    host_path: String,
    display_name: String,
    description: Option<String>,
    keywords: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct EndpointChange {
    display_name: Option<String>,
    description: Option<String>,
    keywords: Option<String>,
    default_directory: Option<String>,
}

fn bad(why: &str, res: &str) -> crate::error::GlobusError {
    terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", why, res)
}

fn check_name(name: &str, res: &str) -> TResult<()> {
    if name.trim().is_empty() || name.len() > 128 {
        return Err(bad("display_name must be 1 to 128 characters", res));
    }
    Ok(())
}

fn keywords(k: &str) -> Vec<String> {
    k.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()
}

impl Service {
    /// Replaces the live list of endpoints by `change` applied to it.
    fn change_endpoints(&self, change: impl FnOnce(&mut Vec<Endpoint>)) {
        let mut guard = self.endpoints.write().unwrap();
        let mut list = (**guard).clone();
        change(&mut list);
        *guard = std::sync::Arc::new(list);
    }

    /// A guest collection of the caller's made through the API; any other is not found
    /// (or, for the configuration's, refused).
    fn own_guest(&self, c: &Caller, id: &str, res: &str) -> TResult<Endpoint> {
        let ep = self.endpoint(id, res)?;
        if ep.host_endpoint.is_none() || !c.usernames.contains(&ep.owner) {
            let msg = "Only the owner of a guest collection changes or deletes it";
            return Err(terr(StatusCode::FORBIDDEN, "PermissionDenied", msg, res));
        }
        Ok(ep)
    }

    /// Whether the owner of a guest collection may still read (`need` "r") or write
    /// ("rw") its folder on the host: a share never gives more than its owner has.
    pub async fn guest_owner_may(&self, ep: &Endpoint, need: &str) -> bool {
        let (Some(host_id), Some(host_path)) = (&ep.host_endpoint, &ep.host_path) else { return true };
        let Some(host) = self.endpoint_by_id(host_id) else { return false };
        let Some(owner) = self.config.identity_by_username(&ep.owner).map(|i| i.id.clone()) else {
            // A client's own identity, or the owner of the host itself.
            return host.owner == ep.owner;
        };
        let c = crate::tasks::model::caller_of(self, &owner).await;
        let parts = crate::paths::components(host_path).unwrap_or_default();
        match self.permission_on_host(&c, &host, &parts).await {
            Some("rw") => true,
            Some(_) => need == "r",
            None => false,
        }
    }
}

pub(super) async fn create(
    Call { s, headers, res }: Call,
    TransferJson(body): TransferJson<NewShared>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    check_name(&body.display_name, res)?;
    let host = s.endpoint(&body.host_endpoint, res)?;
    if host.host_endpoint.is_some() {
        return Err(bad(
            "a guest collection shares a folder of a mapped collection, not of another guest collection",
            res,
        ));
    }
    let folder = if body.host_path.ends_with('/') { body.host_path.clone() } else { format!("{}/", body.host_path) };
    // The folder must exist, and the caller must be able to write it: what they share is
    // what they have.
    let (parts, real) = s.open_path(&c, &host, &folder, "rw", false, res).await?;
    if !real.is_dir() {
        return Err(bad(&format!("{folder} is not a folder"), res));
    }
    let owner = s
        .config
        .identity_by_id(&c.identity)
        .map(|i| i.username.clone())
        .unwrap_or_else(|| c.usernames.first().cloned().unwrap_or_else(|| c.identity.clone()));
    let ep = Endpoint {
        id: random_uuid(),
        display_name: body.display_name,
        owner,
        root: real,
        host_endpoint: Some(host.id.clone()),
        host_path: Some(crate::paths::display(&parts, true).replacen("/~", "", 1)),
        default_directory: "/~/".into(),
        high_assurance: host.high_assurance,
        requires_data_access: false,
        policy: host.policy.clone(),
        description: body.description.unwrap_or_default(),
        keywords: body.keywords.as_deref().map(keywords).unwrap_or_default(),
    };
    s.db.put("guest_collection", &ep.id, &ep, None).await.map_err(|e| unavailable(e, res))?;
    let id = ep.id.clone();
    s.change_endpoints(|list| list.push(ep));
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({"DATA_TYPE": "endpoint_create_result", "code": "Created", "id": id,
            "globus_connect_setup_key": null, "message": "Shared endpoint created successfully",
            "request_id": request_id(), "resource": res})),
    )
        .into_response())
}

pub(super) async fn update(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    TransferJson(body): TransferJson<EndpointChange>,
) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let _guard = s.task_lock.lock().await;
    let mut ep = s.own_guest(&c, &id, res)?;
    if let Some(n) = body.display_name {
        check_name(&n, res)?;
        ep.display_name = n;
    }
    if let Some(d) = body.description {
        ep.description = d;
    }
    if let Some(k) = body.keywords {
        ep.keywords = keywords(&k);
    }
    if let Some(d) = body.default_directory {
        if !d.starts_with('/') || crate::paths::components(&d).is_err() {
            return Err(bad("default_directory must be a path inside the collection", res));
        }
        ep.default_directory = d;
    }
    s.db.put("guest_collection", &ep.id, &ep, None).await.map_err(|e| unavailable(e, res))?;
    s.change_endpoints(|list| {
        if let Some(slot) = list.iter_mut().find(|e| e.id == ep.id) {
            *slot = ep.clone();
        }
    });
    Ok(axum::Json(result("Updated", "Endpoint updated successfully", res)).into_response())
}

pub(super) async fn delete(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let res = res.as_str();
    let c = s.transfer_caller(&headers, res).await?;
    let _guard = s.task_lock.lock().await;
    let ep = s.own_guest(&c, &id, res)?;
    if !s.db.delete("guest_collection", &ep.id).await.map_err(|e| unavailable(e, res))? {
        let msg = "Guest collections of the configuration are removed from the configuration";
        return Err(terr(StatusCode::FORBIDDEN, "PermissionDenied", msg, res));
    }
    for (rule, _) in s.db.list::<Rule>(&format!("acl:{id}")).await.unwrap_or_default() {
        let _ = s.db.delete(&format!("acl:{id}"), &rule).await;
    }
    s.change_endpoints(|list| list.retain(|e| e.id != ep.id));
    Ok(axum::Json(result("Deleted", "Endpoint deleted successfully", res)).into_response())
}

/// The guest collections a mapped collection hosts, for its administrators.
pub(super) async fn shared_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let (c, host) = s.caller_at(&headers, &id, &res).await?;
    s.require_role(&c, &host, &[RoleName::Administrator], &res).await?;
    let eps = s.endpoints();
    let mut docs: Vec<Value> = vec![];
    for g in eps.iter().filter(|e| e.host_endpoint.as_deref() == Some(id.as_str())) {
        docs.push(s.endpoint_doc_for(&c, g).await);
    }
    Ok(axum::Json(json!({"shared_endpoints": docs, "next_token": null})).into_response())
}

/// The caller's own guest collections on a mapped collection.
pub(super) async fn my_shared_list(Call { s, headers, res }: Call, Path(id): Path<String>) -> TResult<Response> {
    let (c, _) = s.caller_at(&headers, &id, &res).await?;
    let eps = s.endpoints();
    let mut docs: Vec<Value> = vec![];
    for g in eps.iter().filter(|e| e.host_endpoint.as_deref() == Some(id.as_str()) && c.usernames.contains(&e.owner)) {
        docs.push(s.endpoint_doc_for(&c, g).await);
    }
    let n = docs.len();
    Ok(axum::Json(list_doc("endpoint_list", docs, 0, n.max(1), n)).into_response())
}
