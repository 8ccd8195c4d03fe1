//! Globus Transfer v0.10: endpoints and search, file operations confined to each
//! endpoint's root, access rules, bookmarks, submission ids. Tasks are in `tasks.rs`.

use crate::auth::Session;
use crate::config::{Endpoint, Identity};
use crate::paths::{self, PathError};
use crate::service::Service;
use crate::store::{now, random_uuid};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::UNIX_EPOCH;

pub const TRANSFER_RS: &str = "transfer.api.globus.org";

pub fn routes() -> Router<Service> {
    Router::new()
        .route("/v0.10/endpoint_search", get(endpoint_search))
        .route("/v0.10/endpoint/{id}", get(endpoint_get))
        .route("/v0.10/operation/endpoint/{id}/ls", get(ls))
        .route("/v0.10/operation/endpoint/{id}/stat", get(stat))
        .route("/v0.10/operation/endpoint/{id}/mkdir", axum::routing::post(mkdir))
        .route("/v0.10/operation/endpoint/{id}/rename", axum::routing::post(rename))
        .route("/v0.10/submission_id", get(submission_id))
        .route("/v0.10/endpoint/{id}/access_list", get(access_list))
        .route("/v0.10/endpoint/{id}/access", axum::routing::post(access_create))
        .route("/v0.10/endpoint/{id}/access/{rule}", get(access_get).put(access_update).delete(access_delete))
        .route("/v0.10/bookmark_list", get(bookmark_list))
        .route("/v0.10/bookmark", axum::routing::post(bookmark_create))
        .route("/v0.10/bookmark/{id}", get(bookmark_get).put(bookmark_update).delete(bookmark_delete))
}

// ---------- errors ----------

/// A Transfer error document (always JSON).
pub fn terr(status: StatusCode, code: &str, message: &str, resource: &str) -> Response {
    (
        status,
        axum::Json(json!({"code": code, "message": message, "request_id": &random_uuid()[..9], "resource": resource})),
    )
        .into_response()
}

pub type TResult<T> = Result<T, Response>;

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
        let groups = crate::groups::groups_of(self, &t.identity).into_iter().map(|(g, _)| g.id).collect();
        let session = match &t.session {
            Some(id) => self.db.get("session", id).await.ok().flatten(),
            None => None,
        };
        Ok(Caller { identity: t.identity, ids, usernames, groups, session, scope: Some(t.scope) })
    }

    pub fn endpoint(&self, id: &str, resource: &str) -> TResult<&Endpoint> {
        self.config.endpoints.iter().find(|e| e.id == id).ok_or_else(|| {
            terr(StatusCode::NOT_FOUND, "EndpointNotFound", &format!("No such endpoint '{id}'"), resource)
        })
    }

    /// The caller's permission on a path of an endpoint: "rw", "r" or none.
    pub async fn permission(&self, c: &Caller, ep: &Endpoint, parts: &[String]) -> Option<&'static str> {
        let rules = self.rules(&ep.id).await;
        permission_with(c, ep, parts, &rules)
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
            let body = json!({"code": "ConsentRequired", "message": format!("Missing required data_access consent for {}", ep.display_name),
                "request_id": &random_uuid()[..9], "resource": resource, "required_scopes": [required]});
            return Err((StatusCode::FORBIDDEN, axum::Json(body)).into_response());
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
        let body = json!({"code": "AuthorizationRequired", "message": format!("Access to {} needs re-authentication", ep.display_name),
            "request_id": &random_uuid()[..9], "resource": resource, "authorization_parameters": params});
        Err((StatusCode::FORBIDDEN, axum::Json(body)).into_response())
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
        Ok((parts, real))
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
            "DATA": [{"DATA_TYPE": "server", "id": 1, "hostname": "127.0.0.1", "uri": null, "scheme": "gsiftp", "port": null,
                "subject": null, "is_connected": true, "is_paused": false, "incoming_data_port_start": null,
                "incoming_data_port_end": null, "outgoing_data_port_start": null, "outgoing_data_port_end": null}],
        })
    }
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

// ---------- endpoints ----------

async fn endpoint_get(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    let res = uri.path();
    if let Err(r) = s.transfer_caller(&headers, res).await {
        return r;
    }
    match s.endpoint(&id, res) {
        Ok(ep) => axum::Json(s.endpoint_doc(ep)).into_response(),
        Err(r) => r,
    }
}

async fn endpoint_search(
    State(s): State<Service>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let res = uri.path();
    let c = match s.transfer_caller(&headers, res).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let scope = q.get("filter_scope").map(String::as_str).unwrap_or("all");
    let text = q.get("filter_fulltext").map(|t| t.to_lowercase());
    let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100).min(1000);
    let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
    if scope == "all" && text.as_deref().is_none_or(str::is_empty) {
        return terr(StatusCode::BAD_REQUEST, "BadRequest", "filter_fulltext is required with filter_scope=all", res);
    }
    let mut used: Vec<String> = vec![];
    let mut active: Vec<String> = vec![];
    for (_, t) in s.db.list::<crate::tasks::Task>("task").await.unwrap_or_default() {
        if c.ids.contains(&t.owner) {
            used.extend([t.source_endpoint.clone(), t.destination_endpoint.clone()]);
            if t.status == "ACTIVE" {
                active.extend([t.source_endpoint.clone(), t.destination_endpoint.clone()]);
            }
        }
    }
    let mut shared = vec![];
    for ep in &s.config.endpoints {
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
    let page: Vec<Value> = hits.into_iter().skip(offset).take(limit).map(|e| s.endpoint_doc(e)).collect();
    axum::Json(json!({"DATA_TYPE": "endpoint_list", "offset": offset, "limit": limit,
        "has_next_page": offset + page.len() < total, "DATA": page}))
    .into_response()
}

// ---------- file operations ----------

fn file_doc(name: &str, meta: &std::fs::Metadata, link: Option<&std::fs::Metadata>) -> Value {
    use std::os::unix::fs::PermissionsExt;
    let m = link.unwrap_or(meta);
    let kind = if meta.file_type().is_symlink() && link.is_none() {
        "link"
    } else if m.is_dir() {
        "dir"
    } else {
        "file"
    };
    let mtime =
        m.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs() as i64).unwrap_or(0);
    json!({"DATA_TYPE": "file", "name": name, "type": kind, "size": m.len(), "permissions": format!("{:04o}", m.permissions().mode() & 0o7777),
        "user": "globus", "group": "globus", "last_modified": crate::tasks::globus_time(mtime),
        "link_target": null, "link_group": null, "link_last_modified": null, "link_size": null, "link_user": null})
}

async fn ls(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
        let c = s.transfer_caller(&headers, &res).await?;
        let ep = s.endpoint(&id, &res)?;
        let path = q.get("path").cloned().unwrap_or_else(|| ep.default_directory.clone());
        let (parts, real) = s.open_path(&c, ep, &path, "r", false, &res).await?;
        if !real.is_dir() {
            return Err(terr(
                StatusCode::NOT_FOUND,
                "ClientError.NotFound",
                &format!("Directory '{path}' not found on endpoint"),
                &res,
            ));
        }
        let hidden = q.get("show_hidden").is_none_or(|v| v == "1" || v == "true");
        let filter = q.get("filter").cloned().unwrap_or_default();
        let mut entries = vec![];
        let rd = std::fs::read_dir(&real)
            .map_err(|e| terr(StatusCode::FORBIDDEN, "ExternalError.DirListingFailed", &e.to_string(), &res))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !hidden && name.starts_with('.') {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(e.path()) else { continue };
            // Links are shown as what they point at, when that stays inside the root.
            let target = if meta.file_type().is_symlink() {
                if paths::is_inside(&e.path(), &ep.root) { std::fs::metadata(e.path()).ok() } else { None }
            } else {
                None
            };
            let doc = file_doc(&name, &meta, target.as_ref());
            if matches_filter(&doc, &filter) {
                entries.push(doc);
            }
        }
        entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let total = entries.len();
        let offset: usize = q.get("offset").and_then(|v| v.parse().ok()).unwrap_or(0);
        let limit: usize = q.get("limit").and_then(|v| v.parse().ok()).unwrap_or(100_000);
        let page: Vec<Value> = entries.into_iter().skip(offset).take(limit).collect();
        Ok(axum::Json(json!({"DATA_TYPE": "file_list", "endpoint": ep.id, "path": paths::display(&parts, true),
            "absolute_path": null, "length": page.len(), "total": total, "offset": offset, "limit": limit,
            "rename_supported": true, "symlink_supported": true, "DATA": page}))
        .into_response())
    }
    .await;
    r.unwrap_or_else(|e| e)
}

/// `name:~*.txt`, `name:=x`, `type:dir`, joined by `/`.
fn matches_filter(doc: &Value, filter: &str) -> bool {
    filter.split('/').filter(|f| !f.is_empty()).all(|f| {
        let Some((field, rest)) = f.split_once(':') else { return true };
        let val = doc[field].as_str().unwrap_or("");
        if let Some(pat) = rest.strip_prefix('~') {
            glob(pat, val)
        } else if let Some(v) = rest.strip_prefix('=') {
            val == v
        } else if let Some(v) = rest.strip_prefix("!=") {
            val != v
        } else {
            rest.split(',').any(|x| x == val)
        }
    })
}

fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pat.chars().collect(), s.chars().collect());
    fn m(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => m(&p[1..], t) || (!t.is_empty() && m(p, &t[1..])),
            (Some('?'), Some(_)) => m(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &t[1..]),
            _ => false,
        }
    }
    m(&p, &t)
}

async fn stat(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
        let c = s.transfer_caller(&headers, &res).await?;
        let ep = s.endpoint(&id, &res)?;
        let path = q.get("path").cloned().unwrap_or_default();
        let (parts, real) = s.open_path(&c, ep, &path, "r", false, &res).await?;
        let meta = std::fs::metadata(&real)
            .map_err(|_| terr(StatusCode::NOT_FOUND, "NotFound", &format!("{path} not found"), &res))?;
        let name = parts.last().cloned().unwrap_or_else(|| "/".into());
        Ok(axum::Json(file_doc(&name, &meta, None)).into_response())
    }
    .await;
    r.unwrap_or_else(|e| e)
}

async fn mkdir(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
        let c = s.transfer_caller(&headers, &res).await?;
        let ep = s.endpoint(&id, &res)?;
        let path = body["path"].as_str().unwrap_or("").to_string();
        let (_, real) = s.open_path(&c, ep, &path, "rw", true, &res).await?;
        if real.exists() {
            return Err(terr(
                StatusCode::CONFLICT,
                "ExternalError.MkdirFailed.Exists",
                &format!("Path already exists: {path}"),
                &res,
            ));
        }
        std::fs::create_dir(&real)
            .map_err(|e| terr(StatusCode::CONFLICT, "ExternalError.MkdirFailed", &e.to_string(), &res))?;
        Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"DATA_TYPE": "mkdir_result", "code": "DirectoryCreated",
            "message": "The directory was created successfully", "request_id": &random_uuid()[..9], "resource": res})),
        )
            .into_response())
    }
    .await;
    r.unwrap_or_else(|e| e)
}

async fn rename(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    let r: TResult<Response> = async {
        let c = s.transfer_caller(&headers, &res).await?;
        let ep = s.endpoint(&id, &res)?;
        let (old, new) = (body["old_path"].as_str().unwrap_or(""), body["new_path"].as_str().unwrap_or(""));
        let (_, from) = s.open_path(&c, ep, old, "rw", false, &res).await?;
        let (_, to) = s.open_path(&c, ep, new, "rw", true, &res).await?;
        if to.exists() {
            return Err(terr(
                StatusCode::CONFLICT,
                "ExternalError.RenameFailed.Exists",
                &format!("{new} exists"),
                &res,
            ));
        }
        std::fs::rename(&from, &to)
            .map_err(|e| terr(StatusCode::CONFLICT, "ExternalError.RenameFailed", &e.to_string(), &res))?;
        Ok(axum::Json(
            json!({"DATA_TYPE": "result", "code": "FileRenamed", "message": "File or directory renamed successfully",
            "request_id": &random_uuid()[..9], "resource": res}),
        )
        .into_response())
    }
    .await;
    r.unwrap_or_else(|e| e)
}

async fn submission_id(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    match s.transfer_caller(&headers, uri.path()).await {
        Ok(_) => axum::Json(json!({"DATA_TYPE": "submission_id", "value": random_uuid()})).into_response(),
        Err(r) => r,
    }
}

// ---------- access rules ----------

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

fn rule_doc(r: &Rule) -> Value {
    json!({"DATA_TYPE": "access", "id": r.id, "role_id": null, "role_type": null, "principal_type": r.principal_type,
        "principal": r.principal, "path": r.path, "permissions": r.permissions, "create_time": r.create_time,
        "expiration_date": r.expiration_date, "notify_email": r.notify_email})
}

/// Only the owner manages an endpoint's access rules.
async fn manager(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<()> {
    let c = s.transfer_caller(headers, res).await?;
    let ep = s.endpoint(id, res)?;
    if !c.usernames.contains(&ep.owner) {
        return Err(terr(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "Only the endpoint's owner manages its access rules",
            res,
        ));
    }
    s.assurance(&c, ep, res)
}

fn check_rule(s: &Service, v: &Value, res: &str) -> TResult<(String, String, String, String)> {
    let pt = v["principal_type"].as_str().unwrap_or("").to_string();
    let principal = v["principal"].as_str().unwrap_or("").to_string();
    let path = v["path"].as_str().unwrap_or("").to_string();
    let perms = v["permissions"].as_str().unwrap_or("").to_string();
    let bad = |m: &str| terr(StatusCode::BAD_REQUEST, "InvalidPath", m, res);
    match pt.as_str() {
        "identity" if s.config.identity_by_id(&principal).is_some() => {}
        "identity" => return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown identity", res)),
        "group" if s.config.groups.iter().any(|g| g.id == principal) => {}
        "group" => return Err(terr(StatusCode::BAD_REQUEST, "InvalidPrincipal", "Unknown group", res)),
        "all_authenticated_users" | "anonymous" if principal.is_empty() => {}
        _ => {
            return Err(terr(
                StatusCode::BAD_REQUEST,
                "InvalidPrincipal",
                "principal_type must be identity, group, all_authenticated_users or anonymous",
                res,
            ));
        }
    }
    if !path.starts_with('/') || !path.ends_with('/') || paths::components(&path).is_err() {
        return Err(bad("The path of an access rule must be an absolute directory path ending in '/'"));
    }
    if perms != "r" && perms != "rw" {
        return Err(terr(StatusCode::BAD_REQUEST, "InvalidPermissions", "permissions must be r or rw", res));
    }
    Ok((pt, principal, path, perms))
}

async fn access_list(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r;
    }
    let rules: Vec<Value> =
        s.db.list::<Rule>(&format!("acl:{id}")).await.unwrap_or_default().iter().map(|(_, r)| rule_doc(r)).collect();
    axum::Json(json!({"DATA_TYPE": "access_list", "endpoint": id, "length": rules.len(), "DATA": rules}))
        .into_response()
}

async fn access_create(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r;
    }
    let (pt, principal, path, perms) = match check_rule(&s, &body.0, &res) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let existing = s.db.list::<Rule>(&format!("acl:{id}")).await.unwrap_or_default();
    if existing.iter().any(|(_, r)| r.principal_type == pt && r.principal == principal && r.path == path) {
        return terr(StatusCode::CONFLICT, "Exists", "An access rule for this principal and path exists already", &res);
    }
    let rule = Rule {
        id: random_uuid(),
        principal_type: pt,
        principal,
        path,
        permissions: perms,
        create_time: crate::tasks::globus_time(now()),
        expiration_date: body["expiration_date"].as_str().map(str::to_string),
        notify_email: body["notify_email"].as_str().map(str::to_string),
    };
    if let Err(e) = s.db.put(&format!("acl:{id}"), &rule.id, &rule, None).await {
        return terr(StatusCode::INTERNAL_SERVER_ERROR, "ServiceUnavailable", &e.to_string(), &res);
    }
    (StatusCode::CREATED, axum::Json(json!({"DATA_TYPE": "access_create_result", "code": "Created", "access_id": rule.id,
        "id": rule.id, "message": "Access rule created successfully.", "request_id": &random_uuid()[..9], "resource": res})))
        .into_response()
}

async fn access_get(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r;
    }
    match s.db.get::<Rule>(&format!("acl:{id}"), &rule).await.ok().flatten() {
        Some(r) => axum::Json(rule_doc(&r)).into_response(),
        None => terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res),
    }
}

async fn access_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r;
    }
    let Some(mut r) = s.db.get::<Rule>(&format!("acl:{id}"), &rule).await.ok().flatten() else {
        return terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res);
    };
    if let Some(p) = body["permissions"].as_str() {
        if p != "r" && p != "rw" {
            return terr(StatusCode::BAD_REQUEST, "InvalidPermissions", "permissions must be r or rw", &res);
        }
        r.permissions = p.to_string();
    }
    if body.get("expiration_date").is_some() {
        r.expiration_date = body["expiration_date"].as_str().map(str::to_string);
    }
    let _ = s.db.put(&format!("acl:{id}"), &rule, &r, None).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Updated", "message": "Access rule updated successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}

async fn access_delete(
    State(s): State<Service>,
    headers: HeaderMap,
    Path((id, rule)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = manager(&s, &headers, &id, &res).await {
        return r;
    }
    if !s.db.delete(&format!("acl:{id}"), &rule).await.unwrap_or(false) {
        return terr(StatusCode::NOT_FOUND, "AccessRuleNotFound", &format!("No access rule '{rule}'"), &res);
    }
    axum::Json(json!({"DATA_TYPE": "result", "code": "Deleted", "message": "Access rule deleted successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}

// ---------- bookmarks ----------

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Bookmark {
    id: String,
    owner: String,
    name: String,
    endpoint_id: String,
    path: String,
    pinned: bool,
}

fn bookmark_doc(b: &Bookmark) -> Value {
    json!({"DATA_TYPE": "bookmark", "id": b.id, "name": b.name, "endpoint_id": b.endpoint_id, "path": b.path, "pinned": b.pinned})
}

async fn bookmarks_of(s: &Service, c: &Caller) -> Vec<Bookmark> {
    let mut out: Vec<Bookmark> = s
        .config
        .bookmarks
        .iter()
        .filter(|b| c.usernames.contains(&b.owner))
        .map(|b| Bookmark {
            id: b.id.clone(),
            owner: b.owner.clone(),
            name: b.name.clone(),
            endpoint_id: b.endpoint_id.clone(),
            path: b.path.clone(),
            pinned: false,
        })
        .collect();
    for (_, b) in s.db.list::<Bookmark>("bookmark").await.unwrap_or_default() {
        if c.ids.contains(&b.owner) {
            out.push(b);
        }
    }
    out
}

async fn bookmark_list(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    let c = match s.transfer_caller(&headers, uri.path()).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let list: Vec<Value> = bookmarks_of(&s, &c).await.iter().map(bookmark_doc).collect();
    axum::Json(json!({"DATA_TYPE": "bookmark_list", "DATA": list})).into_response()
}

async fn bookmark_create(State(s): State<Service>, headers: HeaderMap, uri: Uri, body: axum::Json<Value>) -> Response {
    let res = uri.path().to_string();
    let c = match s.transfer_caller(&headers, &res).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let name = body["name"].as_str().unwrap_or("").trim().to_string();
    let ep = body["endpoint_id"].as_str().unwrap_or("").to_string();
    let path = body["path"].as_str().unwrap_or("").to_string();
    if name.is_empty() || !path.starts_with('/') {
        return terr(StatusCode::BAD_REQUEST, "BadRequest", "A bookmark needs a name and an absolute path", &res);
    }
    if let Err(r) = s.endpoint(&ep, &res) {
        return r;
    }
    if bookmarks_of(&s, &c).await.iter().any(|b| b.name == name) {
        return terr(StatusCode::CONFLICT, "Exists", &format!("A bookmark named '{name}' exists already"), &res);
    }
    let b = Bookmark {
        id: random_uuid(),
        owner: c.identity.clone(),
        name,
        endpoint_id: ep,
        path,
        pinned: body["pinned"].as_bool().unwrap_or(false),
    };
    let _ = s.db.put("bookmark", &b.id, &b, None).await;
    (StatusCode::CREATED, axum::Json(bookmark_doc(&b))).into_response()
}

async fn own_bookmark(s: &Service, headers: &HeaderMap, id: &str, res: &str) -> TResult<Bookmark> {
    let c = s.transfer_caller(headers, res).await?;
    match s.db.get::<Bookmark>("bookmark", id).await.ok().flatten() {
        Some(b) if c.ids.contains(&b.owner) => Ok(b),
        _ => Err(terr(StatusCode::NOT_FOUND, "BookmarkNotFound", &format!("No bookmark '{id}'"), res)),
    }
}

async fn bookmark_get(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    match own_bookmark(&s, &headers, &id, uri.path()).await {
        Ok(b) => axum::Json(bookmark_doc(&b)).into_response(),
        Err(r) => r,
    }
}

async fn bookmark_update(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    uri: Uri,
    body: axum::Json<Value>,
) -> Response {
    let mut b = match own_bookmark(&s, &headers, &id, uri.path()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Some(n) = body["name"].as_str() {
        b.name = n.to_string();
    }
    if let Some(p) = body["pinned"].as_bool() {
        b.pinned = p;
    }
    let _ = s.db.put("bookmark", &b.id, &b, None).await;
    axum::Json(bookmark_doc(&b)).into_response()
}

async fn bookmark_delete(State(s): State<Service>, headers: HeaderMap, Path(id): Path<String>, uri: Uri) -> Response {
    let res = uri.path().to_string();
    if let Err(r) = own_bookmark(&s, &headers, &id, &res).await {
        return r;
    }
    let _ = s.db.delete("bookmark", &id).await;
    axum::Json(json!({"DATA_TYPE": "result", "code": "Deleted", "message": "Bookmark deleted successfully",
        "request_id": &random_uuid()[..9], "resource": res}))
    .into_response()
}

#[cfg(test)]
mod tests {
    #[test]
    fn filters_and_globs() {
        let doc = serde_json::json!({"name": "run1.txt", "type": "file"});
        assert!(super::matches_filter(&doc, "name:~*.txt"));
        assert!(super::matches_filter(&doc, "type:file/name:~run?.txt"));
        assert!(!super::matches_filter(&doc, "type:dir"));
        assert!(!super::matches_filter(&doc, "name:=run2.txt"));
        assert!(super::matches_filter(&doc, ""));
    }
}
