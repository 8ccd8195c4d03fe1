//! The batch of membership actions (`POST /v2/groups/{id}`) that `GroupsManager` and
//! `globus group member …` send. Each action is done or refused on its own; the answer
//! lists, per action, the memberships it changed and the errors of the rest.
//!
//! Who may: administrators and managers add, invite, remove, approve and reject
//! (a manager neither grants nor removes the administrator role); only administrators
//! change roles; a person accepts, declines, joins, asks to join and leaves for
//! themselves. A group keeps at least one active administrator.

use super::api::preferences_of;
use super::model::*;
use super::{groups_caller, save};
use crate::error::{GResult, auth_error};
use crate::service::Service;
use crate::store::now;
use crate::wire::AuthJson;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// At most this many identities in one batch.
const MAX_BATCH: usize = 100;

#[derive(Debug, Deserialize)]
pub(super) struct Target {
    identity_id: String,
    role: Option<GroupRole>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Add,
    Invite,
    Remove,
    Approve,
    Reject,
    Accept,
    Decline,
    Join,
    RequestJoin,
    Leave,
    ChangeRole,
}

impl Action {
    const ALL: [(&'static str, Action); 11] = [
        ("add", Action::Add),
        ("invite", Action::Invite),
        ("remove", Action::Remove),
        ("approve", Action::Approve),
        ("reject", Action::Reject),
        ("accept", Action::Accept),
        ("decline", Action::Decline),
        ("join", Action::Join),
        ("request_join", Action::RequestJoin),
        ("leave", Action::Leave),
        ("change_role", Action::ChangeRole),
    ];
}

/// Why one action on one identity was refused: `(code, detail)`.
type Refusal = (&'static str, String);

fn refuse(code: &'static str, detail: impl Into<String>) -> Result<Member, Refusal> {
    Err((code, detail.into()))
}

struct Ctx<'a> {
    s: &'a Service,
    person: &'a [String],
    role: Option<GroupRole>,
}

impl Ctx<'_> {
    fn staff(&self) -> bool {
        matches!(self.role, Some(GroupRole::Admin | GroupRole::Manager))
    }
}

async fn act(c: &Ctx<'_>, g: &mut StoredGroup, action: Action, t: &Target) -> Result<Member, Refusal> {
    let id = t.identity_id.as_str();
    let Some(ident) = c.s.config.identity_by_id(id) else {
        return refuse("IDENTITY_NOT_FOUND", format!("{id} is not an identity"));
    };
    let own = c.person.iter().any(|p| p == id);
    let role = t.role.unwrap_or(GroupRole::Member);
    let current = g.members.iter().find(|m| m.identity_id == id).map(|m| (m.status, m.role));
    let admins = g.active_admins();
    let is_last_admin = current == Some((MemberStatus::Active, GroupRole::Admin)) && admins <= 1;
    let next: (MemberStatus, GroupRole) = match action {
        Action::Add | Action::Invite => {
            if !c.staff() {
                return refuse("FORBIDDEN", "only administrators and managers add or invite members");
            }
            if role == GroupRole::Admin && c.role != Some(GroupRole::Admin) {
                return refuse("FORBIDDEN", "only administrators make administrators");
            }
            if matches!(current, Some((MemberStatus::Active | MemberStatus::Invited, _))) {
                return refuse("MEMBERSHIP_EXISTS", format!("{} is already in the group", ident.username));
            }
            if action == Action::Add && !own && !preferences_of(c.s, id).await {
                return refuse("ADD_NOT_ALLOWED", format!("{} asks to be invited, not added", ident.username));
            }
            (if action == Action::Add { MemberStatus::Active } else { MemberStatus::Invited }, role)
        }
        Action::Remove => match current {
            Some((MemberStatus::Removed | MemberStatus::Left, _)) | None => {
                return refuse("MEMBERSHIP_NOT_FOUND", "not a member");
            }
            Some((_, r)) if !c.staff() || (r == GroupRole::Admin && c.role != Some(GroupRole::Admin)) => {
                return refuse("FORBIDDEN", "administrators remove members, managers remove non-administrators");
            }
            _ if is_last_admin => return refuse("LAST_ADMIN", "a group keeps at least one administrator"),
            Some((_, r)) => (MemberStatus::Removed, r),
        },
        Action::Approve | Action::Reject => match current {
            Some((MemberStatus::Pending, r)) if c.staff() => {
                (if action == Action::Approve { MemberStatus::Active } else { MemberStatus::Rejected }, r)
            }
            Some((MemberStatus::Pending, _)) => return refuse("FORBIDDEN", "administrators and managers decide"),
            _ => return refuse("MEMBERSHIP_NOT_FOUND", "no pending request to join"),
        },
        Action::Accept | Action::Decline => match current {
            Some((MemberStatus::Invited, r)) if own => {
                (if action == Action::Accept { MemberStatus::Active } else { MemberStatus::Declined }, r)
            }
            Some((MemberStatus::Invited, _)) => return refuse("FORBIDDEN", "only the invited identity answers"),
            _ => return refuse("MEMBERSHIP_NOT_FOUND", "no invitation"),
        },
        Action::Join | Action::RequestJoin => {
            if !own {
                return refuse("FORBIDDEN", "one joins for oneself");
            }
            if matches!(current, Some((MemberStatus::Active | MemberStatus::Pending, _))) {
                return refuse("MEMBERSHIP_EXISTS", "already a member or waiting for approval");
            }
            let invited = matches!(current, Some((MemberStatus::Invited, _)));
            let open = g.policies.group_visibility == Visibility::Authenticated;
            match action {
                Action::Join if invited => (MemberStatus::Active, current.map_or(role, |c| c.1)),
                Action::Join => return refuse("FORBIDDEN", "this group is joined by invitation or by request"),
                _ if open && g.policies.join_requests => (MemberStatus::Pending, GroupRole::Member),
                _ => return refuse("FORBIDDEN", "this group does not take requests to join"),
            }
        }
        Action::Leave => match current {
            Some((MemberStatus::Active, _)) if !own => return refuse("FORBIDDEN", "one leaves for oneself"),
            _ if is_last_admin => return refuse("LAST_ADMIN", "a group keeps at least one administrator"),
            Some((MemberStatus::Active, r)) => (MemberStatus::Left, r),
            _ => return refuse("MEMBERSHIP_NOT_FOUND", "not an active member"),
        },
        Action::ChangeRole => match current {
            _ if c.role != Some(GroupRole::Admin) => return refuse("FORBIDDEN", "only administrators change roles"),
            Some((MemberStatus::Active | MemberStatus::Invited, _)) if t.role.is_none() => {
                return refuse("BAD_REQUEST", "change_role needs a role");
            }
            _ if is_last_admin && role != GroupRole::Admin => {
                return refuse("LAST_ADMIN", "a group keeps at least one administrator");
            }
            Some((st @ (MemberStatus::Active | MemberStatus::Invited), _)) => (st, role),
            _ => return refuse("MEMBERSHIP_NOT_FOUND", "not a member"),
        },
    };
    let m = match g.member_mut(id) {
        Some(m) => m,
        None => {
            g.members.push(Member {
                identity_id: id.to_string(),
                username: ident.username.clone(),
                role: next.1,
                status: next.0,
                updated: now(),
                membership_fields: Map::new(),
            });
            g.members.last_mut().expect("just pushed")
        }
    };
    (m.status, m.role, m.updated) = (next.0, next.1, now());
    Ok(m.clone())
}

pub(super) async fn batch(
    State(s): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
    AuthJson(body): AuthJson<Map<String, Value>>,
) -> GResult<Response> {
    let (_, person) = groups_caller(&s, &headers).await?;
    let mut plan: Vec<(&str, Action, Vec<Target>)> = vec![];
    let mut count = 0;
    for (key, v) in &body {
        let Some((name, action)) = Action::ALL.iter().find(|(n, _)| n == key) else {
            return Err(auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("unknown action {key:?}")));
        };
        let targets: Vec<Target> = serde_json::from_value(v.clone()).map_err(|e| {
            auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("{key}: a list of {{identity_id, role}}: {e}"))
        })?;
        count += targets.len();
        plan.push((name, *action, targets));
    }
    if count > MAX_BATCH {
        return Err(auth_error(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("at most {MAX_BATCH} identities")));
    }
    let _guard = s.groups_lock.lock().await;
    let mut g = super::visible_group(&s, &id, &person).await?;
    let mut out = Map::new();
    let mut errors = Map::new();
    for (name, action, targets) in plan {
        let (mut done, mut failed) = (vec![], vec![]);
        for t in &targets {
            // Each action sees the roles as the earlier ones left them.
            let ctx = Ctx { s: &s, person: &person, role: g.role_of(&person) };
            match act(&ctx, &mut g, action, t).await {
                Ok(m) => done.push(m.doc(&g.id)),
                Err((code, detail)) => {
                    failed.push(json!({"identity_id": t.identity_id, "code": code, "detail": detail}))
                }
            }
        }
        out.insert(name.to_string(), Value::Array(done));
        if !failed.is_empty() {
            errors.insert(name.to_string(), Value::Array(failed));
        }
    }
    save(&s, &g).await?;
    out.insert("errors".into(), Value::Object(errors));
    Ok(axum::Json(Value::Object(out)).into_response())
}
