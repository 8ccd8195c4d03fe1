//! Who a Transfer request acts for, and what they may do on an endpoint's paths.

use crate::auth::records::Session;
use crate::config::{Endpoint, Identity};
use crate::paths::{self, PathError};
use crate::service::Service;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const TRANSFER_RS: &str = "transfer.api.globus.org";

pub use crate::error::{GResult as TResult, terr, terr_with, unavailable};

// ---------- the call ----------

/// What every Transfer handler starts from: the service, the request's headers, and its
/// path (the `resource` that answers and errors name).
pub struct Call {
    pub s: Service,
    pub headers: HeaderMap,
    pub res: String,
}

impl axum::extract::FromRequestParts<Service> for Call {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &Service) -> Result<Self, Self::Rejection> {
        Ok(Call { s: s.clone(), headers: parts.headers.clone(), res: parts.uri.path().to_string() })
    }
}

// ---------- the caller ----------

/// Who a Transfer request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: String,
    /// Ids and usernames of the person's identities (linked identities included).
    pub ids: Vec<String>,
    pub usernames: Vec<String>,
    pub groups: Vec<String>,
    pub session: Option<Session>,
    /// The scope string of the token (with its dependencies); None for work done on a
    /// user's behalf by the task worker.
    pub scope: Option<String>,
}

impl Service {
    pub async fn transfer_caller(&self, headers: &HeaderMap, resource: &str) -> TResult<Caller> {
        let Some(t) = self.bearer(headers, TRANSFER_RS).await else {
            return Err(terr(
                StatusCode::UNAUTHORIZED,
                "ClientError.AuthenticationFailed",
                "No valid Transfer token provided",
                resource,
            ));
        };
        let person: Vec<&Identity> = match self.config.identity_by_id(&t.identity) {
            Some(i) => self.config.identity_set(i),
            None => vec![],
        };
        let mut ids: Vec<String> = person.iter().map(|i| i.id.clone()).collect();
        let mut usernames: Vec<String> = person.iter().map(|i| i.username.clone()).collect();
        if ids.is_empty() {
            // A client identity (client credentials): it may own endpoints too.
            ids.push(t.identity.clone());
            if let Some(c) = self.config.clients.iter().find(|c| c.id == t.identity) {
                usernames.push(c.username());
            }
        }
        let groups = crate::groups::groups_of(self, &t.identity).await;
        let session = match &t.session {
            Some(id) => self.db.get("session", id).await.ok().flatten(),
            None => None,
        };
        Ok(Caller { identity: t.identity, ids, usernames, groups, session, scope: Some(t.scope) })
    }

    /// A document kept under `kind` that one of the caller's identities owns; any other
    /// answers `missing`, so that others' documents cannot be told from absent ones.
    pub async fn owned<T: serde::de::DeserializeOwned>(
        &self,
        headers: &HeaderMap,
        (kind, id): (&str, &str),
        owner: impl Fn(&T) -> &str,
        missing: crate::error::GlobusError,
        resource: &str,
    ) -> TResult<T> {
        let c = self.transfer_caller(headers, resource).await?;
        match self.db.get::<T>(kind, id).await.map_err(|e| unavailable(e, resource))? {
            Some(d) if c.ids.iter().any(|i| i == owner(&d)) => Ok(d),
            _ => Err(missing),
        }
    }

    /// The caller of a call on endpoint `id`, and the endpoint.
    pub async fn caller_at(&self, headers: &HeaderMap, id: &str, resource: &str) -> TResult<(Caller, Endpoint)> {
        let c = self.transfer_caller(headers, resource).await?;
        Ok((c, self.endpoint(id, resource)?))
    }

    pub fn endpoint(&self, id: &str, resource: &str) -> TResult<Endpoint> {
        self.endpoint_by_id(id).ok_or_else(|| {
            terr(StatusCode::NOT_FOUND, "EndpointNotFound", &format!("No such endpoint '{id}'"), resource)
        })
    }

    /// The caller's permission on a path of an endpoint: "rw", "r" or none.
    /// On a guest collection, never more than its owner may still do on the host.
    pub async fn permission(&self, c: &Caller, ep: &Endpoint, parts: &[String]) -> Option<&'static str> {
        let rules = self.rules(&ep.id).await;
        let p = permission_with(c, ep, parts, &rules)?;
        if ep.host_endpoint.is_none() || self.guest_owner_may(ep, p).await {
            return Some(p);
        }
        (p == "rw" && self.guest_owner_may(ep, "r").await).then_some("r")
    }

    /// The permission on a mapped collection (no guest-owner bound to apply).
    pub async fn permission_on_host(&self, c: &Caller, host: &Endpoint, parts: &[String]) -> Option<&'static str> {
        let rules = self.rules(&host.id).await;
        permission_with(c, host, parts, &rules)
    }

    /// The access rules of an endpoint.
    pub async fn rules(&self, endpoint: &str) -> Vec<Rule> {
        self.db.list::<Rule>(&format!("acl:{endpoint}")).await.unwrap_or_default().into_iter().map(|(_, r)| r).collect()
    }

    /// Refuses high-assurance endpoints to sessions that do not meet their policy, with
    /// the parameters a client needs to re-authenticate.
    pub fn assurance(&self, c: &Caller, ep: &Endpoint, resource: &str) -> TResult<()> {
        // A collection that needs data_access consent: the token's Transfer scope must
        // carry it as a dependency.
        if ep.requires_data_access
            && let Some(scope) = &c.scope
            && !scope.contains(&format!("https://auth.globus.org/scopes/{}/data_access", ep.id))
        {
            let required =
                format!("{}[*https://auth.globus.org/scopes/{}/data_access]", crate::scopes::TRANSFER_ALL, ep.id);
            let message = format!("Missing required data_access consent for {}", ep.display_name);
            let scopes = json!([required]);
            return Err(terr_with(
                StatusCode::FORBIDDEN,
                "ConsentRequired",
                &message,
                resource,
                "required_scopes",
                scopes,
            ));
        }
        if !ep.high_assurance {
            return Ok(());
        }
        let policy = ep.policy.as_ref().and_then(|p| self.config.policies.iter().find(|x| &x.id == p));
        let ok = match (policy, &c.session) {
            (Some(p), Some(s)) => crate::policy::satisfied(&self.config, p, s),
            (None, Some(_)) => true,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let mut params =
            json!({"session_message": format!("{} requires a recent sign-in that meets its policy.", ep.display_name)});
        if let Some(p) = policy {
            params["session_required_policies"] = json!([p.id]);
            if let Some(d) = &p.domain_constraints_include {
                params["session_required_single_domain"] = json!(d);
            }
        }
        let message = format!("Access to {} needs re-authentication", ep.display_name);
        let (code, key) = ("AuthorizationRequired", "authorization_parameters");
        Err(terr_with(StatusCode::FORBIDDEN, code, &message, resource, key, params))
    }

    /// Resolves a path the caller wants to use with `need` ("r" or "rw").
    pub async fn open_path(
        &self,
        c: &Caller,
        ep: &Endpoint,
        path: &str,
        need: &str,
        may_be_new: bool,
        resource: &str,
    ) -> TResult<(Vec<String>, std::path::PathBuf)> {
        self.assurance(c, ep, resource)?;
        let parts = paths::components(path).map_err(|_| {
            terr(StatusCode::FORBIDDEN, "PermissionDenied", &format!("Path {path} is outside the endpoint"), resource)
        })?;
        let perm = self.permission(c, ep, &parts).await;
        let allowed = match need {
            "rw" => perm == Some("rw"),
            _ => perm.is_some(),
        };
        if !allowed {
            return Err(terr(
                StatusCode::FORBIDDEN,
                "EndpointPermissionDenied",
                &format!("No permission on {path}"),
                resource,
            ));
        }
        let real = paths::resolve(&ep.root, path, may_be_new).map_err(|e| match e {
            PathError::Outside => terr(
                StatusCode::FORBIDDEN,
                "PermissionDenied",
                &format!("Path {path} is outside the endpoint"),
                resource,
            ),
            PathError::Missing => terr(
                StatusCode::NOT_FOUND,
                "ClientError.NotFound",
                &format!("Directory '{path}' not found on endpoint"),
                resource,
            ),
        })?;
        // Links may lead elsewhere under the root: the rules must allow where they lead.
        let canonical = paths::canonical_parts(&ep.root, &real).map_err(|_| {
            terr(StatusCode::FORBIDDEN, "PermissionDenied", &format!("Path {path} is outside the endpoint"), resource)
        })?;
        if canonical != parts {
            let perm = self.permission(c, ep, &canonical).await;
            if !(if need == "rw" { perm == Some("rw") } else { perm.is_some() }) {
                return Err(terr(
                    StatusCode::FORBIDDEN,
                    "EndpointPermissionDenied",
                    &format!("No permission on {path} (where its links lead)"),
                    resource,
                ));
            }
        }
        Ok((parts, real))
    }

    /// Refuses an ls, mkdir or rename that a pause rule on the endpoint (or its host)
    /// pauses for the caller, with the rule's message.
    pub fn refuse_if_paused(&self, c: &Caller, ep: &Endpoint, how: crate::pause::Use, resource: &str) -> TResult<()> {
        let eps: Vec<&str> = std::iter::once(ep.id.as_str()).chain(ep.host_endpoint.as_deref()).collect();
        let rules = self.pauses.read().unwrap();
        match rules.iter().find(|r| r.pauses(&eps, &c.ids, how, crate::store::now())) {
            Some(r) => {
                let msg = format!("Paused by the endpoint's managers: {}", r.message);
                Err(terr(StatusCode::CONFLICT, "EndpointPaused", &msg, resource))
            }
            None => Ok(()),
        }
    }

    pub fn endpoint_doc(&self, ep: &Endpoint) -> Value {
        let owner = self.config.identity_by_username(&ep.owner);
        json!({
            "DATA_TYPE": "endpoint", "id": ep.id, "display_name": ep.display_name, "canonical_name": format!("{}#{}", ep.owner, ep.id),
            "entity_type": if ep.host_endpoint.is_some() { "GCP_guest_collection" } else { "GCP_mapped_collection" },
            "owner_string": ep.owner, "owner_id": owner.map(|o| o.id.clone()),
            "username": ep.owner, "description": ep.description, "keywords": ep.keywords.join(","), "organization": owner.map(|o| o.organization.clone()),
            "department": null, "contact_email": owner.map(|o| o.email.clone()), "contact_info": null, "info_link": null,
            "is_globus_connect": true, "gcp_connected": true, "gcp_paused": false, "gcs_manager_url": null,
            "gcs_version": null, "tlsftp_server": null, "https_server": null, "myproxy_server": null, "oauth_server": null,
            "high_assurance": ep.high_assurance, "authentication_assurance_timeout": if ep.high_assurance { json!(ep.policy.as_ref().and_then(|p| self.config.policies.iter().find(|x| &x.id == p)).map(|p| p.authentication_assurance_timeout / 60)) } else { Value::Null },
            "authentication_timeout_mins": null, "default_directory": ep.default_directory, "activated": true, "expires_in": -1,
            "expire_time": null, "non_functional": false, "non_functional_endpoint_id": null,
            "host_endpoint_id": ep.host_endpoint, "host_endpoint": ep.host_endpoint, "host_path": ep.host_path, "public": true, "shareable": true, "acl_available": true, "acl_editable": true,
            "disable_verify": false, "force_encryption": false, "force_verify": false, "mfa_required": false,
            "subscription_id": null, "local_user_info_available": false, "location": null, "network_use": "normal",
            "disable_anonymous_writes": false, "french_english_bilingual": false, "globus_connect_setup_key": null,
            "in_use": false, "myproxy_dn": null, "non_functional_endpoint_display_name": null, "s3_owner_activated": false,
            "s3_url": null,
            "DATA": [server_doc()],
        })
    }
}

/// The one server of every endpoint here (id 1): the service itself moves the bytes.
pub fn server_doc() -> Value {
    json!({"DATA_TYPE": "server", "id": 1, "hostname": "127.0.0.1", "uri": null, "scheme": "gsiftp", "port": null,
        "subject": null, "is_connected": true, "is_paused": false, "incoming_data_port_start": null,
        "incoming_data_port_end": null, "outgoing_data_port_start": null, "outgoing_data_port_end": null})
}

/// The permission the rules give the caller on a path: the owner has "rw"; otherwise the
/// best of the rules whose principal is the caller and whose path contains `parts`.
pub fn permission_with(c: &Caller, ep: &Endpoint, parts: &[String], rules: &[Rule]) -> Option<&'static str> {
    if c.usernames.iter().any(|u| u == &ep.owner) {
        return Some("rw");
    }
    let mut best: Option<&'static str> = None;
    for r in rules {
        let applies = match r.principal_type.as_str() {
            "identity" => c.ids.contains(&r.principal),
            "group" => c.groups.contains(&r.principal),
            "all_authenticated_users" | "anonymous" => true,
            _ => false,
        };
        let prefix = paths::components(&r.path).unwrap_or_default();
        if applies && paths::within(parts, &prefix) {
            best = match (best, r.permissions.as_str()) {
                (_, "rw") => Some("rw"),
                (None, "r") => Some("r"),
                (b, _) => b,
            };
        }
    }
    best
}

/// An access rule of an endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub principal_type: String,
    pub principal: String,
    pub path: String,
    pub permissions: String,
    pub create_time: String,
    pub expiration_date: Option<String>,
    pub notify_email: Option<String>,
}
