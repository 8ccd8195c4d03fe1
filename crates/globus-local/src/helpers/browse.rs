//! Browse Collections: `GET /helpers/browse-collections?action=URL[&method=POST|GET]
//! [&folderlimit=N][&filelimit=N][&label=…][&cancelurl=URL]`. The signed-in user picks a
//! collection and a folder in it (and, within the limits, folders and files there); the
//! choice is checked (the user may read it, the entries exist, the limits hold) and sent
//! to `action` with `endpoint_id`, `entity_type`, `high_assurance`, `path`, `label`,
//! `folder[0…]`, `file[0…]` and the page's own parameters echoed, as Globus sends them.

use super::{Callback, ResultPage, bad, callback, csrf_of, echoed, form_session, query, signed_in};
use crate::auth::records::Session;
use crate::config::Endpoint;
use crate::error::{GResult, html_error, render};
use crate::filter::Params;
use crate::service::Service;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// What the form token of this page is for.
const PURPOSE: &str = "browse-collections";
/// The parameters the page is opened with, and echoes back.
const ECHOED: &[&str] = &["action", "method", "cancelurl", "folderlimit", "filelimit"];
/// At most this many entries of a folder are shown.
const MAX_SHOWN: usize = 1000;

struct Opened {
    back: Callback,
    folderlimit: usize,
    filelimit: usize,
    echo: Vec<(String, String)>,
}

fn limit(p: &Params, key: &str) -> GResult<usize> {
    match p.get(key) {
        None | Some("") => Ok(usize::MAX),
        Some(v) => v.parse().map_err(|_| bad(&format!("{key} must be a whole number"))),
    }
}

fn opened(p: &Params) -> GResult<Opened> {
    Ok(Opened {
        back: callback(p)?,
        folderlimit: limit(p, "folderlimit")?,
        filelimit: limit(p, "filelimit")?,
        echo: echoed(p, ECHOED),
    })
}

struct Entry {
    name: String,
    dir: bool,
    open: String,
}

struct Listing {
    id: String,
    name: String,
    path: String,
    back: String,
    up: Option<String>,
    entries: Vec<Entry>,
}

#[derive(Template)]
#[template(path = "browse.html")]
struct BrowsePage<'a> {
    title: &'a str,
    who: &'a str,
    folderlimit: usize,
    filelimit: usize,
    echo: &'a [(String, String)],
    filter: &'a str,
    collections: Vec<(String, String, String)>,
    listing: Option<Listing>,
    label: &'a str,
    csrf: &'a str,
    cancel: Option<String>,
}

/// A folder path as the page shows it: absolute, ending in `/`.
fn folder_path(p: Option<&str>, ep: &Endpoint) -> String {
    let p = p.filter(|p| !p.is_empty()).unwrap_or(&ep.default_directory);
    if p.ends_with('/') { p.to_string() } else { format!("{p}/") }
}

/// The entries of a folder the caller may read: (name, is a folder), links left out.
async fn entries(s: &Service, sess: &Session, ep: &Endpoint, path: &str) -> GResult<Vec<(String, bool)>> {
    let mut c = crate::tasks::model::caller_of(s, &sess.primary).await;
    c.session = Some(sess.clone());
    let (_, real) = s
        .open_path(&c, ep, path, "r", false, "/helpers/browse-collections")
        .await
        .map_err(|_| html_error(StatusCode::FORBIDDEN, &format!("You may not read {path} on {}.", ep.display_name)))?;
    let real2 = real.clone();
    let found = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<(String, bool)>> {
        let mut v = vec![];
        for e in std::fs::read_dir(&real2)? {
            let e = e?;
            let t = e.file_type()?;
            if t.is_symlink() {
                continue;
            }
            v.push((e.file_name().to_string_lossy().into_owned(), t.is_dir()));
        }
        v.sort();
        Ok(v)
    })
    .await
    .map_err(|e| html_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?
    .map_err(|_| html_error(StatusCode::BAD_REQUEST, &format!("{path} is not a folder.")))?;
    Ok(found)
}

pub(super) async fn page(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    let eps = s.endpoints();
    let here = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let p = Params::parse(uri.query().unwrap_or(""));
    let o = match opened(&p) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let sess = match signed_in(&s, &headers, &here).await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    let who = s.config.identity_by_id(&sess.primary).map(|i| i.username.clone()).unwrap_or_default();
    let mut echo = o.echo.clone();
    if let Some(l) = p.get("label") {
        echo.push(("label".into(), l.to_string()));
    }
    let base = format!("/helpers/browse-collections?{}", query(&echo));
    let filter = p.get("filter").unwrap_or("").to_lowercase();
    let listing = match p.get("origin_id") {
        None => None,
        Some(id) => {
            let Some(ep) = eps.iter().find(|e| e.id == id) else {
                return html_error(StatusCode::NOT_FOUND, "No such collection.").into_response();
            };
            let path = folder_path(p.get("origin_path"), ep);
            let found = match entries(&s, &sess, ep, &path).await {
                Ok(f) => f,
                Err(e) => return e.into_response(),
            };
            let at = |path: &str| {
                format!(
                    "{base}&{}",
                    query(&[("origin_id".into(), ep.id.clone()), ("origin_path".into(), path.to_string())])
                )
            };
            let up = path
                .trim_end_matches('/')
                .rsplit_once('/')
                .map(|(parent, _)| format!("{parent}/"))
                .filter(|u| u.len() < path.len() && u != "/");
            Some(Listing {
                id: ep.id.clone(),
                name: ep.display_name.clone(),
                back: base.clone(),
                up: up.map(|u| at(&u)),
                entries: found
                    .into_iter()
                    .take(MAX_SHOWN)
                    .map(|(name, dir)| Entry { open: at(&format!("{path}{name}/")), name, dir })
                    .collect(),
                path,
            })
        }
    };
    let collections = eps
        .iter()
        .filter(|e| filter.is_empty() || e.display_name.to_lowercase().contains(&filter))
        .map(|e| (e.id.clone(), e.display_name.clone(), format!("{base}&origin_id={}", crate::auth::urlencode(&e.id))))
        .collect();
    let csrf = csrf_of(PURPOSE, &sess);
    render(&BrowsePage {
        title: "Choose files",
        who: &who,
        folderlimit: o.folderlimit,
        filelimit: o.filelimit,
        echo: &echo,
        filter: &filter,
        collections,
        listing,
        label: p.get("label").unwrap_or(""),
        csrf: &csrf,
        cancel: o.back.cancel,
    })
}

pub(super) async fn submit(State(s): State<Service>, headers: HeaderMap, body: String) -> Response {
    let eps = s.endpoints();
    let p = Params::parse(&body);
    let o = match opened(&p) {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    let sess = match form_session(&s, &headers, PURPOSE, &p).await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    let Some(ep) = p.get("origin_id").and_then(|id| eps.iter().find(|e| e.id == id)) else {
        return bad("choose a collection").into_response();
    };
    let path = folder_path(p.get("origin_path"), ep);
    let found = match entries(&s, &sess, ep, &path).await {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let (folders, files) = (p.all("folder"), p.all("file"));
    for (chosen, want_dir, max, what) in
        [(&folders, true, o.folderlimit, "folders"), (&files, false, o.filelimit, "files")]
    {
        if chosen.len() > max {
            return bad(&format!("choose at most {max} {what}")).into_response();
        }
        if let Some(x) = chosen.iter().find(|n| !found.iter().any(|(name, dir)| name == *n && *dir == want_dir)) {
            return bad(&format!("{x:?} is not one of the {what} in {path}")).into_response();
        }
    }
    let doc = s.endpoint_doc(ep);
    let mut fields: Vec<(String, String)> = vec![
        ("endpoint_id".into(), ep.id.clone()),
        ("entity_type".into(), doc["entity_type"].as_str().unwrap_or("").to_string()),
        ("high_assurance".into(), ep.high_assurance.to_string()),
        ("path".into(), path.clone()),
        ("label".into(), p.get("label").unwrap_or("").to_string()),
    ];
    fields.extend(folders.iter().enumerate().map(|(i, f)| (format!("folder[{i}]"), f.to_string())));
    fields.extend(files.iter().enumerate().map(|(i, f)| (format!("file[{i}]"), f.to_string())));
    fields.extend(o.echo.iter().cloned());
    let summary = format!("{} {path}: {} folders, {} files chosen.", ep.display_name, folders.len(), files.len());
    render(&ResultPage {
        title: "Send your choice",
        summary: &summary,
        method: o.back.method,
        action: &o.back.action,
        fields,
    })
}
