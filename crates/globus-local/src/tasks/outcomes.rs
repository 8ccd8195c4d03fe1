//! What a task did, file by file: `successful_transfers` (the files really copied — not
//! directories, not files a sync found in place, not skipped errors) and
//! `skipped_errors` (what `skip_source_errors` passed over), each paged by `marker`.

use super::api::own_task;
use super::model::*;
use crate::paths;
use crate::service::Service;
use crate::transfer::caller::{Call, TResult, terr, unavailable};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

/// Entries per page, as Transfer pages these lists.
const PAGE: usize = 1000;

/// One page of a marker-paged list: the marker is the position of the page's first entry.
fn marker_page(
    data_type: &str,
    entries: impl Iterator<Item = Value>,
    q: &HashMap<String, String>,
    res: &str,
) -> TResult<Value> {
    let marker = match q.get("marker").map(String::as_str) {
        None | Some("") => 0,
        Some(m) => m.parse::<usize>().map_err(|_| {
            terr(StatusCode::BAD_REQUEST, "ClientError.BadRequest", "marker must be one this list gave", res)
        })?,
    };
    let mut page: Vec<Value> = entries.skip(marker).take(PAGE + 1).collect();
    let more = page.len() > PAGE;
    page.truncate(PAGE);
    Ok(json!({"DATA_TYPE": data_type, "marker": marker, "next_marker": more.then_some(marker + PAGE), "DATA": page}))
}

/// The files `t` copied, in the order it copied them.
pub(crate) async fn successful(s: &Service, t: &Task, q: &HashMap<String, String>, res: &str) -> TResult<Value> {
    let plan: Vec<Planned> = if t.kind == TaskKind::Transfer && t.planned {
        s.db.get("plan", &t.task_id).await.map_err(|e| unavailable(e, res))?.unwrap_or_default()
    } else {
        vec![]
    };
    let passed: HashSet<u32> =
        t.sync_skipped.iter().copied().chain(t.skipped_errors.iter().filter_map(|e| e.index)).collect();
    let done = plan.iter().enumerate().take(t.next).filter(|(i, p)| !p.dir && !passed.contains(&(*i as u32)));
    let entries = done.map(|(_, p)| {
        json!({"DATA_TYPE": "successful_transfer", "source_path": paths::display(&p.src, false),
            "destination_path": paths::display(&p.dst, false)})
    });
    marker_page("successful_transfers", entries, q, res)
}

pub(crate) fn skipped(t: &Task, q: &HashMap<String, String>, res: &str) -> TResult<Value> {
    marker_page("skipped_errors", t.skipped_errors.iter().map(SkippedError::doc), q, res)
}

pub(super) async fn successful_transfers(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = own_task(&s, &headers, &id, &res).await?;
    Ok(axum::Json(successful(&s, &t, &q, &res).await?).into_response())
}

pub(super) async fn skipped_errors(
    Call { s, headers, res }: Call,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> TResult<Response> {
    let t = own_task(&s, &headers, &id, &res).await?;
    Ok(axum::Json(skipped(&t, &q, &res)?).into_response())
}
