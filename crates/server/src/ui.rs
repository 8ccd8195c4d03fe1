//! The web UI's pages: home and search, collections, images, settings. Server-rendered
//! (askama), htmx for the parts that update; every form carries the session's CSRF
//! token; errors are the same domain errors the API uses, rendered as pages.

use crate::api::{download_url, image_detail, kind_of};
use crate::session::{WebSession, same_secret};
use crate::state::AppState;
use crate::web::{WebError, Who};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gantry_domain::{Access, CollectionName, Error, ImageRef, Principal, TokenScope, time};
use gantry_store::{IdentityRow, TaggedManifest};
use serde::Deserialize;
use serde_json::Value;

const HTMX: &[u8] = include_bytes!("../static/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("../static/gantry.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/static/{file}", get(asset))
        .route("/c/{name}", get(collection))
        .route("/c/{name}/settings", post(collection_settings))
        .route("/c/{name}/members", post(give_role))
        .route("/c/{name}/members/remove", post(remove_member))
        .route("/c/{name}/groups/remove", post(remove_group))
        .route("/i/{*reference}", get(image))
        .route("/settings", get(settings))
        .route("/settings/tokens", post(create_token))
        .route("/settings/tokens/{id}/revoke", post(revoke_token))
        .route("/settings/globus/disconnect", post(disconnect_globus))
        .route("/transfer", get(transfer_page).post(transfer_submit))
        .route("/transfer/mkdir", post(transfer_mkdir))
        .route("/tasks", get(tasks))
        .route("/tasks/table", get(tasks_table))
        .route("/tasks/{id}/cancel", post(task_cancel))
        .route("/admin", get(admin))
}

type WebResult<T> = std::result::Result<T, WebError>;

fn render(t: &impl Template) -> WebResult<Response> {
    let html = t.render().map_err(|e| Error::internal(format!("template: {e}")))?;
    Ok(Html(html).into_response())
}

pub fn human_size(n: i64) -> String {
    let n = n.max(0) as f64;
    match n {
        n if n >= 1024.0 * 1024.0 * 1024.0 => format!("{:.1} GiB", n / (1024.0 * 1024.0 * 1024.0)),
        n if n >= 1024.0 * 1024.0 => format!("{:.1} MiB", n / (1024.0 * 1024.0)),
        n if n >= 1024.0 => format!("{:.1} KiB", n / 1024.0),
        n => format!("{n} B"),
    }
}

/// The visitor, if signed in.
async fn visitor(st: &AppState, headers: &HeaderMap) -> WebResult<Option<WebSession>> {
    Ok(st.web_session(headers).await?)
}

fn who(s: &Option<WebSession>) -> Option<Who> {
    s.as_ref().map(Who::of)
}

fn principal(s: &Option<WebSession>) -> Option<Principal> {
    s.as_ref().map(WebSession::principal)
}

/// Pages that need a signed-in visitor send the others to sign in first.
fn to_login(path: &str) -> Response {
    let next = percent_encoding::utf8_percent_encode(path, percent_encoding::NON_ALPHANUMERIC);
    Redirect::to(&format!("/login?next={next}")).into_response()
}

async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript"),
        "gantry.css" => (CSS, "text/css"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

pub struct Card {
    pub reference: String,
    pub kind: &'static str,
    pub size: String,
    pub updated: String,
    pub architecture: String,
}

fn card(t: &TaggedManifest) -> Card {
    let info: Option<Value> = t.manifest.info.as_deref().and_then(|s| serde_json::from_str(s).ok());
    Card {
        reference: format!("{}:{}", t.repo, t.tag),
        kind: kind_of(&t.manifest),
        size: human_size(t.manifest.total_size),
        updated: time::rfc3339(t.manifest.created_at),
        architecture: info.as_ref().and_then(|i| i["architecture"].as_str()).unwrap_or("").to_string(),
    }
}

pub struct CollCard {
    pub name: String,
    pub visibility: &'static str,
    pub description: String,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    who: Option<Who>,
    q: String,
    images: Vec<Card>,
    collections: Vec<CollCard>,
}

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
}

async fn home(State(st): State<AppState>, headers: HeaderMap, q: Query<SearchQuery>) -> WebResult<Response> {
    let s = visitor(&st, &headers).await?;
    let p = principal(&s);
    let needle = q.q.trim().chars().take(200).collect::<String>();
    let (uid, admin) = (p.as_ref().map(|p| p.user_id), p.as_ref().is_some_and(|p| p.is_admin));
    let found = st.store.search_tagged(uid, admin, &needle.to_lowercase(), None, 48).await?;
    let collections = if needle.is_empty() {
        st.store
            .visible_collections(uid, admin)
            .await?
            .into_iter()
            .map(|c| CollCard {
                name: c.collection.name,
                visibility: c.collection.visibility.as_str(),
                description: c.collection.description,
            })
            .collect()
    } else {
        vec![]
    };
    render(&HomePage { who: who(&s), q: needle, images: found.iter().map(card).collect(), collections })
}

#[derive(Template)]
#[template(path = "collection.html")]
struct CollectionPage {
    who: Option<Who>,
    csrf: String,
    name: String,
    description: String,
    visibility: &'static str,
    role: Option<String>,
    images: Vec<Card>,
    manage: bool,
    members: Vec<(String, String)>,
    groups: Vec<(String, String)>,
}

async fn collection(State(st): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> WebResult<Response> {
    let s = visitor(&st, &headers).await?;
    let p = principal(&s);
    let cname = CollectionName::parse(&name)?;
    let (c, _) = st.collection_access(p.as_ref(), &cname, Access::Read).await?;
    let manage = st.collection_access(p.as_ref(), &cname, Access::Manage).await.is_ok();
    let (uid, admin) = (p.as_ref().map(|p| p.user_id), p.as_ref().is_some_and(|p| p.is_admin));
    let found = st.store.search_tagged(uid, admin, "", Some(cname.as_str()), 1000).await?;
    let role = match uid {
        Some(u) => st
            .store
            .collection_access(cname.as_str(), Some(u))
            .await?
            .and_then(|a| a.role)
            .map(|r| r.as_str().to_string()),
        None => None,
    };
    let (members, groups) = if manage {
        (
            st.store.list_members(c.id).await?.into_iter().map(|m| (m.username, m.role.as_str().to_string())).collect(),
            st.store
                .list_group_members(c.id)
                .await?
                .into_iter()
                .map(|g| (g.group_id, g.role.as_str().to_string()))
                .collect(),
        )
    } else {
        (vec![], vec![])
    };
    render(&CollectionPage {
        csrf: s.as_ref().map(|s| s.row.csrf.clone()).unwrap_or_default(),
        who: who(&s),
        name: c.name,
        description: c.description,
        visibility: c.visibility.as_str(),
        role,
        images: found.iter().map(card).collect(),
        manage,
        members,
        groups,
    })
}

#[derive(Template)]
#[template(path = "image.html")]
struct ImagePage {
    who: Option<Who>,
    reference: String,
    reference_q: String,
    collection: String,
    kind: String,
    digest: String,
    size: String,
    created: String,
    architecture: String,
    image_created: String,
    tags: Vec<String>,
    download_url: String,
    host: String,
    labels: Vec<(String, String)>,
    definition: Option<String>,
    files: Vec<(String, String, String)>,
    can_transfer: bool,
}

async fn image(State(st): State<AppState>, headers: HeaderMap, Path(reference): Path<String>) -> WebResult<Response> {
    let s = visitor(&st, &headers).await?;
    let p = principal(&s);
    let r = ImageRef::parse(&reference)?;
    let ctx = st.repo(p.as_ref(), &r.repo, Access::Read).await?;
    let row = st.resolve(&ctx.repo, &r.target).await?;
    let v = image_detail(&st, &ctx, &row).await?;
    let s_ = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let labels = v["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let files = v["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let path = f["path"].as_str().unwrap_or("").to_string();
            (path, human_size(f["size"].as_i64().unwrap_or(0)), f["download_url"].as_str().unwrap_or("").to_string())
        })
        .collect();
    let shown = r.to_string();
    let host = st.public_url.split("://").nth(1).unwrap_or(&st.public_url).to_string();
    render(&ImagePage {
        who: who(&s),
        reference_q: percent_encoding::utf8_percent_encode(&shown, percent_encoding::NON_ALPHANUMERIC).to_string(),
        reference: shown,
        collection: s_("collection"),
        kind: s_("kind"),
        digest: s_("digest"),
        size: human_size(v["size"].as_i64().unwrap_or(0)),
        created: s_("created"),
        architecture: s_("architecture"),
        image_created: s_("image_created"),
        tags: v["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        download_url: download_url(&st, ctx.repo.name.as_str(), &row.digest, None),
        host,
        labels,
        definition: v["definition"].as_str().map(str::to_string),
        files,
        can_transfer: s.is_some() && st.transfers.is_some() && matches!(s_("kind").as_str(), "sif" | "dataset"),
    })
}

pub struct TokenView {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub created: String,
    pub last_used: String,
}

pub struct GlobusView {
    pub username: String,
    pub connected_at: String,
    pub healthy: bool,
    pub last_error: Option<String>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    who: Option<Who>,
    user: gantry_store::User,
    provider: String,
    csrf: String,
    base: String,
    identities: Vec<IdentityRow>,
    groups: Vec<String>,
    tokens: Vec<TokenView>,
    new_token: Option<(String, String)>,
    message: Option<String>,
    transfers: bool,
    globus: Option<GlobusView>,
}

async fn settings_page(
    st: &AppState,
    s: &WebSession,
    new_token: Option<(String, String)>,
    message: Option<String>,
) -> WebResult<Response> {
    let u = &s.row.user;
    let tokens = st
        .store
        .list_tokens(u.id)
        .await?
        .into_iter()
        .map(|t| TokenView {
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            created: time::rfc3339(t.created_at),
            last_used: t.last_used_at.map(time::rfc3339).unwrap_or_else(|| "never".into()),
        })
        .collect();
    let globus = match st.store.globus_link(u.id).await? {
        Some(_) if st.transfers.is_some() => {
            let healthy = st.user_transfer_token(u.id).await.is_ok();
            st.store.globus_link(u.id).await?.map(|l| GlobusView {
                username: l.username,
                connected_at: time::rfc3339(l.connected_at),
                healthy,
                last_error: l.last_error,
            })
        }
        _ => None,
    };
    let mut r = render(&SettingsPage {
        who: Some(Who::of(s)),
        user: u.clone(),
        provider: s.row.provider.clone(),
        csrf: s.row.csrf.clone(),
        base: st.public_url.to_string(),
        identities: st.store.identities_of(u.id).await?,
        groups: st.store.user_groups(u.id).await?,
        tokens,
        new_token,
        message,
        transfers: st.transfers.is_some(),
        globus,
    })?;
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn settings(State(st): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    match visitor(&st, &headers).await? {
        Some(s) => settings_page(&st, &s, None, None).await,
        None => Ok(to_login("/settings")),
    }
}

/// The signed-in visitor of a form, whose CSRF token must match.
async fn form_session(st: &AppState, headers: &HeaderMap, csrf: &str) -> WebResult<WebSession> {
    let s = visitor(st, headers).await?.ok_or_else(|| Error::unauthorized("sign in first"))?;
    if !same_secret(csrf, &s.row.csrf) {
        return Err(
            Error::denied("the form has expired or did not come from this site; reload it and try again").into()
        );
    }
    Ok(s)
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    name: String,
    scope: TokenScope,
    #[serde(default)]
    expires_days: String,
}

async fn create_token(State(st): State<AppState>, headers: HeaderMap, f: Form<TokenForm>) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let expires_days = match f.expires_days.trim() {
        "" => None,
        d => Some(
            d.parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| Error::invalid("expiry is 1 to 3650 days"))?,
        ),
    };
    let (token, row) = st.issue_api_token(s.row.user.id, &f.name, f.scope, expires_days).await?;
    settings_page(&st, &s, Some((token, row.name)), None).await
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn revoke_token(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    if !st.store.revoke_token(s.row.user.id, id).await? {
        return Err(Error::not_found("no such token").into());
    }
    settings_page(&st, &s, None, Some("The token was revoked.".into())).await
}

async fn disconnect_globus(State(st): State<AppState>, headers: HeaderMap, f: Form<CsrfForm>) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    st.disconnect_globus(s.row.user.id).await?;
    settings_page(&st, &s, None, Some("Globus is disconnected; the tokens were revoked.".into())).await
}

// ---------- transfer and tasks ----------

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[derive(Template)]
#[template(path = "transfer.html")]
struct TransferPage {
    who: Option<Who>,
    csrf: String,
    reference: String,
    reference_q: String,
    here_q: String,
    connected: bool,
    error: Option<String>,
    /// Where to sign in again when a collection's policy asks for it.
    reauth: Option<String>,
    q: String,
    q_q: String,
    scope: String,
    scopes: Vec<(&'static str, &'static str)>,
    searched: bool,
    endpoints: Vec<(String, String, String)>,
    endpoint: Option<(String, String)>,
    path: String,
    up: Option<String>,
    folders: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct TransferQuery {
    #[serde(rename = "ref")]
    reference: String,
    #[serde(default)]
    q: String,
    scope: Option<String>,
    endpoint: Option<String>,
    path: Option<String>,
}

/// `/a/b/` → `/a/`; the root and `/~/` have no parent shown.
fn parent_of(path: &str) -> Option<String> {
    let t = path.trim_end_matches('/');
    if t.is_empty() || t == "/~" {
        return None;
    }
    t.rfind('/').map(|i| format!("{}/", &t[..i]))
}

async fn transfer_page(State(st): State<AppState>, headers: HeaderMap, q: Query<TransferQuery>) -> WebResult<Response> {
    let here = format!("/transfer?ref={}", enc(&q.reference));
    let Some(s) = visitor(&st, &headers).await? else { return Ok(to_login(&here)) };
    let p = s.principal();
    // Only those who may pull the image get this far.
    let image = ImageRef::parse(&q.reference)?;
    st.repo(Some(&p), &image.repo, Access::Read).await?;
    if st.transfers.is_none() {
        return Err(Error::new(
            gantry_domain::ErrorKind::Unsupported,
            "this server is not set up for Globus transfers",
        )
        .into());
    }
    let connected = st.store.globus_link(p.user_id).await?.is_some();
    let scope = q.scope.clone().unwrap_or_else(|| "my-endpoints".into());
    let mut page = TransferPage {
        who: Some(Who::of(&s)),
        csrf: s.row.csrf.clone(),
        reference_q: enc(&q.reference),
        reference: q.reference.clone(),
        here_q: enc(&here),
        connected,
        error: None,
        reauth: None,
        q_q: enc(&q.q),
        q: q.q.clone(),
        scope: scope.clone(),
        scopes: vec![
            ("my-endpoints", "my endpoints"),
            ("shared-with-me", "shared with me"),
            ("recently-used", "recently used"),
            ("all", "all endpoints"),
        ],
        searched: false,
        endpoints: vec![],
        endpoint: None,
        path: q.path.clone().unwrap_or_else(|| "/~/".into()),
        up: None,
        folders: vec![],
    };
    if connected {
        let found = st.endpoint_search(p.user_id, Some(q.q.trim()).filter(|x| !x.is_empty()), &scope, 25).await;
        match found {
            Ok(eps) => {
                page.searched = true;
                page.endpoints = eps
                    .iter()
                    .map(|e| {
                        let s = |k: &str| e[k].as_str().unwrap_or("").to_string();
                        (s("id"), s("display_name"), format!("{} · {}", s("owner"), s("description")))
                    })
                    .collect();
            }
            Err(e) => page.error = Some(e.public_message().to_string()),
        }
        if let Some(ep) = &q.endpoint {
            match st.endpoint_ls(p.user_id, ep, &page.path).await {
                Ok(v) => {
                    let name =
                        page.endpoints.iter().find(|e| &e.0 == ep).map(|e| e.1.clone()).unwrap_or_else(|| ep.clone());
                    let base = v["path"].as_str().map(str::to_string).unwrap_or_else(|| page.path.clone());
                    page.path = if base.ends_with('/') { base } else { format!("{base}/") };
                    page.up = parent_of(&page.path).map(|u| enc(&u));
                    page.folders = v["entries"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|e| e["type"] == "dir")
                        .filter_map(|e| e["name"].as_str())
                        .map(|n| (n.to_string(), enc(&format!("{}{n}/", page.path))))
                        .collect();
                    page.endpoint = Some((ep.clone(), name));
                }
                Err(e) => {
                    if let Some(params) = &e.authorization_parameters {
                        let next = format!("{here}&endpoint={}&path={}", enc(ep), enc(&page.path));
                        page.reauth = Some(format!("{}&next={}", crate::transfers::reauth_link(params), enc(&next)));
                    }
                    let msg = e.public_message();
                    page.error = Some(msg.split(" Sign in again with Globus:").next().unwrap_or(msg).to_string());
                }
            }
        }
    }
    render(&page)
}

#[derive(Deserialize)]
struct MkdirForm {
    csrf: String,
    #[serde(rename = "ref")]
    reference: String,
    endpoint: String,
    path: String,
    name: String,
}

async fn transfer_mkdir(State(st): State<AppState>, headers: HeaderMap, f: Form<MkdirForm>) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let name = f.name.trim();
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::invalid("a folder name is not empty and has no '/'").into());
    }
    let path = format!("{}/{name}/", f.path.trim_end_matches('/'));
    st.endpoint_mkdir(s.row.user.id, &f.endpoint, &path).await?;
    Ok(Redirect::to(&format!("/transfer?ref={}&endpoint={}&path={}", enc(&f.reference), enc(&f.endpoint), enc(&path)))
        .into_response())
}

#[derive(Deserialize)]
struct SubmitForm {
    csrf: String,
    #[serde(rename = "ref")]
    reference: String,
    endpoint_id: String,
    path: String,
    #[serde(default)]
    label: String,
}

async fn transfer_submit(State(st): State<AppState>, headers: HeaderMap, f: Form<SubmitForm>) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let label = Some(f.label.trim().to_string()).filter(|l| !l.is_empty());
    let body = crate::transfers::NewTransfer {
        reference: f.reference.clone(),
        endpoint_id: f.endpoint_id.clone(),
        path: f.path.clone(),
        label,
        sync_level: None,
    };
    st.start_transfer(&s.principal(), &body).await?;
    Ok(Redirect::to("/tasks").into_response())
}

pub struct TaskRow {
    pub id: String,
    pub reference: String,
    pub endpoint: String,
    pub path: String,
    pub status: String,
    pub error: Option<String>,
    pub bytes: String,
    pub total: String,
    pub rate: String,
    pub faults: i64,
    pub active: bool,
    pub globus_url: Option<String>,
}

#[derive(Template)]
#[template(path = "tasks.html")]
struct TasksPage {
    who: Option<Who>,
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
    message: Option<String>,
}

#[derive(Template)]
#[template(path = "tasks_table.html")]
struct TasksTable {
    csrf: String,
    rows: Vec<TaskRow>,
    live: bool,
}

async fn task_rows(st: &AppState, user_id: i64) -> WebResult<(Vec<TaskRow>, bool)> {
    let rows: Vec<TaskRow> = st
        .store
        .transfers_of(user_id, 100)
        .await?
        .into_iter()
        .map(|t| TaskRow {
            globus_url: crate::transfers::globus_task_url(st, &t),
            active: !t.is_final(),
            id: t.id,
            reference: t.image_ref,
            endpoint: t.endpoint_name.clone().unwrap_or(t.endpoint_id),
            path: t.path,
            status: t.status,
            error: t.error,
            bytes: human_size(t.bytes_transferred),
            total: human_size(t.bytes_total),
            rate: format!("{}/s", human_size(t.rate)),
            faults: t.faults,
        })
        .collect();
    // The table refreshes itself while a transfer is under way or not yet cleaned up.
    let live = rows.iter().any(|r| r.active);
    Ok((rows, live))
}

async fn tasks(State(st): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    let Some(s) = visitor(&st, &headers).await? else { return Ok(to_login("/tasks")) };
    let (rows, live) = task_rows(&st, s.row.user.id).await?;
    render(&TasksPage { who: Some(Who::of(&s)), csrf: s.row.csrf.clone(), rows, live, message: None })
}

async fn tasks_table(State(st): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    let s = visitor(&st, &headers).await?.ok_or_else(|| Error::unauthorized("sign in first"))?;
    let (rows, live) = task_rows(&st, s.row.user.id).await?;
    render(&TasksTable { csrf: s.row.csrf.clone(), rows, live })
}

async fn task_cancel(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    f: Form<CsrfForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    st.cancel_transfer(&s.principal(), &id).await?;
    Ok(Redirect::to("/tasks").into_response())
}

// ---------- admin ----------

#[derive(Template)]
#[template(path = "admin.html")]
struct AdminPage {
    who: Option<Who>,
    users: Vec<(String, bool, String)>,
    collections: Vec<CollCard>,
    jobs: Vec<(String, String, String, String)>,
}

async fn admin(State(st): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    let Some(s) = visitor(&st, &headers).await? else { return Ok(to_login("/admin")) };
    if !s.row.user.is_admin {
        return Err(Error::denied("this page is for administrators").into());
    }
    let users = st
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|u| (u.username, u.is_admin, time::rfc3339(u.created_at)))
        .collect();
    let collections = st
        .store
        .visible_collections(None, true)
        .await?
        .into_iter()
        .map(|c| CollCard {
            name: c.collection.name,
            visibility: c.collection.visibility.as_str(),
            description: c.collection.description,
        })
        .collect();
    let mut jobs = vec![];
    for t in st.store.unclean_transfers().await? {
        let who = st.store.user_by_id(t.user_id).await?.map(|u| u.username).unwrap_or_default();
        jobs.push((t.id, who, t.image_ref, t.status));
    }
    render(&AdminPage { who: Some(Who::of(&s)), users, collections, jobs })
}

// ---------- managing a collection ----------

/// The collection a form manages: the visitor must be one of its owners (or an admin).
async fn managed(st: &AppState, s: &WebSession, name: &str) -> WebResult<gantry_store::Collection> {
    let cname = CollectionName::parse(name)?;
    Ok(st.collection_access(Some(&s.principal()), &cname, Access::Manage).await?.0)
}

fn back_to(name: &str) -> Response {
    Redirect::to(&format!("/c/{name}")).into_response()
}

#[derive(Deserialize)]
struct SettingsForm {
    csrf: String,
    visibility: gantry_domain::Visibility,
    #[serde(default)]
    description: String,
}

async fn collection_settings(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<SettingsForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let c = managed(&st, &s, &name).await?;
    crate::api::check_description(&f.description)?;
    st.store.update_collection(c.id, Some(f.visibility), Some(f.description.trim())).await?;
    Ok(back_to(&name))
}

#[derive(Deserialize)]
struct RoleForm {
    csrf: String,
    kind: String,
    who: String,
    role: gantry_domain::Role,
}

async fn give_role(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<RoleForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let c = managed(&st, &s, &name).await?;
    if f.kind == "group" {
        let g = crate::api::group_id(f.who.trim())?;
        st.store.set_group_member(c.id, &g, f.role).await?;
    } else {
        st.set_user_role(c.id, f.who.trim(), f.role).await?;
    }
    Ok(back_to(&name))
}

#[derive(Deserialize)]
struct WhoForm {
    csrf: String,
    who: String,
}

async fn remove_member(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<WhoForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let c = managed(&st, &s, &name).await?;
    st.remove_user_role(c.id, &f.who).await?;
    Ok(back_to(&name))
}

async fn remove_group(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    f: Form<WhoForm>,
) -> WebResult<Response> {
    let s = form_session(&st, &headers, &f.csrf).await?;
    let c = managed(&st, &s, &name).await?;
    st.store.remove_group_member(c.id, &crate::api::group_id(&f.who)?).await?;
    Ok(back_to(&name))
}
