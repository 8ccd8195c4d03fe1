//! Globus Auth's helper pages for a signed-in user: `/v2/web/identities` (the identity
//! set), `/v2/web/consents` (what applications were allowed) and `/v2/web/logout`
//! (sign out), each taking `client_id`, `redirect_uri` and `redirect_name` to show the
//! application's name and a link back to it.

use super::signed_in;
use crate::auth::consents::Consent;
use crate::auth::grants::cookie;
use crate::error::render;
use crate::filter::Params;
use crate::service::Service;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    title: &'a str,
    who: &'a str,
    back: Option<(String, String)>,
    cont: Option<(String, String)>,
    identities: Vec<(String, String, String)>,
    show_consents: bool,
    consents: Vec<(String, String, String)>,
    /// The applications holding consents (client id, name), each with a rescind form.
    apps: Vec<(String, String)>,
    csrf: String,
}

/// The application's link: `redirect_uri` (an http(s) URL) named `redirect_name`.
fn app_link(p: &Params) -> Option<(String, String)> {
    let url = p.get("redirect_uri").filter(|u| u.starts_with("https://") || u.starts_with("http://"))?;
    Some((url.to_string(), p.get("redirect_name").unwrap_or("the application").to_string()))
}

async fn client_name(s: &Service, p: &Params) -> Option<String> {
    s.client(p.get("client_id")?).await.map(|c| c.name)
}

pub(super) async fn identities(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    page(&s, &headers, &uri, false).await
}

pub(super) async fn consents(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    page(&s, &headers, &uri, true).await
}

async fn page(s: &Service, headers: &HeaderMap, uri: &Uri, show_consents: bool) -> Response {
    let here = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let sess = match signed_in(s, headers, &here).await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    let p = Params::parse(uri.query().unwrap_or(""));
    let person = crate::groups::person(s, &sess.primary);
    let who = s.config.identity_by_id(&sess.primary).map(|i| i.username.clone()).unwrap_or_default();
    let identities = if show_consents {
        vec![]
    } else {
        person
            .iter()
            .filter_map(|id| s.config.identity_by_id(id))
            .map(|i| (i.username.clone(), i.name.clone(), i.organization.clone()))
            .collect()
    };
    let mut consents = vec![];
    let mut apps: Vec<(String, String)> = vec![];
    if show_consents {
        for id in &person {
            for (_, c) in s.db.list::<Consent>(&format!("consent:{id}")).await.unwrap_or_default() {
                let app = s.client(&c.client).await.map(|k| k.name).unwrap_or_else(|| c.client.clone());
                if !apps.iter().any(|(id, _)| id == &c.client) {
                    apps.push((c.client.clone(), app.clone()));
                }
                consents.push((app, c.scope_name, gantry_domain::time::rfc3339_utc_offset(c.created)));
            }
        }
        consents.sort();
        apps.sort_by(|a, b| a.1.cmp(&b.1));
    }
    let title = if show_consents { "Your consents" } else { "Your identities" };
    let csrf = csrf_of(&sess);
    render(&AccountPage {
        title,
        who: &who,
        back: app_link(&p),
        cont: None,
        identities,
        show_consents,
        consents,
        apps,
        csrf,
    })
}

/// The form token of a session for the consents page.
fn csrf_of(sess: &crate::auth::records::Session) -> String {
    crate::auth::records::sha_hex(&format!("consents|{}", sess.id))
}

#[derive(Debug, serde::Deserialize)]
pub(super) struct Rescind {
    csrf: String,
    client: String,
}

/// Rescinds every consent of the person to one application, and revokes that
/// application's tokens for them (as Globus does when a consent is rescinded).
pub(super) async fn rescind(
    State(s): State<Service>,
    headers: HeaderMap,
    crate::wire::PageForm(f): crate::wire::PageForm<Rescind>,
) -> Response {
    let sess = match signed_in(&s, &headers, "/v2/web/consents").await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    if !crate::auth::grants::constant_eq(&f.csrf, &csrf_of(&sess)) {
        let msg = "This form was not sent from the consents page.";
        return crate::error::html_error(axum::http::StatusCode::FORBIDDEN, msg).into_response();
    }
    let person = crate::groups::person(&s, &sess.primary);
    for id in &person {
        let kind = format!("consent:{id}");
        for (key, c) in s.db.list::<Consent>(&kind).await.unwrap_or_default() {
            if c.client == f.client {
                let _ = s.db.delete(&kind, &key).await;
            }
        }
    }
    for (key, t) in s.db.list::<crate::auth::records::Token>("token").await.unwrap_or_default() {
        if t.client_id == f.client && person.contains(&t.identity) {
            let _ = s.db.delete("token", &key).await;
        }
    }
    (axum::http::StatusCode::SEE_OTHER, [(header::LOCATION, "/v2/web/consents")]).into_response()
}

pub(super) async fn logout(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    if let Some(id) = cookie(&headers, "gl_session") {
        let _ = s.db.delete("session", &id).await;
    }
    let p = Params::parse(uri.query().unwrap_or(""));
    let title = match client_name(&s, &p).await {
        Some(name) => format!("Logged out of {name}"),
        None => "Logged out".to_string(),
    };
    let mut r = render(&AccountPage {
        title: &title,
        who: "",
        back: None,
        cont: app_link(&p),
        identities: vec![],
        show_consents: false,
        consents: vec![],
        apps: vec![],
        csrf: String::new(),
    });
    if let Ok(v) = HeaderValue::from_str("gl_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax") {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r.into_response()
}
