//! Select Group: `GET /helpers/select-group?action=URL[&method=POST|GET][&cancelurl=URL]
//! [&role=member|manager|admin][&filter=…]`. The signed-in user picks one of the groups
//! they are an active member of (with at least `role`, so that an application sharing
//! data with a group can ask for one the user manages); the choice is checked again and
//! sent to `action` with `group_id`, `group_name`, `role` (the user's role in it) and the
//! page's own parameters echoed, in the manner of Browse Collections.

use super::{ResultPage, bad, callback, csrf_of, echoed, form_session, signed_in};
use crate::auth::records::Session;
use crate::error::{GResult, render};
use crate::filter::Params;
use crate::groups::model::{GroupRole, StoredGroup};
use crate::service::Service;
use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};

const PURPOSE: &str = "select-group";
const ECHOED: &[&str] = &["action", "method", "cancelurl", "role"];

fn role_name(r: GroupRole) -> &'static str {
    match r {
        GroupRole::Member => "member",
        GroupRole::Manager => "manager",
        GroupRole::Admin => "admin",
    }
}

fn least_role(p: &Params) -> GResult<GroupRole> {
    match p.get("role") {
        None | Some("") | Some("member") => Ok(GroupRole::Member),
        Some("manager") => Ok(GroupRole::Manager),
        Some("admin") => Ok(GroupRole::Admin),
        Some(_) => Err(bad("role must be member, manager or admin")),
    }
}

/// The groups the session's person may choose, with their role, by name.
async fn choices(s: &Service, sess: &Session, least: GroupRole) -> Vec<(StoredGroup, GroupRole)> {
    let person = crate::groups::person(s, &sess.primary);
    let mut v: Vec<(StoredGroup, GroupRole)> = crate::groups::all(s)
        .await
        .into_iter()
        .filter_map(|g| g.role_of(&person).filter(|r| *r >= least).map(|r| (g, r)))
        .collect();
    v.sort_by(|a, b| a.0.name.to_lowercase().cmp(&b.0.name.to_lowercase()).then(a.0.id.cmp(&b.0.id)));
    v
}

struct Choice {
    id: String,
    name: String,
    description: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "select_group.html")]
struct SelectPage<'a> {
    title: &'a str,
    who: &'a str,
    least: &'a str,
    echo: &'a [(String, String)],
    filter: &'a str,
    groups: Vec<Choice>,
    csrf: &'a str,
    cancel: Option<String>,
}

pub(super) async fn page(State(s): State<Service>, headers: HeaderMap, uri: Uri) -> Response {
    let here = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let p = Params::parse(uri.query().unwrap_or(""));
    let (back, least) = match callback(&p).and_then(|b| Ok((b, least_role(&p)?))) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let sess = match signed_in(&s, &headers, &here).await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    let who = s.config.identity_by_id(&sess.primary).map(|i| i.username.clone()).unwrap_or_default();
    let filter = p.get("filter").unwrap_or("").trim().to_lowercase();
    let groups = choices(&s, &sess, least)
        .await
        .into_iter()
        .filter(|(g, _)| filter.is_empty() || g.name.to_lowercase().contains(&filter))
        .map(|(g, r)| Choice { id: g.id, name: g.name, description: g.description, role: role_name(r) })
        .collect();
    let echo = echoed(&p, ECHOED);
    render(&SelectPage {
        title: "Choose a group",
        who: &who,
        least: role_name(least),
        echo: &echo,
        filter: &filter,
        groups,
        csrf: &csrf_of(PURPOSE, &sess),
        cancel: back.cancel,
    })
}

pub(super) async fn submit(State(s): State<Service>, headers: HeaderMap, body: String) -> Response {
    let p = Params::parse(&body);
    let (back, least) = match callback(&p).and_then(|b| Ok((b, least_role(&p)?))) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let sess = match form_session(&s, &headers, PURPOSE, &p).await {
        Ok(sess) => sess,
        Err(r) => return r,
    };
    let Some(id) = p.get("group_id").filter(|g| !g.is_empty()) else {
        return bad("choose a group").into_response();
    };
    // Chosen again from what the person may choose now: a forged or stale id is refused.
    let Some((g, role)) = choices(&s, &sess, least).await.into_iter().find(|(g, _)| g.id == id) else {
        return bad(&format!("{id:?} is not one of your groups with the role {} or above", role_name(least)))
            .into_response();
    };
    let mut fields = vec![
        ("group_id".to_string(), g.id.clone()),
        ("group_name".to_string(), g.name.clone()),
        ("role".to_string(), role_name(role).to_string()),
    ];
    fields.extend(echoed(&p, ECHOED).into_iter().filter(|(k, _)| k != "role"));
    let summary = format!("Group {} chosen.", g.name);
    render(&ResultPage {
        title: "Send your choice",
        summary: &summary,
        method: back.method,
        action: &back.action,
        fields,
    })
}
