//! The office's HTTP contract, as a facility's user office answers Gantry:
//!
//! - `POST /api/login/` (`username`, `password`): `{"username", "id", "name", "email"}`, or 401;
//! - `GET /api/experiments/{username}/?search=&ordering=&page=&page_size=`: a page
//!   (`count`, `next`, `previous`, `results`) of the user's experiments with sessions;
//! - `POST /api/umbrella/` (`eaa_hash`): `{"login": USERNAME}`, or 404;
//! - `POST /api/authorized/` (`login`): `{"result": true|false}`.
//!
//! All but the login need the client's HTTP Basic credentials.

use crate::config::{Experiment, OfficeConfig};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// The running office. Its configuration can be changed while it runs (as a real
/// office's records change): `set`.
#[derive(Clone)]
pub struct Office {
    config: Arc<RwLock<OfficeConfig>>,
    pub base_url: Arc<str>,
}

impl Office {
    pub fn new(config: OfficeConfig, base_url: &str) -> Office {
        Office { config: Arc::new(RwLock::new(config)), base_url: base_url.trim_end_matches('/').into() }
    }
    /// What the office knows now.
    pub fn config(&self) -> OfficeConfig {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    /// Changes what the office knows (members, experiments, users).
    pub fn set(&self, change: impl FnOnce(&mut OfficeConfig)) {
        change(&mut self.config.write().unwrap_or_else(|e| e.into_inner()));
    }
    fn read(&self) -> std::sync::RwLockReadGuard<'_, OfficeConfig> {
        self.config.read().unwrap_or_else(|e| e.into_inner())
    }
}

pub fn routes() -> Router<Office> {
    Router::new()
        .route("/api/login/", post(login))
        .route("/api/experiments/{username}/", get(experiments))
        .route("/api/umbrella/", post(umbrella))
        .route("/api/authorized/", post(authorized))
}

fn error(status: StatusCode, detail: &str) -> Response {
    (status, Json(json!({ "detail": detail }))).into_response()
}

/// The client's Basic credentials, or 401.
fn client(o: &Office, headers: &HeaderMap) -> Result<(), Response> {
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    let want = {
        let c = o.read();
        format!("{}:{}", c.client_username, c.client_password)
    };
    match sent {
        Some(s) if s == want => Ok(()),
        _ => {
            let mut r = error(StatusCode::UNAUTHORIZED, "Authentication credentials were not provided.");
            r.headers_mut().insert(header::WWW_AUTHENTICATE, "Basic realm=\"user office\"".parse().unwrap());
            Err(r)
        }
    }
}

async fn login(State(o): State<Office>, Form(f): Form<HashMap<String, String>>) -> Response {
    let (u, p) = (f.get("username").map(|s| s.trim()), f.get("password"));
    let cfg = o.read();
    match cfg.users.iter().find(|x| Some(x.username.as_str()) == u && Some(&x.password) == p) {
        Some(x) => {
            Json(json!({"username": x.username, "id": x.username, "name": x.name, "email": x.email})).into_response()
        }
        None => error(StatusCode::UNAUTHORIZED, "Invalid username or password."),
    }
}

#[derive(Deserialize)]
struct PageQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    ordering: String,
    page: Option<usize>,
    page_size: Option<usize>,
}

fn doc(e: &Experiment) -> Value {
    let sessions: Vec<Value> = e
        .sessions
        .iter()
        .map(|s| {
            json!({"session_number": s.session_number, "subject": s.subject, "body": s.body,
                   "start_date": s.start_date, "end_date": s.end_date, "data_set_path": s.data_set_path})
        })
        .collect();
    json!({"proposal_id": e.proposal_id, "subject": e.subject, "body": e.body, "beam_line": e.beam_line,
           "uid": e.uid, "gid": e.gid, "sessions": sessions})
}

async fn experiments(
    State(o): State<Office>,
    headers: HeaderMap,
    Path(username): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    if let Err(r) = client(&o, &headers) {
        return r;
    }
    let cfg = o.read();
    if !cfg.users.iter().any(|u| u.username == username) {
        return error(StatusCode::NOT_FOUND, "No such user.");
    }
    let needle = q.search.to_lowercase();
    let mut found: Vec<&Experiment> = cfg
        .experiments
        .iter()
        .filter(|e| e.members.contains(&username))
        .filter(|e| {
            needle.is_empty()
                || [&e.proposal_id, &e.subject, &e.body, &e.beam_line]
                    .iter()
                    .any(|f| f.to_lowercase().contains(&needle))
        })
        .collect();
    let (key, desc) = match q.ordering.strip_prefix('-') {
        Some(k) => (k, true),
        None => (q.ordering.as_str(), false),
    };
    match key {
        "" | "proposal_id" => found.sort_by(|a, b| a.proposal_id.cmp(&b.proposal_id)),
        "subject" => found.sort_by(|a, b| a.subject.cmp(&b.subject)),
        _ => return error(StatusCode::BAD_REQUEST, "Unknown ordering."),
    }
    if desc {
        found.reverse();
    }
    let size = q.page_size.unwrap_or(10).clamp(1, 100);
    let page = q.page.unwrap_or(1);
    let pages = found.len().div_ceil(size).max(1);
    if page == 0 || page > pages {
        return error(StatusCode::NOT_FOUND, "Invalid page.");
    }
    let link = |p: usize| {
        let mut u = format!("{}/api/experiments/{username}/?page={p}&page_size={size}", o.base_url);
        if !q.search.is_empty() {
            u.push_str(&format!("&search={}", enc(&q.search)));
        }
        if !q.ordering.is_empty() {
            u.push_str(&format!("&ordering={}", enc(&q.ordering)));
        }
        u
    };
    let results: Vec<Value> = found.iter().skip((page - 1) * size).take(size).map(|e| doc(e)).collect();
    Json(json!({
        "count": found.len(),
        "next": (page < pages).then(|| link(page + 1)),
        "previous": (page > 1).then(|| link(page - 1)),
        "results": results,
    }))
    .into_response()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn umbrella(State(o): State<Office>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    if let Err(r) = client(&o, &headers) {
        return r;
    }
    let hash = f.get("eaa_hash").map(|s| s.trim()).unwrap_or_default();
    let cfg = o.read();
    match cfg.users.iter().find(|u| !hash.is_empty() && u.eaa_hash.as_deref() == Some(hash)) {
        Some(u) => Json(json!({ "login": u.username })).into_response(),
        None => error(StatusCode::NOT_FOUND, "No user has this Umbrella hash."),
    }
}

async fn authorized(State(o): State<Office>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    if let Err(r) = client(&o, &headers) {
        return r;
    }
    let login = f.get("login").map(|s| s.trim()).unwrap_or_default();
    let result = o.read().users.iter().any(|u| u.username == login && u.authorized);
    Json(json!({ "result": result })).into_response()
}
